package bidir_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/mysqlconn"
)

// writer commits small transactions on one region: mostly its own keys, about 5% on keys both
// regions write (conflicts), upserts and some deletes, each row stamped with the region's clock
// in ver (the last-writer-wins column). It records the GTID of every transaction it committed.
type writer struct {
	r       *region
	own     int // first key of its own range
	gtids   map[string]bool
	commits int
}

const (
	ownKeys    = 200
	sharedBase = 5001
	sharedKeys = 20
)

func (w *writer) run(ctx context.Context, seed uint64) error {
	rnd := rand.New(rand.NewPCG(seed, 7))
	for ctx.Err() == nil {
		var stmts []string
		for i := 0; i < 1+rnd.IntN(3); i++ {
			id := w.own + rnd.IntN(ownKeys)
			if rnd.IntN(100) < 5 {
				id = sharedBase + rnd.IntN(sharedKeys)
			}
			if rnd.IntN(10) == 0 {
				stmts = append(stmts, fmt.Sprintf("DELETE FROM app.t WHERE id = %d", id))
				continue
			}
			stmts = append(stmts, fmt.Sprintf("INSERT INTO app.t (id, v, ver) VALUES (%d, '%s-%d', CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED))"+
				" ON DUPLICATE KEY UPDATE v = VALUES(v), ver = VALUES(ver)", id, w.r.name, rnd.IntN(1000)))
		}
		// not ctx: a commit is followed by reading its GTID, whenever the test stops writing
		g, err := execTxn(context.Background(), w.r.inst.DB(), stmts...)
		switch {
		case err != nil && mysqlconn.Retryable(err): // a deadlock or lock wait with oms's apply
			continue
		case err != nil:
			return fmt.Errorf("writer %s: %w", w.r.name, err)
		}
		if g != "" {
			w.gtids[g] = true
			w.commits++
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond): // a steady load, not a flood
		}
	}
	return nil
}

// Writers in both regions, about 5% of their transactions on keys the other region writes too,
// and every component killed with SIGKILL in the middle of the traffic and restarted: afterwards
// both regions hold the same rows, each direction applied exactly the transactions its region's
// clients committed (0 echoes, none lost, none twice: incr_applied's primary key), and every
// conflict is recorded once with a decision that committed with its transaction.
func TestTwoWayWritersAndKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 scenario")
	}
	w := newTwoWay(t, conflict.Config{Default: conflict.Rule{Policy: conflict.LWW, Column: "ver"}, Priority: []string{"hz", "hl"}}, "hz")
	w.startAll()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writers := []*writer{{r: w.hz, own: 1, gtids: map[string]bool{}}, {r: w.hl, own: 1001, gtids: map[string]bool{}}}
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	for i, wr := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- wr.run(ctx, uint64(i+1))
		}()
	}
	// kill each component once, at random moments of the traffic, and restart it
	victims := []*proc{w.hz.incr, w.hl.store, w.hl.incr, w.hz.store}
	sure := map[*region][]string{} // GTIDs of the conflicts made for certain, by region
	for i, v := range victims {
		w.runFor(time.Duration(1500+rand.IntN(1500)) * time.Millisecond) // traffic before the next kill
		v.Kill(syscall.SIGKILL)
		t.Logf("killed %s", v.task)
		if v == w.hz.incr || v == w.hl.incr {
			// While a direction is down, both regions write the same new key: a conflict for
			// certain, whatever the timing of the random traffic (which may make none).
			id := sharedBase + sharedKeys + i
			order := []*region{w.hz, w.hl} // the stopped direction's source first: its row stays there
			if v == w.hl.incr {
				order = []*region{w.hl, w.hz}
			}
			for _, r := range order {
				g, err := execTxn(context.Background(), r.inst.DB(), fmt.Sprintf("INSERT INTO app.t (id, v, ver) VALUES (%d, '%s-sure', CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED))", id, r.name))
				if err != nil {
					t.Fatal(err)
				}
				sure[r] = append(sure[r], g)
			}
		}
		v.Start()
	}
	w.runFor(2 * time.Second) // traffic after the last restart
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, wr := range writers {
		for _, g := range sure[wr.r] {
			wr.gtids[g] = true
			wr.commits++
		}
	}
	w.waitConverged(75 * time.Second)

	var conflicts int
	for i, d := range [][2]*region{{w.hz, w.hl}, {w.hl, w.hz}} {
		src, dst := d[0], d[1]
		applied := appliedGTIDs(t, src, dst)
		written := writers[i].gtids
		var extra, missing []string
		for g := range applied {
			if !written[g] {
				extra = append(extra, g)
			}
		}
		for g := range written {
			if !applied[g] {
				missing = append(missing, g)
			}
		}
		if len(extra)+len(missing) > 0 {
			t.Errorf("%s: %d transactions written in %s, %d applied; applied but not written there (echoes): %v; written but not applied: %v",
				incrTask(src, dst), len(written), src.name, len(applied), extra, missing)
		}
		rows, err := dst.inst.DB().Query("SELECT gtid, row_no, decision FROM __oms.incr_conflict WHERE task_id = ?", incrTask(src, dst))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var g, dec string
			var n int
			if err := rows.Scan(&g, &n, &dec); err != nil {
				t.Fatal(err)
			}
			conflicts++
			if !applied[g] || dec == string(conflict.DecideStop) {
				t.Errorf("conflict %s row %d (%s) of %s is not part of an applied transaction", g, n, dec, incrTask(src, dst))
			}
		}
		rows.Close()
		t.Logf("%s: %d transactions applied exactly once", incrTask(src, dst), len(applied))
	}
	if conflicts == 0 {
		t.Error("no conflict was detected although both regions wrote the shared keys")
	}
	t.Logf("%d + %d commits, %d conflicts, 0 echoes, regions equal", writers[0].commits, writers[1].commits, conflicts)
}

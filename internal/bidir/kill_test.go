package bidir_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
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

// killPlan is how long the writers run and how components are killed meanwhile.
type killPlan struct {
	// rounds of kills: each round kills every component once, in a random order, at random
	// moments (gap apart); writing goes on tail after the last restart.
	rounds   int
	gapMin   time.Duration
	gapMax   time.Duration
	tail     time.Duration
	converge time.Duration
}

// Writers in both regions, about 5% of their transactions on keys the other region writes too,
// and every component killed with SIGKILL in the middle of the traffic and restarted: afterwards
// both regions hold the same rows (the verify component finds no difference), each direction
// applied exactly the transactions its region's clients committed (0 echoes, none lost, none
// twice: incr_applied's primary key), and every conflict is recorded once with the decision
// last-writer-wins takes on its recorded images, committed with its transaction.
func TestTwoWayWritersAndKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 scenario")
	}
	twoWayWritersAndKills(t, killPlan{rounds: 1, gapMin: 1500 * time.Millisecond, gapMax: 3 * time.Second, tail: 2 * time.Second, converge: 75 * time.Second})
}

// The same for a few minutes (OMS_LONG=1; OMS_LONG_ROUNDS kill rounds, default 5: about 3
// minutes of writing, 20 kills): the "done when" run of two-way sync.
func TestTwoWayWritersAndKillsLong(t *testing.T) {
	if os.Getenv("OMS_LONG") != "1" {
		t.Skip("a few minutes: set OMS_LONG=1")
	}
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("OMS_LONG_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	twoWayWritersAndKills(t, killPlan{rounds: rounds, gapMin: 4 * time.Second, gapMax: 14 * time.Second, tail: 10 * time.Second, converge: 5 * time.Minute})
}

func twoWayWritersAndKills(t *testing.T, plan killPlan) {
	cfg := conflict.Config{Default: conflict.Rule{Policy: conflict.LWW, Column: "ver"}, Priority: []string{"hz", "hl"}}
	w := newTwoWay(t, cfg, "hz")
	w.startAll()
	began := time.Now()
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
	sure := map[*region][]string{} // GTIDs of the conflicts made for certain, by region
	kills := map[string]int{}
	echoes := map[string]float64{} // echo_dropped_total of each Store's runs that ended in a kill
	n := 0
	for range plan.rounds {
		victims := []*proc{w.hz.incr, w.hl.store, w.hl.incr, w.hz.store}
		rand.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
		for _, v := range victims {
			w.runFor(plan.gapMin + rand.N(plan.gapMax-plan.gapMin)) // traffic before the next kill
			if st, ok := v.Status(); ok && (v == w.hz.store || v == w.hl.store) {
				echoes[v.task] += st.Metrics["echo_dropped_total"]
			}
			v.Kill(syscall.SIGKILL)
			kills[v.task]++
			t.Logf("killed %s", v.task)
			if v == w.hz.incr || v == w.hl.incr {
				// While a direction is down, both regions write the same new key: a conflict for
				// certain, whatever the timing of the random traffic (which may make none).
				id := sharedBase + sharedKeys + n
				n++
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
	}
	w.runFor(plan.tail) // traffic after the last restart
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	writing := time.Since(began)
	for _, wr := range writers {
		for _, g := range sure[wr.r] {
			wr.gtids[g] = true
			wr.commits++
		}
	}
	w.waitConverged(plan.converge)
	for _, r := range w.regions() {
		if st, ok := r.store.Status(); ok {
			echoes[r.store.task] += st.Metrics["echo_dropped_total"]
		}
	}

	byOutcome := map[string]int{}
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
		for _, c := range recordedConflicts(t, src, dst) {
			conflicts++
			byOutcome[incrTask(src, dst)+" "+c.kind+" "+c.decision]++
			if !applied[c.gtid] || c.decision == string(conflict.DecideStop) {
				t.Errorf("conflict %s row %d (%s) of %s is not part of an applied transaction", c.gtid, c.row, c.decision, incrTask(src, dst))
			}
			if want := c.lwwDecision(t, cfg); string(want) != c.decision {
				t.Errorf("conflict %s row %d of %s (%s, source %s, target %s): decided %s, last-writer-wins says %s",
					c.gtid, c.row, incrTask(src, dst), c.kind, c.source.String, c.target.String, c.decision, want)
			}
		}
		t.Logf("%s: %d transactions applied exactly once, 0 echoes", incrTask(src, dst), len(applied))
	}
	if conflicts == 0 {
		t.Error("no conflict was detected although both regions wrote the shared keys")
	}
	rep := verifyRegions(t, w)
	t.Logf("%s of writing: %d (hz) + %d (hl) commits; kills %v; echoes dropped by the Stores %v (0 applied); %d conflicts %v; verify: %d rows compared, %d different, %d only in hz, %d only in hl",
		writing.Round(time.Second), writers[0].commits, writers[1].commits, kills, echoes, conflicts, byOutcome,
		rep.Compared, rep.Different, rep.OnlyInSource, rep.OnlyInTarget)
}

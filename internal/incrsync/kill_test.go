package incrsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/store"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// startTestStore runs a Store in-process on the source from the given GTID set.
func startTestStore(t *testing.T, src *testenv.Instance, from string, heartbeat bool) *store.Store {
	t.Helper()
	cfg := store.Config{
		Source:    store.SourceConfig{Config: mysqlconn.Config{Host: "127.0.0.1", Port: src.Port, User: "root"}},
		Start:     store.StartConfig{GTIDSet: from},
		Listen:    "127.0.0.1:0",
		Heartbeat: heartbeat,
	}
	if from == "" { // a source without GTIDs yet: from its first binlog file ("" would mean now)
		var file string
		var size any
		if err := src.DB().QueryRow("SHOW BINARY LOGS").Scan(&file, &size); err != nil {
			t.Fatal(err)
		}
		cfg.Start = store.StartConfig{File: file, Pos: 4}
	}
	st, err := store.NewWithConfig(component.Spec{Kind: store.Kind, TaskID: "st-" + t.Name(), WorkDir: t.TempDir()}, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartUnit(t, st)
	return st
}

// appliedGTIDs is the audit of applied transactions (incr_applied, primary key task + GTID: a
// transaction applied twice would have failed its target transaction).
func appliedGTIDs(t *testing.T, p *pair, task string) []string {
	t.Helper()
	rows, err := p.dst.DB().Query("SELECT gtid FROM __oms.incr_applied WHERE task_id = ?", task)
	if err != nil {
		if strings.Contains(err.Error(), "doesn't exist") {
			return nil
		}
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// sourceGTIDs reads the source binlog from..to and returns the GTIDs of the transactions that
// change tables or run DDL in database db: what must be applied exactly once.
func sourceGTIDs(t *testing.T, p *pair, from, to, db string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, err := captureSource(p.src)(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	end := binlog.MustParseGTIDSet("mariadb", to)
	var out []string
	seen := binlog.MustParseGTIDSet("mariadb", from)
	for !seen.ContainsSet(end) {
		txn, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("read source binlog: %v", err)
		}
		if txn.GTID == "" {
			continue
		}
		_ = seen.Add(txn.GTID)
		mine := txn.DDL != nil && (txn.DDL.DB == db || strings.Contains(txn.DDL.Statement, "`"+db+"`"))
		for _, r := range txn.Rows {
			mine = mine || r.Table.DB == db
		}
		if mine {
			out = append(out, txn.GTID)
		}
	}
	sort.Strings(out)
	return out
}

// killRepeatedly starts the real binary kills times; each run, once it applied something (the
// audit table grew), runs a random moment more and is killed with SIGKILL; after each kill
// check runs.
func killRepeatedly(t *testing.T, proc *scenario.ComponentProcess, p *pair, task string, kills int, check func(kill int)) {
	t.Helper()
	for k := 0; k < kills; k++ {
		before := len(appliedGTIDs(t, p, task))
		proc.Start()
		deadline := time.Now().Add(30 * time.Second)
		for len(appliedGTIDs(t, p, task)) <= before {
			if time.Now().After(deadline) {
				t.Fatalf("run %d applied nothing in 30 s; log:\n%s", k+1, proc.LogTail())
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
		time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond) // let it run: the kill lands mid-stream
		proc.Kill(syscall.SIGKILL)
		t.Logf("kill %d: %d transactions applied so far", k+1, len(appliedGTIDs(t, p, task)))
		check(k + 1)
	}
}

// TestKill9DuringWorkload: the real binary applies a live concurrent workload (hot keys, unique
// swaps, key changes) from a real Store and is killed with SIGKILL every few seconds, restarted
// each time. At the end the target equals the source row by row, and the audit table holds
// every source transaction of the database exactly once: none skipped, none applied twice.
func TestKill9DuringWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 scenario")
	}
	p := newPair(t)
	w := seedHot(t, p.src.DB(), p.db)
	st := startTestStore(t, p.src, p.start, false)
	task := fmt.Sprintf("kill-%d", taskSeq.Add(1))
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	cfg.RecordApplied = true
	proc := scenario.NewComponentProcess(t, Kind, task, cfg)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var commits atomic.Int64
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 11))
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond): // a steady load, not a flood
				}
				if err := w.txn(context.Background(), r); err != nil && !workloadRetry(err) {
					errs <- err
					return
				}
				commits.Add(1)
			}
		}(uint64(i + 100))
	}
	haltWorkload := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer haltWorkload()

	const kills = 5
	killRepeatedly(t, proc, p, task, kills, func(int) {})
	haltWorkload()
	select {
	case err := <-errs:
		t.Fatalf("workload: %v", err)
	default:
	}
	end := gtidPos(t, p.src)
	want := binlog.MustParseGTIDSet("mariadb", end)
	proc.Start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, ok := proc.Status()
		if ok && s.Error != nil {
			t.Fatalf("incr-sync failed: %+v\n%s", s.Error, proc.LogTail())
		}
		if ok && s.Position != "" && binlog.MustParseGTIDSet("mariadb", s.Position).ContainsSet(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not catch up with %s within 60 s: %+v\n%s", end, s, proc.LogTail())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	proc.Kill(syscall.SIGTERM)
	for _, tb := range []string{"h1", "h2"} {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
	got, exp := appliedGTIDs(t, p, task), sourceGTIDs(t, p, p.start, end, p.db)
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("applied transactions differ from the source's: %d applied, %d in the source\n%s", len(got), len(exp), testenv.RowDiff(exp, got))
	}
	t.Logf("%d workload transactions, %d source transactions applied exactly once across %d kills", commits.Load(), len(got), kills)
}

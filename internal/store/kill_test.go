package store

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestKill9UnderWrites kills the real store process three times while a workload writes, then
// checks that the log holds every source transaction exactly once, in order, with equal rows.
func TestKill9UnderWrites(t *testing.T) {
	inst := testenv.StartMariaDB(t)
	testenv.OMSBinary(t) // built before the workload's clock starts
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	if _, err := inst.DB().ExecContext(ctx, "CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY, n BIGINT, s VARCHAR(40))"); err != nil {
		t.Fatal(err)
	}
	start := gtidNow(t, inst)
	proc := scenario.NewComponentProcess(t, Kind, "kill9", Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start},
		SegmentBytes: 64 << 10, Listen: "127.0.0.1:0"})
	workDir := proc.Dir

	// Workload: small transactions of inserts, updates and deletes until stopped.
	wctx, stopWrites := context.WithCancel(ctx)
	var wg errgroup.Group
	wg.Go(func() error {
		rng := rand.New(rand.NewSource(1))
		for id := 1; wctx.Err() == nil; id++ {
			tx, err := inst.DB().BeginTx(wctx, nil)
			if err != nil {
				return nil
			}
			_, err = tx.Exec("INSERT INTO k.t VALUES (?, ?, ?)", id, rng.Int63(), fmt.Sprint("row ", id))
			if err == nil && id > 5 {
				_, err = tx.Exec("UPDATE k.t SET n = n + 1 WHERE id = ?", id-3)
			}
			if err == nil && id%7 == 0 {
				_, err = tx.Exec("DELETE FROM k.t WHERE id = ?", id-5)
			}
			if err != nil {
				_ = tx.Rollback()
				if wctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := tx.Commit(); err != nil && wctx.Err() == nil {
				return err
			}
		}
		return nil
	})

	var lastSeq float64
	for round := 0; round < 3; round++ {
		proc.Start()
		floor := lastSeq
		st := proc.WaitStatus(60*time.Second, "capture progress", func(s component.Status) bool { return s.Metrics["captured_seq"] > floor+200 })
		lastSeq = st.Metrics["captured_seq"]
		proc.Kill(syscall.SIGKILL)
	}
	stopWrites()
	if err := wg.Wait(); err != nil {
		t.Fatal(err)
	}
	final := gtidNow(t, inst)
	finalSet := binlog.MustParseGTIDSet("mariadb", final)
	proc.Start()
	proc.WaitStatus(60*time.Second, "catch up to "+final, func(s component.Status) bool {
		pos, err := binlog.ParseGTIDSet("mariadb", s.Position)
		return err == nil && pos.ContainsSet(finalSet)
	})

	// Reference: the source's binlog decoded directly.
	ref, err := binlog.Open(ctx, binlog.SourceConfig{Conn: mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}, ServerID: 77777, Flavor: "mariadb"},
		binlog.Start{GTIDSet: ptr(binlog.MustParseGTIDSet("mariadb", start))}, schema.NewTracker(inst.DB()))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var want []*changelog.Txn
	seen := binlog.MustParseGTIDSet("mariadb", start)
	for !seen.ContainsSet(finalSet) {
		txn, err := ref.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !txn.Heartbeat {
			want = append(want, txn)
			_ = seen.Add(txn.GTID)
		}
	}
	addr, _ := os.ReadFile(filepath.Join(workDir, "store.addr"))
	r, err := Dial(ctx, string(addr), ReadRequest{ConsumerID: "verify", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readN(t, ctx, r, len(want))
	for i := range want {
		w, g := want[i], got[i]
		if w.GTID != g.GTID || w.File != g.File || w.Pos != g.Pos || g.Seq != uint64(i+1) || len(w.Rows) != len(g.Rows) {
			t.Fatalf("txn %d: store has %s %s:%d seq %d (%d rows), source %s %s:%d (%d rows)", i, g.GTID, g.File, g.Pos, g.Seq, len(g.Rows), w.GTID, w.File, w.Pos, len(w.Rows))
		}
		for j := range w.Rows {
			if w.Rows[j].Op != g.Rows[j].Op || !reflect.DeepEqual(w.Rows[j].Before, g.Rows[j].Before) || !reflect.DeepEqual(w.Rows[j].After, g.Rows[j].After) {
				t.Fatalf("txn %d row %d differs: store %+v source %+v", i, j, g.Rows[j], w.Rows[j])
			}
		}
	}
	// Nothing more than the source has: the next item is a heartbeat.
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if extra, err := r.Next(hctx); err != nil || !extra.Heartbeat {
		t.Fatalf("after %d txns the store sent %+v, %v; want a heartbeat", len(want), extra, err)
	}
	segs, _ := listSegments(filepath.Join(workDir, "segments"))
	t.Logf("%d transactions across 3 kills, %d segments", len(want), len(segs))
}

func ptr[T any](v T) *T { return &v }

package incrsync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
)

// TestSchedulerDrainsBeforeFailure: after a transaction fails, the transactions that arrived
// before it are still handed out (also when they become ready only later), nothing after it
// is, and take returns the failure once the prefix is applied.
func TestSchedulerDrainsBeforeFailure(t *testing.T) {
	lw, err := binlog.NewGTIDSet("mariadb")
	if err != nil {
		t.Fatal(err)
	}
	s := newScheduler(2, 100, 1000, 1, false, lw, nil) // one transaction a batch: no merging
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	add := func(gtid string, keys ...string) {
		t.Helper()
		if err := s.add(ctx, &mtxn{gtid: gtid, rows: make([]mrow, 1)}, keys); err != nil {
			t.Fatal(err)
		}
	}
	add("0-1-1", "a")          // idx 0
	add("0-1-2", "a")          // idx 1: waits for idx 0
	add("0-1-3", "b")          // idx 2: fails
	add("0-1-4", "c")          // idx 3: after the failure, never started
	first, _ := s.take(ctx, 0) // idx 0
	failing, _ := s.take(ctx, 1)
	if first.nodes[0].t.gtid != "0-1-1" || failing.nodes[0].t.gtid != "0-1-3" {
		t.Fatalf("took %s and %s", first.nodes[0].t.gtid, failing.nodes[0].t.gtid)
	}
	boom := errors.New("boom")
	s.fail(minIdx(failing.nodes), boom)
	if err := s.add(ctx, &mtxn{gtid: "0-1-5"}, []string{"d"}); !errors.Is(err, boom) {
		t.Fatalf("add after the failure: %v", err)
	}
	s.commit(first)
	next, err := s.take(ctx, 0)
	if err != nil || next.nodes[0].t.gtid != "0-1-2" {
		t.Fatalf("the transaction before the failure is not handed out: %v %v", next, err)
	}
	s.commit(next)
	if b, err := s.take(ctx, 0); !errors.Is(err, boom) {
		t.Fatalf("after the drain take returned %v, %v; want the failure", b, err)
	}
	if lw := s.snapshot().lw; lw != "0-1-2" {
		t.Fatalf("watermark %q, want 0-1-2", lw)
	}
	// an earlier failure replaces a later one
	s.fail(0, context.DeadlineExceeded)
	if !errors.Is(s.failure(), context.DeadlineExceeded) {
		t.Fatalf("failure %v", s.failure())
	}
}

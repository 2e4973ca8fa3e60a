package incrsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
)

// otxn is one transaction of an ordered-mode table test.
type otxn struct {
	gtid string
	keys []string
	rows int
	kind nodeKind
	idem bool
}

func orderedScheduler(t *testing.T, maxRows, maxTxns int, txns []otxn) *scheduler {
	t.Helper()
	lw, err := binlog.NewGTIDSet("mariadb")
	if err != nil {
		t.Fatal(err)
	}
	s := newScheduler(4, 1000, maxRows, maxTxns, true, lw, nil)
	ctx := context.Background()
	for _, x := range txns {
		rows := x.rows
		if rows == 0 && x.kind == nodeRows {
			rows = 1
		}
		mt := &mtxn{gtid: x.gtid, rows: make([]mrow, rows), idempotent: x.idem}
		if err := s.enqueue(ctx, mt, x.keys, x.kind); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func gtids(b *batch) string {
	var out []string
	for _, n := range b.nodes {
		out = append(out, n.t.gtid)
	}
	return strings.Join(out, " ")
}

// TestOrderedGroups: groups are runs of consecutive transactions in log order, up to the
// limits, a barrier alone, never mixing idempotent and strict ones; transactions that need no
// apply are passed over.
func TestOrderedGroups(t *testing.T) {
	rows := func(g string, n int) otxn { return otxn{gtid: g, rows: n} }
	cases := []struct {
		name             string
		maxRows, maxTxns int
		txns             []otxn
		want             []string
	}{
		{"txn limit", 100, 2, []otxn{rows("1", 1), rows("2", 1), rows("3", 1), rows("4", 1), rows("5", 1)},
			[]string{"1 2", "3 4", "5"}},
		{"row limit: a group ends before the transaction that would pass it", 10, 100,
			[]otxn{rows("1", 4), rows("2", 4), rows("3", 4), rows("4", 12), rows("5", 1)},
			[]string{"1 2", "3", "4", "5"}},
		{"barrier alone", 100, 100,
			[]otxn{rows("1", 1), rows("2", 1), {gtid: "3", kind: nodeBarrier}, rows("4", 1)},
			[]string{"1 2", "3", "4"}},
		{"skipped transactions are passed over, not grouped", 100, 2,
			[]otxn{{gtid: "1", kind: nodeSkip}, rows("2", 1), {gtid: "3", kind: nodeSkip}, rows("4", 1), rows("5", 1)},
			[]string{"2 4", "5"}},
		{"idempotent and strict apart", 100, 100,
			[]otxn{{gtid: "1", rows: 1, idem: true}, {gtid: "2", rows: 1, idem: true}, rows("3", 1), rows("4", 1)},
			[]string{"1 2", "3 4"}},
		{"conflicting transactions share a group", 100, 100,
			[]otxn{{gtid: "1", keys: []string{"a"}, rows: 1}, {gtid: "2", keys: []string{"a"}, rows: 1}},
			[]string{"1 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := orderedScheduler(t, c.maxRows, c.maxTxns, c.txns)
			var got []string
			s.mu.Lock()
			for b := s.groupLocked(0); b != nil; b = s.groupLocked(0) {
				got = append(got, gtids(b))
			}
			s.mu.Unlock()
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("groups %q, want %q", got, c.want)
			}
		})
	}
}

// TestOrderedSplitLate: a group's transactions that depend on an uncommitted earlier group,
// or on a late one of the group, are late; the others are written first.
func TestOrderedSplitLate(t *testing.T) {
	s := orderedScheduler(t, 10, 100, []otxn{
		{gtid: "A", keys: []string{"a"}, rows: 10}, // a group of its own (row limit)
		{gtid: "B", keys: []string{"a"}},           // depends on A: late
		{gtid: "C", keys: []string{"b"}},           // early
		{gtid: "G", keys: []string{"b", "a"}},      // after C (early) and B (late): late
		{gtid: "D", keys: []string{"c"}},           // early
		{gtid: "F", keys: []string{"a", "d"}},      // after G: late
		{gtid: "H", keys: []string{"d2", "c"}},     // after D: early
	})
	ctx := context.Background()
	g1, _ := s.take(ctx, 0)
	g2, _ := s.take(ctx, 1)
	if gtids(g1) != "A" || gtids(g2) != "B C G D F H" {
		t.Fatalf("groups %q %q", gtids(g1), gtids(g2))
	}
	early, late := s.splitLate(g2)
	if e, l := gtids(&batch{nodes: early}), gtids(&batch{nodes: late}); e != "C D H" || l != "B G F" {
		t.Fatalf("early %q late %q, want early \"C D H\" late \"B G F\"", e, l)
	}
	s.commit(g1)
	if early, late := s.splitLate(g2); len(late) != 0 || len(early) != 6 {
		t.Fatalf("after A committed: %d early, %d late; want all early", len(early), len(late))
	}
}

// blocked reports whether f blocks (it is given a context that ends soon): f cannot return
// nil early, so a timeout means it waited.
func blocked(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return fmt.Errorf("did not block: %v", err)
}

// TestOrderedCommitTurn: a group waits for the groups it depends on before it executes, and
// for every earlier group before it commits; its checkpoint covers everything through its last
// transaction; a waiter yields to a head that executes too long, not to one that commits; after
// a failure the later groups are abandoned.
func TestOrderedCommitTurn(t *testing.T) {
	s := orderedScheduler(t, 100, 1, []otxn{
		{gtid: "0-1-1", keys: []string{"a"}},
		{gtid: "0-1-2", kind: nodeSkip},
		{gtid: "0-1-3", keys: []string{"b"}},
		{gtid: "0-1-4", keys: []string{"a"}},
		{gtid: "0-1-5", keys: []string{"c"}},
	})
	ctx := context.Background()
	g1, _ := s.take(ctx, 0)
	g2, _ := s.take(ctx, 1)
	if gtids(g1) != "0-1-1" || gtids(g2) != "0-1-3" {
		t.Fatalf("took %q and %q", gtids(g1), gtids(g2))
	}
	// 0-1-4 shares key a with the uncommitted 0-1-1: handed out, but all of it is late and
	// waits for that commit
	g3, err := s.take(ctx, 2)
	if err != nil || gtids(g3) != "0-1-4" {
		t.Fatalf("third group %v %v", g3, err)
	}
	if early, late := s.splitLate(g3); len(early) != 0 || len(late) != 1 {
		t.Fatalf("third group split %d early, %d late; want all late", len(early), len(late))
	}
	if err := blocked(func(ctx context.Context) error { return s.waitDeps(ctx, g3, false) }); err != nil {
		t.Fatalf("the late part of a group depending on an uncommitted one: %v", err)
	}
	if err := blocked(func(ctx context.Context) error { return s.waitTurn(ctx, g2, false) }); err != nil {
		t.Fatalf("the second group's turn before the first committed: %v", err)
	}
	if c := s.checkpointFor(g2, true); c.lw != "0-1-3" || len(c.applied) != 0 {
		t.Fatalf("checkpoint of the second group %+v, want watermark 0-1-3", c)
	}
	// a head executing for longer than yieldAfter: the waiter yields; committing: it waits
	s.mu.Lock()
	s.headSince = time.Now().Add(-2 * yieldAfter)
	s.mu.Unlock()
	if err := s.waitTurn(ctx, g2, true); !errors.Is(err, errYield) {
		t.Fatalf("waiter behind a long head: %v, want errYield", err)
	}
	if err := s.waitTurn(ctx, g1, true); err != nil {
		t.Fatalf("head's turn: %v", err)
	}
	if err := blocked(func(ctx context.Context) error { return s.waitTurn(ctx, g2, true) }); err != nil {
		t.Fatalf("waiter behind a committing head: %v", err)
	}
	s.commit(g1)
	if err := s.waitDeps(ctx, g3, true); err != nil {
		t.Fatalf("the late part once its dependency committed: %v", err)
	}
	if err := s.waitTurn(ctx, g2, true); err != nil {
		t.Fatalf("second group's turn after the first committed: %v", err)
	}
	s.commit(g2)
	if snap := s.snapshot(); snap.lw != "0-1-3" || snap.durable != "0-1-3" || snap.yields != 1 {
		t.Fatalf("after two groups: %+v", snap)
	}
	g4, _ := s.take(ctx, 3)
	boom := errors.New("boom")
	s.fail(minIdx(g3.nodes), boom)
	if err := s.waitTurn(ctx, g4, true); !errors.Is(err, errAbandoned) {
		t.Fatalf("group after a failed one: %v, want errAbandoned", err)
	}
	if _, err := s.take(ctx, 0); !errors.Is(err, boom) {
		t.Fatalf("take after the failure: %v", err)
	}
}

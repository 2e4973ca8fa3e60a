package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/changelog"
)

// appendRecords appends transactions seq from..to (GTIDs 0-1-seq) as one group write.
func appendRecords(t *testing.T, l *Log, from, to int) {
	t.Helper()
	var recs []pendingRecord
	for i := from; i <= to; i++ {
		txn := &changelog.Txn{GTID: fmt.Sprintf("0-1-%d", i), Seq: uint64(i), CommitTime: time.Unix(int64(1000+i), 0)}
		p, err := appendTxn(nil, txn)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, pendingRecord{payload: p, meta: recordMeta{seq: uint64(i), gtid: txn.GTID, time: txn.CommitTime.Unix()}})
	}
	if err := l.Append(recs); err != nil {
		t.Fatal(err)
	}
}

// durableAt names the group write that made a record durable: the start of its sent hop.
func TestDurableAt(t *testing.T) {
	l, err := OpenLog(t.TempDir(), "mariadb", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, ok := l.durableAt(1); ok {
		t.Fatal("durableAt of an empty log")
	}
	appendRecords(t, l, 1, 3)
	first, ok := l.durableAt(2)
	if !ok {
		t.Fatal("record 2 has no durable time")
	}
	appendRecords(t, l, 4, 5)
	for seq, want := range map[uint64]bool{1: true, 3: true, 4: false, 5: false} {
		at, ok := l.durableAt(seq)
		if !ok || at.Equal(first) != want {
			t.Errorf("durableAt(%d) = %v %v, want the first write's time: %v", seq, at, ok, want)
		}
	}
	if _, ok := l.durableAt(6); ok {
		t.Error("durableAt of a record not written yet")
	}
	for i := 0; i < durableMarks; i++ {
		appendRecords(t, l, 6+i, 6+i)
	}
	if _, ok := l.durableAt(3); ok {
		t.Error("durableAt of a record older than the marks")
	}
	if _, ok := l.durableAt(uint64(5 + durableMarks)); !ok {
		t.Error("durableAt of the last record")
	}
}

// The Store's collectors register (a nil one would panic the component's /metrics).
func TestStoreCollectors(t *testing.T) {
	s := &Store{ins: newInstruments()}
	prometheus.NewRegistry().MustRegister(s.Collectors()...)
}

// An idle stream sends a record as soon as it is durable: it waits on the log, not for its
// heartbeat timer (made an hour here, so a missed wake-up fails the test instead of costing a
// second of lag), and the sent hop is measured from the durable time.
func TestStreamWakesWhenDurable(t *testing.T) {
	defer func(d time.Duration) { heartbeatEvery = d }(heartbeatEvery)
	heartbeatEvery = time.Hour
	l, srv := newTestServer(t)
	srv.ins = newInstruments()
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- srv.Serve(sctx) }()
	defer func() { stop(); <-served }()
	r, err := Dial(ctx, srv.Addr(), ReadRequest{ConsumerID: "c", Flavor: "mariadb"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 1; i <= 20; i++ {
		appendRecords(t, l, i, i)
		txn, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("record %d: %v (the stream did not wake up)", i, err)
		}
		if want := fmt.Sprintf("0-1-%d", i); txn.GTID != want || txn.Heartbeat {
			t.Fatalf("got %+v, want %s", txn, want)
		}
		if txn.Received.IsZero() {
			t.Fatal("the reader did not stamp when it received the record")
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(srv.ins.hops)
	sent := func() uint64 {
		mfs, _ := reg.Gather()
		var n uint64
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
		return n
	}
	// the server observes a frame after flushing it: the last one may be counted just after
	// the reader has it
	for deadline := time.Now().Add(10 * time.Second); sent() < 20 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if n := sent(); n != 20 {
		t.Errorf("sent hop observed %d times, want 20 (one per frame)", n)
	}
}

// newTestServer is a Server on an empty log of its own (closed when the test ends).
func newTestServer(t *testing.T) (*Log, *Server) {
	t.Helper()
	dir := t.TempDir()
	l, err := OpenLog(dir, "mariadb", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	cons, err := OpenConsumers(dir, "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	return l, NewServer(l, cons, testLogger(), func() int64 { return 0 })
}

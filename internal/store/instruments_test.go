package store

import (
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

package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// TestRetentionHonoursConsumers: retention by bytes keeps what a registered consumer has not
// acknowledged; once acknowledged it goes; a consumer asking for purged data gets the purged
// error; past the hard maximum data goes anyway and is counted.
func TestRetentionHonoursConsumers(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "ret")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}, SegmentBytes: 16 << 10}, t.TempDir())
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY, b VARBINARY(4000))", db)); err != nil {
		t.Fatal(err)
	}
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "slow", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 1; i <= 40; i++ {
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.t VALUES (?, REPEAT('x', 3000))", db), i); err != nil {
			t.Fatal(err)
		}
	}
	txns := readN(t, ctx, r, 41)
	segsBefore := len(st.log.segs)
	if segsBefore < 5 {
		t.Fatalf("only %d segments", segsBefore)
	}
	policy := RetentionPolicy{Bytes: 1} // wants everything gone
	removed, forced, err := st.log.Purge(policy, st.cons, testLogger(), time.Now())
	if err != nil || removed != 0 || forced != 0 {
		t.Fatalf("purge with an unacknowledging consumer removed %d (forced %d), err %v", removed, forced, err)
	}
	// The consumer acknowledges the first 20 transactions: the segments wholly inside go.
	ack := binlog.MustParseGTIDSet("mariadb", start)
	for _, x := range txns[:21] {
		_ = ack.Add(x.GTID)
	}
	if err := r.Ack(ctx, ack.String()); err != nil {
		t.Fatal(err)
	}
	removed, _, err = st.log.Purge(policy, st.cons, testLogger(), time.Now())
	if err != nil || removed == 0 {
		t.Fatalf("purge after ack removed %d, err %v", removed, err)
	}
	if purged := st.log.Purged(); !ack.ContainsSet(purged) {
		t.Fatalf("purged %s beyond the ack %s", purged, ack)
	}
	// Every unacknowledged transaction is still readable by the slow consumer.
	r2, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "slow", From: ack.String()})
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ctx, r2, 20); got[0].GTID != txns[21].GTID {
		t.Fatalf("after ack the stream starts at %s, want %s", got[0].GTID, txns[21].GTID)
	}
	r2.Close()
	// A new consumer from the start asks for purged data.
	if _, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "late", From: start}); omserr.CodeOf(err) != omserr.StorePositionPurged {
		t.Fatalf("dial from a purged position: %v", err)
	}
	// Hard maximum: data goes although "slow" has not read it, and it is counted.
	removed, forced, err = st.log.Purge(RetentionPolicy{Bytes: 1, MaxBytes: 1}, st.cons, testLogger(), time.Now())
	if err != nil || forced == 0 || removed != forced {
		t.Fatalf("hard max purge removed %d forced %d err %v", removed, forced, err)
	}
	if _, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "slow", From: ack.String()}); omserr.CodeOf(err) != omserr.StorePositionPurged {
		t.Fatalf("dial behind a forced purge: %v", err)
	}
}

// TestLogTornTail appends records, simulates a torn write and checks reopen truncates it and
// appends continue with no gap and no duplicate.
func TestLogTornTail(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, "mariadb", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, l, 1, 10)
	if _, err := OpenLog(dir, "mariadb", 1<<20); omserr.CodeOf(err) != omserr.StoreDirLocked {
		t.Fatalf("second open of a log in use: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn, _ := appendTxn(nil, &changelog.Txn{GTID: "0-1-11", Seq: 11})
	_, _ = f.Write([]byte{byte(len(torn)), 0, 0, 0, 1, 2, 3, 4})
	_, _ = f.Write(torn[:len(torn)/2])
	f.Close()

	l, err = OpenLog(dir, "mariadb", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if last := l.Last(); last.seq != 10 || last.gtid != "0-1-10" {
		t.Fatalf("after reopen last = %+v", last)
	}
	appendRecords(t, l, 11, 15)
	c := newCursor(l, binlog.GTIDSet{})
	raw, err := c.read(nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	txns, err := decodeRecords(newDecoder(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 15 {
		t.Fatalf("%d records", len(txns))
	}
	for i, x := range txns {
		if x.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, x.Seq)
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, filepath.Base(segs[0]))); st == nil {
		t.Fatal("segment vanished")
	}
	_ = l.Close()
}

// A kill -9 between creating a segment file and writing its header leaves it empty: reopened,
// the log writes the header and appends after it, and a reader reads every record.
func TestLogSegmentKilledBeforeHeader(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, "mariadb", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, l, 1, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, segName(4)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLog(dir, "mariadb", 1<<20); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendRecords(t, l, 4, 6)
	raw, err := newCursor(l, binlog.GTIDSet{}).read(nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	txns, err := decodeRecords(newDecoder(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 6 || txns[5].Seq != 6 {
		t.Fatalf("read %d records after the empty segment was repaired", len(txns))
	}
}

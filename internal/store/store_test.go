package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testLogger() *slog.Logger {
	if os.Getenv("STORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func sourceOf(inst *testenv.Instance) SourceConfig {
	return SourceConfig{Config: mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}}
}

// runningStore is a Store running in-process (testenv.StartUnit); the test's end stops it.
type runningStore struct {
	*Store
	*testenv.Running
}

func startStore(t *testing.T, cfg Config, workDir string) *runningStore {
	t.Helper()
	return startStoreSpec(t, component.Spec{Kind: Kind, TaskID: t.Name(), WorkDir: workDir}, cfg)
}

// startStoreSpec is startStore with a spec of the test's own (e.g. with TLS files).
func startStoreSpec(t *testing.T, spec component.Spec, cfg Config) *runningStore {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	st, err := NewWithConfig(spec, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	return &runningStore{Store: st, Running: testenv.StartUnit(t, st)}
}

func gtidNow(t *testing.T, inst *testenv.Instance) string {
	t.Helper()
	var s string
	if err := inst.DB().QueryRow("SELECT @@gtid_binlog_pos").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// readN reads n transactions (heartbeats skipped).
func readN(t *testing.T, ctx context.Context, r *Reader, n int) []*changelog.Txn {
	t.Helper()
	var out []*changelog.Txn
	for len(out) < n {
		txn, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d txns: %v", len(out), n, err)
		}
		if !txn.Heartbeat {
			out = append(out, txn)
		}
	}
	return out
}

func TestStoreCaptureAndRead(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "cap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}, SegmentMB: 1}, t.TempDir())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf(q, db), args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE `%s`.t (id INT PRIMARY KEY, v VARCHAR(20), b MEDIUMBLOB)")
	exec("CREATE TABLE `%s`.u (id INT PRIMARY KEY)")
	big := make([]byte, 200<<10) // several records per segment of 1 MB: rolls
	for i := 1; i <= 20; i++ {
		exec("INSERT INTO `%s`.t VALUES (?, ?, ?)", i, fmt.Sprint("v", i), big)
	}
	exec("UPDATE `%s`.t SET v = 'x' WHERE id <= 2")
	exec("DELETE FROM `%s`.t WHERE id = 3")
	exec("INSERT INTO `%s`.u VALUES (1)")

	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "c1", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, 25)
	if !txns[0].IsDDL() || !txns[1].IsDDL() {
		t.Fatalf("first txns not DDL: %+v", txns[:2])
	}
	for i := 2; i < 22; i++ {
		if len(txns[i].Rows) != 1 || txns[i].Rows[0].Op != changelog.OpInsert || txns[i].Rows[0].After[0] != int64(i-1) {
			t.Fatalf("txn %d: %+v", i, txns[i])
		}
	}
	if len(txns[22].Rows) != 2 || txns[22].Rows[1].Op != changelog.OpUpdate || !reflect.DeepEqual(txns[22].Rows[1].After[1], []byte("x")) {
		t.Fatalf("update txn %+v", txns[22])
	}
	for i := 1; i < len(txns); i++ {
		if txns[i].Seq != txns[i-1].Seq+1 {
			t.Fatalf("seq gap at %d: %d after %d", i, txns[i].Seq, txns[i-1].Seq)
		}
	}
	if segs, _ := listSegments(st.cfg.SegmentDir); len(segs) < 3 {
		t.Fatalf("expected rolled segments, have %d", len(segs))
	}

	// A second consumer from the middle, filtered to table u and DELETEs of t.
	mid := binlog.MustParseGTIDSet("mariadb", start)
	for _, x := range txns[:10] {
		_ = mid.Add(x.GTID)
	}
	r2, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "c2", From: mid.String(), Tables: []string{db + ".u"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got := readN(t, ctx, r2, 15)
	if got[0].GTID != txns[10].GTID || len(got[0].Rows) != 0 {
		t.Fatalf("filtered stream starts at %+v, want GTID %s with no rows", got[0], txns[10].GTID)
	}
	if last := got[14]; len(last.Rows) != 1 || last.Rows[0].Table.Name != "u" {
		t.Fatalf("filtered last txn %+v", last)
	}
	// Status shows the captured position.
	stt := st.Status()
	if stt.Position == "" || stt.Metrics["txns_total"] < 25 || stt.State != component.StateRunning {
		t.Fatalf("status %+v", stt)
	}
	if err := r.Ack(ctx, txns[24].GTID); err != nil {
		t.Fatal(err)
	}
	if code := omserr.CodeOf(r.Ack(ctx, "junk")); code != omserr.StoreBadRequest {
		t.Fatalf("bad ack code %q", code)
	}
}

// TestStartModes: a fresh store started "now", at a file position and at a time captures
// exactly the transactions after that point.
func TestStartModes(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "modes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf(q, db)); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE `%s`.t (id INT PRIMARY KEY)")
	exec("INSERT INTO `%s`.t VALUES (1)")
	var file string
	var pos uint32
	row := inst.DB().QueryRowContext(ctx, "SHOW MASTER STATUS")
	cols := make([]any, 4)
	for i := range cols {
		cols[i] = new(any)
	}
	cols[0], cols[1] = &file, &pos
	if err := row.Scan(cols...); err != nil {
		t.Fatal(err)
	}
	// Binlog timestamps have second precision: the time start is the next full second.
	startTime := time.Now().Truncate(time.Second).Add(time.Second)
	for time.Now().Before(startTime) {
		time.Sleep(10 * time.Millisecond)
	}
	exec("INSERT INTO `%s`.t VALUES (2)")
	now := startStore(t, Config{Source: sourceOf(inst)}, t.TempDir())
	atFile := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{File: file, Pos: pos}}, t.TempDir())
	atTime := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{Time: startTime.UTC().Format(time.RFC3339)}}, t.TempDir())
	exec("INSERT INTO `%s`.t VALUES (3)")
	firstID := func(st *runningStore) int64 {
		r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "m", Databases: []string{db}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			txn := readN(t, ctx, r, 1)[0]
			if len(txn.Rows) > 0 {
				return txn.Rows[0].After[0].(int64)
			}
		}
	}
	if id := firstID(now); id != 3 {
		t.Errorf("now start: first row %d, want 3", id)
	}
	if id := firstID(atFile); id != 2 {
		t.Errorf("file start: first row %d, want 2", id)
	}
	if id := firstID(atTime); id != 2 {
		t.Errorf("time start: first row %d, want 2", id)
	}
	// A DELETE-only filter sees only deletes.
	exec("DELETE FROM `%s`.t WHERE id = 1")
	r, err := Dial(ctx, now.Addr(), ReadRequest{ConsumerID: "del", Databases: []string{db}, Ops: []changelog.Op{changelog.OpDelete}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, txn := range readN(t, ctx, r, 2) {
		for _, row := range txn.Rows {
			if row.Op != changelog.OpDelete {
				t.Fatalf("filtered stream has %v", row.Op)
			}
		}
		if txn.Rows != nil && len(txn.Rows) == 1 && txn.Rows[0].Before[0] != int64(1) {
			t.Fatalf("delete of %v", txn.Rows[0].Before)
		}
	}
}

// TestStoreDDLStartedLate: the store starts after ADD and DROP COLUMN already ran; rows on both
// sides of each DDL reach the consumer with the columns of their position.
func TestStoreDDLStartedLate(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "ddl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	for _, q := range []string{
		"CREATE TABLE `%s`.t (id INT PRIMARY KEY, a VARCHAR(10), UNIQUE KEY ua (a))",
		"INSERT INTO `%s`.t VALUES (1, 'one')",
		"ALTER TABLE `%s`.t ADD COLUMN b INT NULL FIRST",
		"UPDATE `%s`.t SET b = 11 WHERE id = 1",
		"ALTER TABLE `%s`.t DROP COLUMN a",
		"DELETE FROM `%s`.t WHERE id = 1",
	} {
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf(q, db)); err != nil {
			t.Fatal(err)
		}
	}
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}}, t.TempDir())
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "ddl", From: start, Databases: []string{db}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, 6)
	cols := func(r changelog.Row) string {
		s := ""
		for _, c := range r.Table.Columns {
			s += c.Name + " "
		}
		return s
	}
	ins, upd, del := txns[1].Rows[0], txns[3].Rows[0], txns[5].Rows[0]
	// (Unique keys at a past position are not known once the live table lost them: the binlog
	// carries only the primary key.)
	if cols(ins) != "id a " || !reflect.DeepEqual(ins.After, []any{int64(1), []byte("one")}) || !reflect.DeepEqual(ins.Table.PrimaryKey, []int{0}) {
		t.Errorf("insert before ADD COLUMN: %s %#v pk %v", cols(ins), ins.After, ins.Table.PrimaryKey)
	}
	if cols(upd) != "b id a " || !reflect.DeepEqual(upd.Before, []any{nil, int64(1), []byte("one")}) || !reflect.DeepEqual(upd.After, []any{int64(11), int64(1), []byte("one")}) {
		t.Errorf("update between the DDLs: %s %#v -> %#v", cols(upd), upd.Before, upd.After)
	}
	if !reflect.DeepEqual(upd.Table.PrimaryKey, []int{1}) {
		t.Errorf("pk after ADD COLUMN FIRST: %v", upd.Table.PrimaryKey)
	}
	if cols(del) != "b id " || !reflect.DeepEqual(del.Before, []any{int64(11), int64(1)}) || len(del.Table.UniqueKeys) != 0 {
		t.Errorf("delete after DROP COLUMN: %s %#v uks %v", cols(del), del.Before, del.Table.UniqueKeys)
	}
	if !txns[2].IsDDL() || !reflect.DeepEqual(txns[2].DDL.Tables, []string{db + ".t"}) {
		t.Errorf("DDL txn %+v", txns[2])
	}
	// Caught up: no lag, metrics present.
	deadline := time.Now().Add(10 * time.Second)
	for st.Status().LagSeconds != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s := st.Status()
	if s.LagSeconds != 0 || s.Metrics["rows_total"] < 3 || s.Metrics["segment_disk_bytes"] <= 0 || s.Metrics["consumer_streams"] != 1 {
		t.Errorf("status %+v", s)
	}
}

// TestPauseResume: Run cancelled (pause) and run again resumes capture and serving on the same
// address, with no gap and no duplicate.
func TestPauseResume(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "pause")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}}, t.TempDir())
	addr := st.Addr()
	exec := func(q string) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf(q, db)); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE `%s`.t (id INT PRIMARY KEY)")
	exec("INSERT INTO `%s`.t VALUES (1)")
	waitPos := func() {
		want := gtidNow(t, inst)
		for st.Status().Position != want {
			if ctx.Err() != nil {
				t.Fatalf("store did not reach %s", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPos()
	if err := st.Pause(); !errors.Is(err, context.Canceled) {
		t.Fatalf("paused run returned %v", err)
	}
	if s := st.Status().State; s != component.StatePaused {
		t.Fatalf("state after pause %s", s)
	}
	exec("INSERT INTO `%s`.t VALUES (2)")
	st.Resume()
	waitPos()
	if st.Addr() != addr {
		t.Fatalf("resumed on %s, was %s", st.Addr(), addr)
	}
	r, err := Dial(ctx, addr, ReadRequest{ConsumerID: "p", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, 3)
	if txns[1].Rows[0].After[0] != int64(1) || txns[2].Rows[0].After[0] != int64(2) || txns[2].Seq != 3 {
		t.Fatalf("after resume: %+v %+v", txns[1], txns[2])
	}
}

// TestCaptureReconnect: the source kills the store's binlog dump connection in the middle of a
// write stream; the store reconnects after its last whole transaction: no gap, no duplicate.
func TestCaptureReconnect(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "reconn")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}}, t.TempDir())
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY)", db)); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 1; i <= n; i++ {
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.t VALUES (%d)", db, i)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 50 {
			// Kill every binlog dump thread (ours; the shared instance has no other replica).
			// (It may still be reconnecting after the previous kill: wait for it.)
			var ids []int64
			for deadline := time.Now().Add(15 * time.Second); len(ids) == 0; {
				rows, err := inst.DB().QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id int64
					_ = rows.Scan(&id)
					ids = append(ids, id)
				}
				rows.Close()
				if time.Now().After(deadline) {
					t.Fatal("no binlog dump thread to kill")
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, id := range ids {
				_, _ = inst.DB().ExecContext(ctx, fmt.Sprintf("KILL %d", id))
			}
		}
	}
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "rc", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, n+1)
	for i := 1; i <= n; i++ {
		if got := txns[i].Rows[0].After[0]; got != int64(i) || txns[i].Seq != uint64(i+1) {
			t.Fatalf("txn %d: row %v seq %d", i, got, txns[i].Seq)
		}
	}
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if extra, err := r.Next(hctx); err != nil || !extra.Heartbeat {
		t.Fatalf("after %d txns: %+v %v", n+1, extra, err)
	}
}

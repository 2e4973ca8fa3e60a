package binlog_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func sourceConfig(inst *testenv.Instance) binlog.SourceConfig {
	return binlog.SourceConfig{Conn: mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}, ServerID: inst.ServerID + 100000, Flavor: "mariadb"}
}

// nextTxns reads until n non-heartbeat transactions arrived.
func nextTxns(t *testing.T, ctx context.Context, c *binlog.Capture, n int) []*changelog.Txn {
	t.Helper()
	var out []*changelog.Txn
	for len(out) < n {
		txn, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("after %d txns: %v", len(out), err)
		}
		if !txn.Heartbeat {
			out = append(out, txn)
		}
	}
	return out
}

func gtidPos(t *testing.T, inst *testenv.Instance) *binlog.GTIDSet {
	t.Helper()
	var s string
	if err := inst.DB().QueryRow("SELECT @@gtid_binlog_pos").Scan(&s); err != nil {
		t.Fatal(err)
	}
	g := binlog.MustParseGTIDSet("mariadb", s)
	return &g
}

// TestCaptureColumnTypes writes every common column type and checks the decoded values exactly.
func TestCaptureColumnTypes(t *testing.T) {
	inst := testenv.Shared(t, "binlog")
	db := testenv.FreshDatabase(t, inst, "types")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, "+
		"mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, "+
		"de DECIMAL(12,4), fl FLOAT, do DOUBLE, ch CHAR(10), vc VARCHAR(50) CHARACTER SET utf8mb4, tx TEXT, bl BLOB, "+
		"da DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL, js JSON, en ENUM('a','b','c'), st SET('x','y','z'), bt BIT(10), yr YEAR, tm TIME(2), "+
		"UNIQUE KEY uk_vc (vc))", db))
	start := gtidPos(t, inst)
	exec("SET time_zone = '+00:00'")
	exec(fmt.Sprintf("INSERT INTO `%s`.t VALUES (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "+
		"-9223372036854775808, 18446744073709551615, -12345678.0120, 1.5, -2.25, 'abc', 'héllo 😀', 'long text', x'00ff10', "+
		"'2024-02-29', '2024-02-29 13:14:15.123456', '2024-01-02 03:04:05.678', '{\"a\": [1, 2]}', 'b', 'x,z', b'1010101010', 2024, '-12:34:56.78')", db))
	exec(fmt.Sprintf("INSERT INTO `%s`.t (id) VALUES (2)", db))
	exec(fmt.Sprintf("UPDATE `%s`.t SET vc = 'x' WHERE id = 2", db))
	exec(fmt.Sprintf("DELETE FROM `%s`.t WHERE id = 2", db))

	tr := schema.NewTracker(inst.DB())
	c, err := binlog.Open(ctx, sourceConfig(inst), binlog.Start{GTIDSet: start}, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	txns := nextTxns(t, ctx, c, 4)
	r := txns[0].Rows[0]
	if r.Op != changelog.OpInsert || r.Table.Name != "t" || r.Table.DB != db {
		t.Fatalf("row %+v", r)
	}
	want := []any{int64(1), int64(-128), uint64(255), int64(-32768), uint64(65535), int64(-8388608), uint64(16777215),
		int64(-2147483648), uint64(4294967295), int64(-9223372036854775808), uint64(18446744073709551615),
		"-12345678.0120", float32(1.5), float64(-2.25), []byte("abc"), []byte("héllo 😀"), []byte("long text"), []byte{0, 0xff, 0x10},
		"2024-02-29", "2024-02-29 13:14:15.123456", "2024-01-02 03:04:05.678", []byte(`{"a": [1, 2]}`), "b", "x,z", uint64(0x2aa), int64(2024), "-12:34:56.78"}
	for i, w := range want {
		if !reflect.DeepEqual(r.After[i], w) {
			t.Errorf("column %s: got %#v (%T), want %#v (%T)", r.Table.Columns[i].Name, r.After[i], r.After[i], w, w)
		}
	}
	nulls := txns[1].Rows[0].After
	for i := 1; i < len(nulls); i++ {
		if nulls[i] != nil {
			t.Errorf("column %s: got %#v, want NULL", r.Table.Columns[i].Name, nulls[i])
		}
	}
	u := txns[2].Rows[0]
	if u.Op != changelog.OpUpdate || u.Before[15] != nil || !reflect.DeepEqual(u.After[15], []byte("x")) {
		t.Fatalf("update %+v", u)
	}
	if d := txns[3].Rows[0]; d.Op != changelog.OpDelete || d.Before[0] != int64(2) || d.After != nil {
		t.Fatalf("delete %+v", d)
	}
	tb := r.Table
	if !reflect.DeepEqual(tb.PrimaryKey, []int{0}) || !reflect.DeepEqual(tb.UniqueKeys, [][]int{{15}}) {
		t.Fatalf("keys pk=%v uk=%v", tb.PrimaryKey, tb.UniqueKeys)
	}
	if tb.Columns[2].Type != "tinyint(3) unsigned" || tb.Columns[15].Charset != "utf8mb4" {
		t.Fatalf("columns %+v", tb.Columns)
	}
	for _, txn := range txns {
		if txn.GTID == "" || txn.File == "" || txn.Pos == 0 || txn.CommitTime.IsZero() {
			t.Fatalf("txn header %+v", txn)
		}
	}
}

// TestCaptureDDLMidStream: rows before and after ADD/DROP COLUMN decode with the schema of their
// position, also when the capture starts after both DDLs already ran on the source.
func TestCaptureDDLMidStream(t *testing.T) {
	inst := testenv.Shared(t, "binlog")
	db := testenv.FreshDatabase(t, inst, "ddl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidPos(t, inst)
	for _, q := range []string{
		"CREATE TABLE `%s`.t (id INT PRIMARY KEY, a VARCHAR(10))",
		"INSERT INTO `%s`.t VALUES (1, 'one')",
		"ALTER TABLE `%s`.t ADD COLUMN b INT NULL AFTER id",
		"INSERT INTO `%s`.t VALUES (2, 22, 'two')",
		"ALTER TABLE `%s`.t DROP COLUMN a",
		"INSERT INTO `%s`.t VALUES (3, 33)",
	} {
		if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf(q, db)); err != nil {
			t.Fatal(err)
		}
	}
	// The capture starts now, after every DDL: the live schema is (id, b).
	c, err := binlog.Open(ctx, sourceConfig(inst), binlog.Start{GTIDSet: start}, schema.NewTracker(inst.DB()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	txns := nextTxns(t, ctx, c, 6)
	names := func(tb *changelog.Table) []string {
		var n []string
		for _, c := range tb.Columns {
			n = append(n, c.Name)
		}
		return n
	}
	if !txns[0].IsDDL() || !txns[2].IsDDL() || !txns[4].IsDDL() {
		t.Fatalf("DDL txns not where expected: %+v %+v %+v", txns[0], txns[2], txns[4])
	}
	checks := []struct {
		i     int
		names []string
		after []any
	}{
		{1, []string{"id", "a"}, []any{int64(1), []byte("one")}},
		{3, []string{"id", "b", "a"}, []any{int64(2), int64(22), []byte("two")}},
		{5, []string{"id", "b"}, []any{int64(3), int64(33)}},
	}
	for _, ck := range checks {
		r := txns[ck.i].Rows[0]
		if !reflect.DeepEqual(names(r.Table), ck.names) || !reflect.DeepEqual(r.After, ck.after) {
			t.Errorf("txn %d: columns %v values %#v, want %v %#v", ck.i, names(r.Table), r.After, ck.names, ck.after)
		}
		if !reflect.DeepEqual(r.Table.PrimaryKey, []int{0}) {
			t.Errorf("txn %d: pk %v", ck.i, r.Table.PrimaryKey)
		}
	}
}

// TestCaptureWatchdog: a source that stops answering (SIGSTOP) makes Next fail after the idle
// timeout instead of hanging, so the Store reconnects.
func TestCaptureWatchdog(t *testing.T) {
	defer binlog.SetIdleTimeout(2 * time.Second)()
	inst := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := binlog.Open(ctx, sourceConfig(inst), binlog.Start{GTIDSet: gtidPos(t, inst)}, schema.NewTracker(inst.DB()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := syscall.Kill(inst.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(inst.PID(), syscall.SIGCONT) }()
	t0 := time.Now()
	for {
		txn, err := c.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("Next hung until the test deadline: %v", err)
			}
			t.Logf("Next failed after %v: %v", time.Since(t0), err)
			break
		}
		if !txn.Heartbeat {
			t.Fatalf("unexpected txn %+v", txn)
		}
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Fatalf("watchdog took %v", el)
	}
}

// TestCaptureXA (issue 21): the rows of an XA transaction arrive with its XA COMMIT (its own
// GTID, after other transactions committed while it was prepared); the GTID of its XA PREPARE
// arrives without rows; an XA ROLLBACK brings none; XA COMMIT ... ONE PHASE is an ordinary
// transaction.
func TestCaptureXA(t *testing.T) {
	inst := testenv.Shared(t, "binlog")
	db := testenv.FreshDatabase(t, inst, "xa")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY)", db)); err != nil {
		t.Fatal(err)
	}
	start := gtidPos(t, inst)
	xa, err := inst.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer xa.Close()
	for _, q := range []string{
		"XA START 'a'", "INSERT INTO `%s`.t VALUES (1)", "XA END 'a'", "XA PREPARE 'a'",
		"INSERT INTO `%s`.t VALUES (2)", // another session's transaction commits meanwhile
		"XA COMMIT 'a'",
		"XA START 'b', 'q', 7", "INSERT INTO `%s`.t VALUES (3)", "XA END 'b', 'q', 7", "XA PREPARE 'b', 'q', 7", "XA ROLLBACK 'b', 'q', 7",
		"XA START 'c'", "INSERT INTO `%s`.t VALUES (4)", "XA END 'c'", "XA COMMIT 'c' ONE PHASE",
		"INSERT INTO `%s`.t VALUES (5)",
	} {
		conn := xa
		if q == "INSERT INTO `%s`.t VALUES (2)" {
			conn, err = inst.DB().Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(q, "%s") {
			q = fmt.Sprintf(q, db)
		}
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if conn != xa {
			conn.Close()
		}
	}
	c, err := binlog.Open(ctx, sourceConfig(inst), binlog.Start{GTIDSet: start}, schema.NewTracker(inst.DB()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string // the ids inserted, per transaction with rows, in order
	for {
		txn, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if txn.Heartbeat || len(txn.Rows) == 0 {
			continue
		}
		var ids []string
		for _, r := range txn.Rows {
			ids = append(ids, fmt.Sprint(r.After[0]))
		}
		got = append(got, strings.Join(ids, ","))
		if ids[len(ids)-1] == "5" {
			break
		}
	}
	if want := []string{"2", "1", "4", "5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("transactions with rows %q, want %q", got, want)
	}
}

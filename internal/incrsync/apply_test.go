package incrsync

import (
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// TestDMLTypes: INSERT, UPDATE (also of the primary key), DELETE, NULLs and every common column
// type reach the target exactly, through the DDL that created the table.
func TestDMLTypes(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "t")
	execAll(t, s,
		"SET GLOBAL time_zone = '+00:00'",
		"CREATE TABLE "+tb+" (id INT PRIMARY KEY, ti TINYINT, biu BIGINT UNSIGNED, de DECIMAL(12,4), fl FLOAT, do DOUBLE,"+
			" ch CHAR(10), vc VARCHAR(50), tx TEXT, bl BLOB, da DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL, js JSON,"+
			" en ENUM('a','b','c'), st SET('x','y','z'), bt BIT(10), yr YEAR, tm TIME(2), UNIQUE KEY uk_vc (vc))",
		"INSERT INTO "+tb+" VALUES (1, -128, 18446744073709551615, -12345678.0120, 1.5, -2.25, 'abc', 'héllo 😀', 'long text', x'00ff10',"+
			" '2024-02-29', '2024-02-29 13:14:15.123456', '2024-01-02 03:04:05.678', '{\"a\": [1, 2]}', 'b', 'x,z', b'1010101010', 2024, '-12:34:56.78')",
		"INSERT INTO "+tb+" (id) VALUES (2), (3), (4)",
		"UPDATE "+tb+" SET vc = 'two', fl = 0.1 WHERE id = 2",
		"UPDATE "+tb+" SET id = 30 WHERE id = 3",
		"DELETE FROM "+tb+" WHERE id = 4",
		"INSERT INTO "+tb+" (id, vc) VALUES (5, 'five')",
		"UPDATE "+tb+" SET vc = NULL WHERE id = 5",
	)
	r := start(t, p.config(), fmt.Sprintf("dml-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
	st := r.s.Status()
	if st.Metrics["applied_rows_total"] < 8 || st.State != "RUNNING" {
		t.Fatalf("status %+v", st)
	}
	// more changes while it runs
	execAll(t, s, "UPDATE "+tb+" SET tx = 'changed' WHERE id = 1", "DELETE FROM "+tb+" WHERE id = 30", "INSERT INTO "+tb+" (id) VALUES (6)")
	r.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
}

// TestNoKeyTable: a table without any key is applied in order, matching the whole before-image
// with LIMIT 1, duplicates included.
func TestNoKeyTable(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "nk")
	execAll(t, s,
		"CREATE TABLE "+tb+" (a INT, b VARCHAR(10), f FLOAT)",
		"INSERT INTO "+tb+" VALUES (1, 'x', 1.5), (1, 'x', 1.5), (2, NULL, 0.1), (3, 'y', NULL)",
		"UPDATE "+tb+" SET b = 'z' WHERE a = 1 LIMIT 1",
		"DELETE FROM "+tb+" WHERE a = 2",
		"UPDATE "+tb+" SET a = 4 WHERE b IS NULL OR b = 'y'",
	)
	// only approximate columns: the before-image matches them exactly (leaving them out
	// matched any row)
	fl := q(p.db, "floats")
	execAll(t, s,
		"CREATE TABLE "+fl+" (f FLOAT, d DOUBLE)",
		"INSERT INTO "+fl+" VALUES (0.1, 0.1), (1.5, 2.5), (3.25, 1e300)",
		"DELETE FROM "+fl+" WHERE d = 2.5",
		"UPDATE "+fl+" SET f = 7 WHERE d > 1e200",
	)
	r := start(t, p.config(), fmt.Sprintf("nokey-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
	sameRows(t, s, p.dst.DB(), fl, fl)
}

// TestBinaryStoredTypes: UUID, INET4 and INET6 values (logged as their binary form) reach the
// target as the same values (error 1292 before), also as keys and in updates.
func TestBinaryStoredTypes(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb, nk := q(p.db, "misc"), q(p.db, "misc_nokey")
	execAll(t, s,
		"CREATE TABLE "+tb+" (id UUID PRIMARY KEY, i4 INET4, i6 INET6, UNIQUE KEY (i6))",
		"CREATE TABLE "+nk+" (u UUID, i4 INET4, i6 INET6)",
		"INSERT INTO "+tb+" VALUES ('123e4567-e89b-12d3-a456-426655440000', '10.0.0.1', '2001:db8::1'), "+
			"('ffffffff-ffff-4fff-8fff-000000000001', '255.255.255.255', '::ffff:1.2.3.4'), ('00000000-0000-0000-0000-000000000000', '0.0.0.0', '::')",
		"UPDATE "+tb+" SET i4 = '192.168.1.1', i6 = 'fe80::1' WHERE id = '123e4567-e89b-12d3-a456-426655440000'",
		"DELETE FROM "+tb+" WHERE i6 = '::'",
		"INSERT INTO "+nk+" SELECT * FROM "+tb,
		"UPDATE "+nk+" SET i4 = NULL WHERE i4 = '255.255.255.255'",
		"DELETE FROM "+nk+" WHERE u = '123e4567-e89b-12d3-a456-426655440000'",
	)
	r := start(t, p.config(), fmt.Sprintf("bintypes-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
	sameRows(t, s, p.dst.DB(), nk, nk)
}

// TestRenameAndFilters: database and table renames, a row filter (rows moving in and out of
// it), a DML filter without DELETE, a column subset and an exclusion.
func TestRenameAndFilters(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	dstDB := p.db + "_renamed"
	t.Cleanup(func() { _, _ = p.dst.DB().Exec("DROP DATABASE IF EXISTS `" + dstDB + "`") })
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+dstDB+"`",
		"CREATE TABLE `"+dstDB+"`.orders_v2 (id INT PRIMARY KEY, amount INT, note VARCHAR(20))",
		"CREATE TABLE `"+dstDB+"`.nodel (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE `"+dstDB+"`.narrow (id INT PRIMARY KEY, keep VARCHAR(10))")
	execAll(t, s,
		"CREATE TABLE "+q(p.db, "orders")+" (id INT PRIMARY KEY, amount INT, note VARCHAR(20))",
		"CREATE TABLE "+q(p.db, "nodel")+" (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE "+q(p.db, "narrow")+" (id INT PRIMARY KEY, keep VARCHAR(10), dropme VARCHAR(10))",
		"CREATE TABLE "+q(p.db, "secret")+" (id INT PRIMARY KEY)")
	cfg := p.config()
	cfg.StartGTID = gtidPos(t, p.src) // tables were made by hand on both sides
	cfg.Selection = selection.Config{
		Tables: []selection.Rule{
			{DB: p.db, Table: "orders", RenameDB: dstDB, RenameTable: "orders_v2", Where: "amount >= 100"},
			{DB: p.db, Table: "nodel", RenameDB: dstDB, DML: []string{"INSERT", "UPDATE"}},
			{DB: p.db, Table: "narrow", RenameDB: dstDB, Columns: []string{"id", "keep"}},
			{DB: p.db, RenameDB: dstDB},
		},
		Exclude: []selection.Rule{{DB: p.db, Table: "secret"}},
	}
	execAll(t, s,
		"INSERT INTO "+q(p.db, "orders")+" VALUES (1, 50, 'small'), (2, 150, 'big'), (3, 500, 'huge')",
		"UPDATE "+q(p.db, "orders")+" SET amount = 120 WHERE id = 1", // moves into the filter
		"UPDATE "+q(p.db, "orders")+" SET amount = 10 WHERE id = 3",  // moves out of it
		"UPDATE "+q(p.db, "orders")+" SET note = 'b2' WHERE id = 2",
		"INSERT INTO "+q(p.db, "nodel")+" VALUES (1, 1), (2, 2)",
		"UPDATE "+q(p.db, "nodel")+" SET v = 20 WHERE id = 2",
		"DELETE FROM "+q(p.db, "nodel")+" WHERE id = 1",
		"INSERT INTO "+q(p.db, "narrow")+" VALUES (1, 'k', 'd')",
		"INSERT INTO "+q(p.db, "secret")+" VALUES (1)",
	)
	r := start(t, cfg, fmt.Sprintf("rename-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	d := p.dst.DB()
	check := func(table string, want ...string) {
		t.Helper()
		got := tableRows(t, d, "`"+dstDB+"`."+table)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: got %q want %q", table, got, want)
		}
	}
	check("orders_v2", `"1"|"120"|"small"`, `"2"|"150"|"b2"`)
	check("nodel", `"1"|"1"`, `"2"|"20"`)
	check("narrow", `"1"|"k"`)
	var n int
	if err := d.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'secret' AND table_schema = ?", dstDB).Scan(&n); err != nil || n != 0 {
		t.Fatalf("excluded table reached the target: %d %v", n, err)
	}
}

// TestStrictConflict: in strict mode an INSERT of a row the target already has stops the task
// with INCR_ROW_CONFLICT naming the table, the key and the GTID; the same change before the
// strict_after position is applied idempotently.
func TestStrictConflict(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "t")
	execAll(t, s, "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`", "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)",
		"INSERT INTO "+tb+" VALUES (1, 100), (7, 700)")
	cfg := p.config()
	cfg.StartGTID = gtidPos(t, p.src)
	execAll(t, s, "INSERT INTO "+tb+" VALUES (1, 1)", "DELETE FROM "+tb+" WHERE id = 5")
	cfg.StrictAfter = gtidPos(t, p.src) // both above are idempotent
	execAll(t, s, "INSERT INTO "+tb+" VALUES (2, 2)", "INSERT INTO "+tb+" VALUES (7, 7)")
	bad := gtidPos(t, p.src)
	r := start(t, cfg, fmt.Sprintf("strict-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	err := r.waitFailed(t, 30*time.Second)
	var oe *omserr.Error
	if omserr.CodeOf(err) != omserr.IncrRowConflict || !asErr(err, &oe) {
		t.Fatalf("want %s, got %v", omserr.IncrRowConflict, err)
	}
	for _, want := range []string{tb, "id=7", bad} {
		if !contains(oe.Message, want) {
			t.Fatalf("message %q does not name %q", oe.Message, want)
		}
	}
	got := tableRows(t, p.dst.DB(), tb)
	if fmt.Sprint(got) != fmt.Sprint([]string{`"1"|"1"`, `"2"|"2"`, `"7"|"700"`}) {
		t.Fatalf("target rows %q", got)
	}
}

package incrsync

import (
	"database/sql"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

var autoIncClause = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

// createOf is SHOW CREATE TABLE without the AUTO_INCREMENT counter.
func createOf(t *testing.T, p *pair, onTarget bool, table string) string {
	t.Helper()
	db := p.src.DB()
	if onTarget {
		db = p.dst.DB()
	}
	var name, stmt string
	if err := db.QueryRow("SHOW CREATE TABLE "+table).Scan(&name, &stmt); err != nil {
		t.Fatalf("SHOW CREATE TABLE %s: %v", table, err)
	}
	return autoIncClause.ReplaceAllString(stmt, "")
}

func tableExists(t *testing.T, p *pair, db, table string) bool {
	t.Helper()
	var n int
	if err := p.dst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", db, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// TestDDLInOrder: CREATE/ALTER/DROP/TRUNCATE/RENAME TABLE and CREATE/DROP INDEX reach the target
// in order with the rows around them (rows before a DDL are applied before it, rows after it
// with the new shape); the tables end identical, definitions included.
func TestDDLInOrder(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	a, b, c := q(p.db, "a"), q(p.db, "b"), q(p.db, "c")
	execAll(t, s,
		"CREATE TABLE "+a+" (id INT PRIMARY KEY, v INT) DEFAULT CHARSET=utf8mb4",
		"INSERT INTO "+a+" VALUES (1, 10), (2, 20), (3, 30)",
		"ALTER TABLE "+a+" ADD COLUMN w VARCHAR(20) NOT NULL DEFAULT 'dflt' AFTER v",
		"INSERT INTO "+a+" VALUES (4, 40, 'four')",
		"UPDATE "+a+" SET w = 'one' WHERE id = 1",
		"CREATE INDEX ix_v ON "+a+" (v)",
		"CREATE UNIQUE INDEX ux_w ON "+a+" (w, id)",
		"DROP INDEX ix_v ON "+a,
		"RENAME TABLE "+a+" TO "+b,
		"INSERT INTO "+b+" VALUES (5, 50, 'five')",
		"CREATE TABLE "+c+" LIKE "+b,
		"INSERT INTO "+c+" SELECT * FROM "+b,
		"TRUNCATE TABLE "+b,
		"INSERT INTO "+b+" VALUES (6, 60, 'six')",
		"ALTER TABLE "+b+" DROP COLUMN v, ADD COLUMN z DECIMAL(10,2) NULL",
		"INSERT INTO "+b+" VALUES (7, 'seven', 7.25)",
		"UPDATE "+c+" SET w = CONCAT(w, '!') WHERE id > 2",
		"DROP TABLE "+c,
		"CREATE TABLE "+q(p.db, "d")+" (k VARCHAR(10) PRIMARY KEY, n INT)",
		"INSERT INTO "+q(p.db, "d")+" VALUES ('x', 1)",
	)
	r := start(t, p.config(), fmt.Sprintf("ddl-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{b, q(p.db, "d")} {
		sameRows(t, s, p.dst.DB(), tb, tb)
		if x, y := createOf(t, p, false, tb), createOf(t, p, true, tb); x != y {
			t.Errorf("definition of %s differs:\nsource %s\ntarget %s", tb, x, y)
		}
	}
	for _, gone := range []string{"a", "c"} {
		if tableExists(t, p, p.db, gone) {
			t.Errorf("table %s should not exist on the target", gone)
		}
	}
}

// TestSkipDDL: with skip_ddl the target keeps its own definition while rows still flow.
func TestSkipDDL(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "t")
	execAll(t, s, "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`", "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)")
	cfg := p.config()
	cfg.StartGTID = gtidPos(t, p.src)
	cfg.SkipDDL = true
	execAll(t, s, "CREATE INDEX ix_v ON "+tb+" (v)", "INSERT INTO "+tb+" VALUES (1, 1), (2, 2)")
	r := start(t, cfg, fmt.Sprintf("skipddl-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
	var n int
	if err := p.dst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = ? AND table_name = 't' AND index_name = 'ix_v'", p.db).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the skipped CREATE INDEX reached the target (%d, %v)", n, err)
	}
}

// TestUnsupportedDDLStopsThenSkip: a DDL the policy says to stop at (CREATE VIEW with view=stop)
// stops the task naming the statement's GTID and how to go on; resuming with that GTID skipped
// applies everything after it, and the rows before it stay applied.
func TestUnsupportedDDLStopsThenSkip(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "t")
	execAll(t, s, "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)", "INSERT INTO "+tb+" VALUES (1, 1)")
	execAll(t, s, "CREATE VIEW "+q(p.db, "v")+" AS SELECT id FROM "+tb)
	bad := gtidPos(t, p.src)
	execAll(t, s, "INSERT INTO "+tb+" VALUES (2, 2)")
	cfg := p.config()
	cfg.Selection = selection.Config{Tables: []selection.Rule{{DB: p.db}}}
	cfg.DDLPolicy = map[string]string{ddl.ClassView: ddl.PolicyStop}
	task := fmt.Sprintf("unsup-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	err := r.waitFailed(t, 30*time.Second)
	var oe *omserr.Error
	if omserr.CodeOf(err) != omserr.IncrDDLUnsupported || !asErr(err, &oe) {
		t.Fatalf("want %s, got %v", omserr.IncrDDLUnsupported, err)
	}
	if !contains(oe.Message, bad) || !contains(oe.Message, "VIEW `"+p.db+"`.`v`") || !contains(oe.Advice, "oms project skip") {
		t.Fatalf("error does not name the GTID %s, the statement and the way out: %+v", bad, oe)
	}
	if got := tableRows(t, p.dst.DB(), tb); fmt.Sprint(got) != fmt.Sprint([]string{`"1"|"1"`}) {
		t.Fatalf("rows before the DDL: %q", got)
	}
	cfg.SkipDDLGTIDs = []string{bad}
	r2 := start(t, cfg, task, 1, captureSource(p.src))
	r2.waitCaughtUp(t, p.src, 30*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
}

// TestCreateDatabaseKeepsCharset: a database Incr-Sync creates keeps the source's default
// charset and collation, so a table created in it without a charset is the same on the target
// (issue 21: it was created with the target's default); a MariaDB-only CREATE OR REPLACE ...
// WITH SYSTEM VERSIONING, which the SQL parser cannot read, reaches the target verbatim.
func TestCreateDatabaseKeepsCharset(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	db := p.db + "_l2"
	for _, inst := range []*sql.DB{s, p.dst.DB()} {
		t.Cleanup(func() { _, _ = inst.Exec("DROP DATABASE IF EXISTS `" + db + "`") })
	}
	tb, sv := q(db, "t"), q(db, "sv")
	execAll(t, s,
		"CREATE DATABASE `"+db+"` /*!40100 DEFAULT CHARACTER SET latin2 COLLATE latin2_czech_cs */",
		"CREATE TABLE "+tb+" (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO "+tb+" VALUES (1, 'Łódź'), (2, 'Žluťoučký')",
	)
	conn, err := s.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"USE `" + db + "`", "CREATE OR REPLACE TABLE sv (id INT PRIMARY KEY) WITH SYSTEM VERSIONING"} {
		if _, err := conn.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	cfg := p.config()
	cfg.Selection.Tables = append(cfg.Selection.Tables, selection.Rule{DB: db})
	r := start(t, cfg, fmt.Sprintf("dbcs-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	var cs, coll string
	if err := p.dst.DB().QueryRow("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db).Scan(&cs, &coll); err != nil {
		t.Fatal(err)
	}
	if cs != "latin2" || coll != "latin2_czech_cs" {
		t.Errorf("target database is %s/%s, want latin2/latin2_czech_cs", cs, coll)
	}
	sameRows(t, s, p.dst.DB(), tb, tb)
	for _, x := range []string{tb, sv} {
		if a, b := createOf(t, p, false, x), createOf(t, p, true, x); a != b {
			t.Errorf("definition of %s differs:\nsource %s\ntarget %s", x, a, b)
		}
	}
}

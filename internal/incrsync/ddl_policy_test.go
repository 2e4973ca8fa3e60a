package incrsync

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// TestDDLPolicy: the action per class of DDL, defaults and overrides, and bad policies refused.
func TestDDLPolicy(t *testing.T) {
	sel, err := selection.Compile(selection.Config{Tables: []selection.Rule{{DB: "k", Table: "*"}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		policy  map[string]string
		skipAll bool
		stmt    string
		want    string // "apply", "skip", "stop", or "!" + config error
	}{
		{nil, false, "CREATE TABLE t (a INT)", "apply"},
		{nil, false, "CREATE INDEX i ON t (a)", "apply"},
		{nil, false, "DROP DATABASE k", "apply"},
		{nil, false, "CREATE VIEW v AS SELECT a FROM t", "apply"},
		{nil, false, "CREATE PROCEDURE p() SELECT 1", "apply"},
		{nil, false, "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "skip"},
		{nil, false, "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t", "skip"},
		{map[string]string{"trigger": "apply"}, false, "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "apply"},
		{map[string]string{"view": "stop"}, false, "DROP VIEW v", "stop"},
		{map[string]string{"table": "skip"}, false, "ALTER TABLE t ADD b INT", "skip"},
		{map[string]string{"table": "skip"}, false, "CREATE INDEX i ON t (a)", "apply"},
		{map[string]string{"database": "stop"}, false, "DROP DATABASE IF EXISTS k", "stop"},
		{nil, true, "CREATE TABLE t (a INT)", "skip"},
		{map[string]string{"views": "apply"}, false, "", "!unknown DDL class \"views\""},
		{map[string]string{"view": "maybe"}, false, "", "!unknown action \"maybe\""},
	}
	for _, c := range cases {
		pol, err := ddl.CompilePolicy(c.policy, c.skipAll)
		if strings.HasPrefix(c.want, "!") {
			if err == nil || !strings.Contains(err.Error(), c.want[1:]) {
				t.Errorf("policy %v: want error %s, got %v", c.policy, c.want[1:], err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("policy %v: %v", c.policy, err)
		}
		plan, err := planDDL(sel, pol, &changelog.DDL{DB: "k", Statement: c.stmt}, "0-1-9")
		got := "apply"
		switch {
		case omserr.CodeOf(err) == omserr.IncrDDLUnsupported:
			got = "stop"
		case err != nil:
			t.Fatalf("%q: %v", c.stmt, err)
		case len(plan.stmts) == 0:
			got = "skip"
		}
		if got != c.want {
			t.Errorf("policy %v, %q: got %s, want %s", c.policy, c.stmt, got, c.want)
		}
	}
}

// TestDropDatabaseIfExistsAbsent (issue 21): DROP DATABASE IF EXISTS of a selected database that
// does not exist does not stop the task, even when the policy for databases is stop; DROP
// DATABASE of a database that exists is applied by default; rows after both arrive.
func TestDropDatabaseIfExistsAbsent(t *testing.T) {
	for _, policy := range []string{ddl.PolicyApply, ddl.PolicyStop} {
		t.Run(policy, func(t *testing.T) {
			p := newPair(t)
			s := p.src.DB()
			gone, dropped := p.db+"_gone", p.db+"_drop"
			for _, inst := range []*sql.DB{s, p.dst.DB()} {
				t.Cleanup(func() {
					_, _ = inst.Exec("DROP DATABASE IF EXISTS `" + gone + "`")
					_, _ = inst.Exec("DROP DATABASE IF EXISTS `" + dropped + "`")
				})
			}
			tb := q(p.db, "t")
			cfg := p.config()
			cfg.Selection.Tables = append(cfg.Selection.Tables, selection.Rule{DB: gone}, selection.Rule{DB: dropped})
			cfg.DDLPolicy = map[string]string{ddl.ClassDatabase: policy}
			cfg.StartGTID = gtidPos(t, p.src)
			execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`")
			stmts := []string{
				"CREATE TABLE " + tb + " (id INT PRIMARY KEY)",
				"DROP DATABASE IF EXISTS `" + gone + "`",
				"INSERT INTO " + tb + " VALUES (1)",
			}
			if policy == ddl.PolicyApply {
				stmts = append(stmts, "CREATE DATABASE `"+dropped+"`", "CREATE TABLE "+q(dropped, "x")+" (a INT)",
					"DROP DATABASE `"+dropped+"`")
			}
			execAll(t, s, append(stmts, "INSERT INTO "+tb+" VALUES (2)")...)
			r := start(t, cfg, fmt.Sprintf("dropdb-%d", taskSeq.Add(1)), 1, captureSource(p.src))
			r.waitCaughtUp(t, p.src, 30*time.Second)
			sameRows(t, s, p.dst.DB(), tb, tb)
			var n int
			if err := p.dst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)", gone, dropped).Scan(&n); err != nil || n != 0 {
				t.Fatalf("target has %d of the dropped databases (%v)", n, err)
			}
		})
	}
}

// TestSkipGTID: a transaction that stops the task (a strict conflict) is named in Status as
// StoppedAt; restarted with exactly that GTID in skip_gtids the task applies everything after it
// and nothing of it; a bad skip entry is refused naming the forms.
func TestSkipGTID(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "t")
	execAll(t, s, "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`", "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)", "INSERT INTO "+tb+" VALUES (1, 100)")
	cfg := p.config()
	cfg.StartGTID = gtidPos(t, p.src)
	execAll(t, s, "INSERT INTO "+tb+" VALUES (1, 1)")
	bad := gtidPos(t, p.src)
	execAll(t, s, "INSERT INTO "+tb+" VALUES (2, 2)", "INSERT INTO "+tb+" VALUES (3, 3)")
	task := fmt.Sprintf("skipgtid-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	if err := r.waitFailed(t, 30*time.Second); omserr.CodeOf(err) != omserr.IncrRowConflict {
		t.Fatalf("want %s, got %v", omserr.IncrRowConflict, err)
	}
	if got := r.s.Status().StoppedAt; got != bad {
		t.Fatalf("StoppedAt = %q, want %q", got, bad)
	}
	cfg.SkipGTIDs = []string{"0-1"}
	if _, err := NewFromConfig(cfg, task, 1, captureSource(p.src), testLogger(t)); omserr.CodeOf(err) != omserr.IncrConfigInvalid || !contains(err.Error(), "D-S-N1-N2") {
		t.Fatalf("bad skip entry: %v", err)
	}
	cfg.SkipGTIDs = []string{bad}
	r2 := start(t, cfg, task, 1, captureSource(p.src))
	r2.waitCaughtUp(t, p.src, 30*time.Second)
	if got, want := tableRows(t, p.dst.DB(), tb), []string{`"1"|"100"`, `"2"|"2"`, `"3"|"3"`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("target rows %q, want %q", got, want)
	}
}

// TestMergeTableDDL (issue 21): a MERGE table created in its default database (UNION members
// unqualified) reaches the target with its members qualified (error 1046 before), and rows
// written through it arrive.
func TestMergeTableDDL(t *testing.T) {
	p := newPair(t)
	conn, err := p.src.DB().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"USE `" + p.db + "`",
		"CREATE TABLE t1 (a INT) ENGINE=MyISAM", "CREATE TABLE t2 (a INT) ENGINE=MyISAM",
		"CREATE TABLE m (a INT) ENGINE=MERGE UNION=(t1,t2) INSERT_METHOD=LAST",
		"INSERT INTO t1 VALUES (1)", "INSERT INTO m VALUES (2)"} {
		if _, err := conn.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	r := start(t, p.config(), fmt.Sprintf("merge-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{"t1", "t2", "m"} {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
}

// TestFailedDDLNotTakenAsApplied (issue 21): after a DROP DATABASE is skipped, the re-created
// table's CREATE TABLE fails on the target's stale table (1050); started again, the task stops
// at it again instead of taking the error as "applied before a crash" and keeping the stale
// table.
func TestFailedDDLNotTakenAsApplied(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	d := p.db + "_re"
	for _, inst := range []*sql.DB{s, p.dst.DB()} {
		t.Cleanup(func() { _, _ = inst.Exec("DROP DATABASE IF EXISTS `" + d + "`") })
	}
	cfg := p.config()
	cfg.Selection.Tables = append(cfg.Selection.Tables, selection.Rule{DB: d, Table: "t"}) // d only in part
	cfg.StartGTID = gtidPos(t, p.src)
	execAll(t, s, "CREATE DATABASE `"+d+"`", "CREATE TABLE "+q(d, "t")+" (a INT)", "DROP DATABASE `"+d+"`")
	drop := gtidPos(t, p.src)
	execAll(t, s, "CREATE DATABASE `"+d+"`", "CREATE TABLE "+q(d, "t")+" (b INT, c INT)")
	task := fmt.Sprintf("staledb-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	if err := r.waitFailed(t, 30*time.Second); omserr.CodeOf(err) != omserr.IncrDDLUnsupported {
		t.Fatalf("DROP DATABASE of a database selected in part: want %s, got %v", omserr.IncrDDLUnsupported, err)
	}
	cfg.SkipGTIDs = []string{drop}
	for run := 1; run <= 2; run++ {
		r := start(t, cfg, task, 1, captureSource(p.src))
		if err := r.waitFailed(t, 30*time.Second); omserr.CodeOf(err) != omserr.IncrDDLFailed || !contains(err.Error(), "1050") {
			t.Fatalf("run %d: CREATE TABLE over the stale table: want %s (1050), got %v", run, omserr.IncrDDLFailed, err)
		}
	}
}

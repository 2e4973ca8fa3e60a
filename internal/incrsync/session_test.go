package incrsync

import (
	"fmt"
	"testing"
	"time"
)

// TestDDLRunsInSourceSession (issue 21): a DDL runs on the target in the source session's
// context from the binlog: a TIMESTAMP default written under time_zone +05:00 means the same
// instant on the target, and a comment sent in latin1 (not UTF-8: the verbatim path) arrives as
// the same text; a TIMESTAMP column under explicit_defaults_for_timestamp=0 gets the same implicit
// default; a column added with DEFAULT CURRENT_TIMESTAMP(6) gives existing rows the source
// statement's time.
func TestDDLRunsInSourceSession(t *testing.T) {
	p := newPair(t)
	conn, err := p.src.DB().Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"SET time_zone = '+05:00'", "USE `" + p.db + "`",
		"CREATE TABLE tz (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT '2020-01-01 00:00:00')",
		"SET NAMES latin1",
		"CREATE TABLE l1 (id INT PRIMARY KEY) COMMENT 'caf\xe9'",
		"SET NAMES utf8mb4", "SET time_zone = SYSTEM",
		"SET explicit_defaults_for_timestamp = 0",
		"CREATE TABLE implicit_ts (id INT PRIMARY KEY, t1 TIMESTAMP, t2 TIMESTAMP)",
		"SET explicit_defaults_for_timestamp = DEFAULT",
		"CREATE TABLE now_col (id INT PRIMARY KEY)",
		"INSERT INTO now_col VALUES (1), (2)",
		"ALTER TABLE now_col ADD COLUMN added TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"} {
		if _, err := conn.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	r := start(t, p.config(), fmt.Sprintf("sess-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{"tz", "l1", "implicit_ts", "now_col"} {
		if a, b := createOf(t, p, false, q(p.db, tb)), createOf(t, p, true, q(p.db, tb)); a != b {
			t.Errorf("definition of %s differs:\nsource %s\ntarget %s", tb, a, b)
		}
	}
	sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, "now_col"), q(p.db, "now_col"))
}

package incrsync

import (
	"fmt"
	"testing"
	"time"
)

// TestDDLRunsInSourceSession (issue 21): a DDL runs on the target in the source session's
// context from the binlog: a TIMESTAMP default written under time_zone +05:00 means the same
// instant on the target, and a comment sent in latin1 (not UTF-8: the verbatim path) arrives as
// the same text.
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
		"SET NAMES utf8mb4", "SET time_zone = SYSTEM"} {
		if _, err := conn.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	r := start(t, p.config(), fmt.Sprintf("sess-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{"tz", "l1"} {
		if a, b := createOf(t, p, false, q(p.db, tb)), createOf(t, p, true, q(p.db, tb)); a != b {
			t.Errorf("definition of %s differs:\nsource %s\ntarget %s", tb, a, b)
		}
	}
}

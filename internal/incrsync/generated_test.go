package incrsync

import (
	"fmt"
	"testing"
	"time"
)

// TestGeneratedAndVersionedColumnsNotWritten (issue 21): rows of tables with VIRTUAL, STORED
// and PERSISTENT generated columns and of system-versioned tables (hidden row_start/row_end)
// are applied as a native replica applies them: the generated and hidden columns are never
// written (error 1906 and 1054 before), the target computes them, and the rows end equal.
func TestGeneratedAndVersionedColumnsNotWritten(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	g, v, k := q(p.db, "g"), q(p.db, "v"), q(p.db, "k")
	execAll(t, s,
		"CREATE TABLE "+g+" (id INT PRIMARY KEY, a INT, b INT AS (a * 2) VIRTUAL, c VARCHAR(20) AS (CONCAT('x', a)) STORED, d INT AS (a + 1) PERSISTENT, UNIQUE KEY (c))",
		"CREATE TABLE "+v+" (id INT PRIMARY KEY, a INT) WITH SYSTEM VERSIONING",
		"CREATE TABLE "+k+" (a INT, b INT AS (a * 3) VIRTUAL)",
	)
	cfg := p.config()
	r := start(t, cfg, fmt.Sprintf("gen-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	execAll(t, s,
		"INSERT INTO "+g+" (id, a) VALUES (1, 1), (2, 2), (3, 3)",
		"UPDATE "+g+" SET a = 10 WHERE id = 2",
		"DELETE FROM "+g+" WHERE id = 3",
		"INSERT INTO "+v+" VALUES (1, 1), (2, 2)",
		"UPDATE "+v+" SET a = 20 WHERE id = 2",
		"DELETE FROM "+v+" WHERE id = 1",
		"INSERT INTO "+k+" (a) VALUES (1), (2), (2)",
		"UPDATE "+k+" SET a = 5 WHERE a = 1",
		"DELETE FROM "+k+" WHERE a = 2 LIMIT 1",
	)
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{g, v, k} {
		sameRows(t, s, p.dst.DB(), tb, tb)
	}
}

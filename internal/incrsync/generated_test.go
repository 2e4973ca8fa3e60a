package incrsync

import (
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/testenv"
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

// TestVersionedHistoryAsSource (issue 21): a system-versioned table's history on the target has
// the source's row_start and row_end (the target applies each change at the source's time), for
// implicit and explicit (invisible) period columns, a keyless table, a versioned partitioned
// table and a table that becomes versioned by ALTER TABLE with rows in it.
func TestVersionedHistoryAsSource(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	v, ve, vn, vp, pl := q(p.db, "v"), q(p.db, "ve"), q(p.db, "vn"), q(p.db, "vp"), q(p.db, "pl")
	r := start(t, p.config(), fmt.Sprintf("hist-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	execAll(t, s,
		"CREATE TABLE "+v+" (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING",
		"INSERT INTO "+v+" VALUES (1, 1), (2, 2)",
		"UPDATE "+v+" SET x = 10 WHERE id = 1",
		"DELETE FROM "+v+" WHERE id = 2",
		"CREATE TABLE "+ve+" (id INT PRIMARY KEY, x INT, s TIMESTAMP(6) AS ROW START INVISIBLE, e TIMESTAMP(6) AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(s, e)) WITH SYSTEM VERSIONING",
		"INSERT INTO "+ve+" (id, x) VALUES (1, 1)",
		"UPDATE "+ve+" SET x = 2",
		"CREATE TABLE "+vn+" (a INT) WITH SYSTEM VERSIONING",
		"INSERT INTO "+vn+" VALUES (1), (1)",
		"DELETE FROM "+vn+" LIMIT 1",
		"CREATE TABLE "+vp+" (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING PARTITION BY SYSTEM_TIME (PARTITION p_hist HISTORY, PARTITION p_cur CURRENT)",
		"INSERT INTO "+vp+" VALUES (1, 1)",
		"UPDATE "+vp+" SET x = 5",
		"CREATE TABLE "+pl+" (id INT PRIMARY KEY, x INT)",
		"INSERT INTO "+pl+" VALUES (1, 1)",
		"ALTER TABLE "+pl+" ADD SYSTEM VERSIONING",
		"UPDATE "+pl+" SET x = 2",
	)
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for tb, cols := range map[string]string{v: "row_start, row_end", ve: "s, e", vn: "row_start, row_end", vp: "row_start, row_end", pl: "row_start, row_end"} {
		query := "SELECT *, " + cols + " FROM " + tb + " FOR SYSTEM_TIME ALL ORDER BY 1, 2, 3"
		testenv.SameRows(t, tb+" with its history", testenv.Rows(t, s, query), testenv.Rows(t, p.dst.DB(), query))
	}
}

package incrsync

import (
	"fmt"
	"testing"
	"time"
)

// TestForeignKeyCascades (issue 21): the binlog does not carry the rows a foreign key's ON
// UPDATE/ON DELETE CASCADE or SET NULL changes; the target makes them itself, as a native
// replica does: rows of tables with foreign keys are applied with the target's foreign key checks
// on, in source order, as real UPDATEs and DELETEs. A row the source wrote with the checks off
// (an orphan) still arrives. Idempotent mode (after a crash) writes rows with INSERT ... ON
// DUPLICATE KEY UPDATE, not REPLACE, whose delete would cascade.
func TestForeignKeyCascades(t *testing.T) {
	for _, idem := range []bool{false, true} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) { testForeignKeyCascades(t, idem) })
	}
}

func testForeignKeyCascades(t *testing.T, idem bool) {
	p := newPair(t)
	s := p.src.DB()
	par, cc, cn, gc, sr, cr := q(p.db, "parent"), q(p.db, "child_cascade"), q(p.db, "child_setnull"), q(p.db, "grandchild"), q(p.db, "self_ref"), q(p.db, "child_restrict")
	cfg := p.config()
	cfg.IdempotentAlways = idem
	r := start(t, cfg, fmt.Sprintf("fk-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	conn, err := s.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{
		"CREATE TABLE " + par + " (id INT PRIMARY KEY, name VARCHAR(10))",
		"CREATE TABLE " + cc + " (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES " + par + " (id) ON DELETE CASCADE ON UPDATE CASCADE)",
		"CREATE TABLE " + cn + " (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES " + par + " (id) ON DELETE SET NULL ON UPDATE SET NULL)",
		"CREATE TABLE " + cr + " (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES " + par + " (id))",
		"INSERT INTO " + par + " VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
		"INSERT INTO " + cc + " VALUES (10, 1), (11, 1), (12, 2), (13, 3)",
		"INSERT INTO " + cn + " VALUES (20, 1), (21, 2), (22, 3)",
		"UPDATE " + par + " SET id = 100 WHERE id = 1",
		"DELETE FROM " + par + " WHERE id = 2",
		"UPDATE " + par + " SET id = 300 WHERE id = 3",
		"CREATE TABLE " + gc + " (id INT PRIMARY KEY, cid INT, FOREIGN KEY (cid) REFERENCES " + cc + " (id) ON DELETE CASCADE)",
		"INSERT INTO " + gc + " VALUES (1, 10), (2, 13)",
		"DELETE FROM " + par + " WHERE id = 100",
		"SET foreign_key_checks = 0",
		"INSERT INTO " + cr + " VALUES (31, 999)",
		"SET foreign_key_checks = 1",
		"CREATE TABLE " + sr + " (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES " + sr + " (id) ON DELETE CASCADE)",
		"INSERT INTO " + sr + " VALUES (1, NULL), (2, 1), (3, 2), (4, NULL)",
		"DELETE FROM " + sr + " WHERE id = 1",
		"UPDATE " + par + " SET name = 'dd' WHERE id = 4",
	} {
		if _, err := conn.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	r.waitCaughtUp(t, p.src, 30*time.Second)
	for _, tb := range []string{par, cc, cn, gc, sr, cr} {
		sameRows(t, s, p.dst.DB(), tb, tb)
	}
}

// TestRepairRowKeepsChildren: the idempotent write of a row of a table with foreign keys is an
// upsert (REPLACE would delete the old row first and cascade that to its children).
func TestRepairRowKeepsChildren(t *testing.T) {
	ti := &tableInfo{quoted: "`d`.`p`", names: []string{"id", "name"}, ident: []int{0}}
	for _, c := range []struct {
		fk   bool
		want string
	}{
		{false, "REPLACE INTO `d`.`p` (`id`, `name`) VALUES (?, ?)"},
		{true, "INSERT INTO `d`.`p` (`id`, `name`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `id` = VALUES(`id`), `name` = VALUES(`name`)"},
	} {
		ti.fk = c.fk
		if got, args := repairRow(ti, []any{1, "a"}); got != c.want || len(args) != 2 {
			t.Errorf("fk=%v: %q %v, want %q", c.fk, got, args, c.want)
		}
	}
}

package verify

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestSchemaDifferencesReported: a target whose rows are all equal but whose definitions differ
// (charset, collation, default, generated expression, index, engine, comment, partitioning,
// table default collation, constraints, a column the target lacks while the columns both have
// are still compared) is not "no differences": every table says what differs, the run is
// not equal, and a table whose checksum differed says why. AUTO_INCREMENT, the renamed database
// and columns outside a column subset are not differences.
func TestSchemaDifferencesReported(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "sds"), testenv.FreshDatabase(t, e.dst, "sdd")
	type tc struct {
		table, src, dst string
		want            []string // substrings of the table's schema differences; none: equal
	}
	cases := []tc{
		{"same", "(id INT AUTO_INCREMENT PRIMARY KEY, c VARCHAR(20), KEY k (c)) AUTO_INCREMENT=5", "(id INT AUTO_INCREMENT PRIMARY KEY, c VARCHAR(20), KEY k (c)) AUTO_INCREMENT=900", nil},
		{"cs", "(id INT PRIMARY KEY, c VARCHAR(20) CHARACTER SET latin2)", "(id INT PRIMARY KEY, c VARCHAR(20) CHARACTER SET utf8mb4)",
			[]string{"column c: charset latin2 vs utf8mb4"}},
		{"coll", "(id INT PRIMARY KEY, c VARCHAR(20) COLLATE utf8mb4_bin)", "(id INT PRIMARY KEY, c VARCHAR(20) COLLATE utf8mb4_general_ci)",
			[]string{"column c: collation utf8mb4_bin vs utf8mb4_general_ci"}},
		{"deflt", "(id INT PRIMARY KEY, c VARCHAR(20) DEFAULT 'x')", "(id INT PRIMARY KEY, c VARCHAR(20) DEFAULT 'y')",
			[]string{"column c: default 'x' vs 'y'"}},
		{"nul", "(id INT PRIMARY KEY, c VARCHAR(20) NOT NULL)", "(id INT PRIMARY KEY, c VARCHAR(20) NULL)",
			[]string{"column c: NOT NULL vs NULL"}},
		{"gen", "(id INT PRIMARY KEY, c VARCHAR(20), g INT AS (id+1) VIRTUAL)", "(id INT PRIMARY KEY, c VARCHAR(20), g INT AS (1+id) VIRTUAL)",
			[]string{"column g: generated as `id` + 1 vs 1 + `id`"}},
		{"idx", "(id INT PRIMARY KEY, c VARCHAR(20), KEY k (c), UNIQUE KEY u (c, id))", "(id INT PRIMARY KEY, c VARCHAR(20), KEY u (c, id))",
			[]string{"index k: only in the source", "index u: unique btree (c, id) vs btree (c, id)"}},
		{"eng", "(id INT PRIMARY KEY, c VARCHAR(20)) ENGINE=InnoDB COMMENT 'a'", "(id INT PRIMARY KEY, c VARCHAR(20)) ENGINE=Aria COMMENT 'b'",
			[]string{"table engine: innodb vs aria", "table comment: a vs b"}},
		{"part", "(id INT PRIMARY KEY, c VARCHAR(20)) PARTITION BY HASH(id) PARTITIONS 2", "(id INT PRIMARY KEY, c VARCHAR(20)) PARTITION BY HASH(id) PARTITIONS 3",
			[]string{"table partitioning: HASH(`id`): p0, p1 vs HASH(`id`): p0, p1, p2"}},
		{"tcoll", "(id INT PRIMARY KEY, c VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci) DEFAULT CHARSET=latin1",
			"(id INT PRIMARY KEY, c VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci) DEFAULT CHARSET=utf8mb4 COLLATE utf8mb4_general_ci",
			[]string{"table default collation: latin1_swedish_ci vs utf8mb4_general_ci"}},
		{"chk", "(id INT PRIMARY KEY, c VARCHAR(20), CONSTRAINT ck CHECK (id > 0))", "(id INT PRIMARY KEY, c VARCHAR(20))",
			[]string{"constraint only in the source: check ck: `id` > 0"}},
		{"fk", "(id INT PRIMARY KEY, c VARCHAR(20), CONSTRAINT fk FOREIGN KEY (id) REFERENCES same (id) ON DELETE CASCADE)",
			"(id INT PRIMARY KEY, c VARCHAR(20), CONSTRAINT fk FOREIGN KEY (id) REFERENCES same (id))",
			[]string{"constraint only in the source: foreign key fk: (id) references same (id) on update restrict on delete cascade",
				"constraint only in the target: foreign key fk: (id) references same (id) on update restrict on delete restrict"}},
		{"lost", "(id INT PRIMARY KEY, c VARCHAR(20), extra INT)", "(id INT PRIMARY KEY, c VARCHAR(20))",
			[]string{"column extra: only in the source"}},
		{"order", "(id INT PRIMARY KEY, a INT, b INT)", "(id INT PRIMARY KEY, b INT, a INT)", []string{"column order: (id, a, b) vs (id, b, a)"}},
	}
	for _, c := range cases {
		exec(t, e.src.DB(), fmt.Sprintf("CREATE TABLE %s.%s %s", sdb, c.table, c.src))
		exec(t, e.dst.DB(), fmt.Sprintf("CREATE TABLE %s.%s %s", ddb, c.table, c.dst))
		for _, side := range []struct {
			name string
			db   *sql.DB
		}{{sdb, e.src.DB()}, {ddb, e.dst.DB()}} {
			cols := "id, c"
			if c.table == "order" {
				cols = "id, a, b"
			}
			if c.table == "lost" && side.name == sdb {
				cols = "id, c, extra" // extra: on the source only; the columns both have are equal
			}
			vals := "(1, 'x'), (2, 'y'), (3, 'z')"
			if c.table == "order" {
				vals = "(1, 1, 2), (2, 3, 4)"
			}
			if c.table == "lost" && side.name == sdb {
				vals = "(1, 'x', 7), (2, 'y', 8), (3, 'z', 9)"
			}
			exec(t, side.db, fmt.Sprintf("INSERT INTO %s.%s (%s) VALUES %s", side.name, c.table, cols, vals))
		}
	}
	// Same definition, the same JSON documents written as other text: the table checksum differs,
	// every row compares equal by value, and the note says so.
	exec(t, e.src.DB(), fmt.Sprintf(`CREATE TABLE %s.js (id INT PRIMARY KEY, j JSON)`, sdb), fmt.Sprintf(`INSERT INTO %s.js VALUES (1, '{"a":1}')`, sdb))
	exec(t, e.dst.DB(), fmt.Sprintf(`CREATE TABLE %s.js (id INT PRIMARY KEY, j JSON)`, ddb), fmt.Sprintf(`INSERT INTO %s.js VALUES (1, '{"a": 1}')`, ddb))
	// A column subset: the index over the column left out exists only on the source.
	exec(t, e.src.DB(), fmt.Sprintf("CREATE TABLE %s.sub (id INT PRIMARY KEY, c VARCHAR(20), x INT, KEY kx (x))", sdb))
	exec(t, e.dst.DB(), fmt.Sprintf("CREATE TABLE %s.sub (id INT PRIMARY KEY, c VARCHAR(20))", ddb))
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, Table: "sub", RenameDB: ddb, Columns: []string{"id", "c"}}, {DB: sdb, RenameDB: ddb}}}

	rep := run(t, e, Config{Selection: sel, TableChecksum: TableChecksumAlways, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir())
	byName := map[string]TableResult{}
	for _, r := range rep.Tables {
		byName[strings.TrimPrefix(r.Table, sdb+".")] = r
	}
	wantDifferent := 0
	for _, c := range cases {
		r := byName[c.table]
		got := strings.Join(r.SchemaDifferences, "\n")
		if len(c.want) == 0 && got != "" {
			t.Errorf("%s: schema differences %q, want none", c.table, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: schema differences %q, want %q", c.table, got, w)
			}
		}
		if len(c.want) > 0 {
			wantDifferent++
			if !strings.Contains(r.Note, "differs: ") {
				t.Errorf("%s: note %q does not say the schema differs", c.table, r.Note)
			}
		}
		if r.OnlyInSource+r.OnlyInTarget+r.Different != 0 {
			t.Errorf("%s: rows differ (%+v), the test meant them equal", c.table, r)
		}
	}
	if d := byName["sub"].SchemaDifferences; len(d) != 0 {
		t.Errorf("column subset: %q, want none (kx is over a column left out)", d)
	}
	if rep.Equal || rep.SchemaDifferent != wantDifferent {
		t.Errorf("report equal=%v tables_schema_different=%d, want false and %d", rep.Equal, rep.SchemaDifferent, wantDifferent)
	}
	if txt := rep.Text(); strings.Contains(txt, "no differences") || !strings.Contains(txt, fmt.Sprintf("the definitions of %d tables differ", wantDifferent)) {
		t.Errorf("report text:\n%s", txt)
	}
	// A table checksum that differed while every row compares equal says why.
	if r := byName["js"]; r.TableChecksum != tcDifferent || r.Different != 0 || !strings.Contains(r.Note, "checksum differs although every row compares equal by value") {
		t.Errorf("js: %+v", r)
	}
}

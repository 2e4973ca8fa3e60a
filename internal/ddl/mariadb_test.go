package ddl

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

// renameDB maps every table of one database to another one (and the database itself).
type renameDB struct{ from, to string }

func (r renameDB) Table(db, name string) (string, string, bool) {
	if db == r.from {
		return r.to, name, true
	}
	return "", "", false
}

func (r renameDB) Database(db string) (string, bool) {
	if db == r.from {
		return r.to, true
	}
	return "", false
}

// TestRenderOnMariaDB runs DDL on a real MariaDB twice: as written in database src (its default
// database), and rendered for database dst (no default database). Every table, view and
// sequence must end with the same definition in both.
func TestRenderOnMariaDB(t *testing.T) {
	inst := testenv.Shared(t, "ddl")
	src, dst := testenv.FreshDatabase(t, inst, "src"), testenv.FreshDatabase(t, inst, "dst")
	ctx := context.Background()
	srcConn, err := inst.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srcConn.Close()
	if _, err := srcConn.ExecContext(ctx, "USE `"+src+"`"); err != nil {
		t.Fatal(err)
	}
	dstConn, err := inst.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dstConn.Close()
	m := renameDB{src, dst}
	stmts := []string{
		"CREATE TABLE a (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, b BIT(3) DEFAULT b'101', t TINYINT(1) DEFAULT 1, " +
			"d DECIMAL(10,2) ZEROFILL, f FLOAT(7,4), dbl DOUBLE DEFAULT 0.5, v VARCHAR(20) NOT NULL DEFAULT 'it''s; -- \\\\ x', " +
			"c CHAR(3) CHARACTER SET latin1 DEFAULT _latin1'abc', tx TEXT COMMENT 'DROP TABLE x; /* y */', bl BLOB, j JSON, " +
			"e ENUM('x','y') DEFAULT 'y', s SET('a','b'), dt DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), " +
			"y YEAR, tm TIME(2), vb VARBINARY(4) DEFAULT X'0A0B', UNIQUE KEY uv (v(10), c), KEY kd (d DESC)) " +
			"ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci ROW_FORMAT=DYNAMIC COMMENT='table; comment'",
		"CREATE TABLE /* inline */ `we ird.ü` (`c d` INT) -- trailing",
		"CREATE TABLE b LIKE a",
		"ALTER TABLE b ADD COLUMN n INT NULL AFTER id, ADD INDEX ix (n), DROP COLUMN tm, MODIFY v VARCHAR(30) NOT NULL DEFAULT 'z'",
		"ALTER TABLE b CHANGE n n2 BIGINT, RENAME INDEX ix TO ix2, ALTER COLUMN dbl SET DEFAULT 1.5",
		"ALTER TABLE b CONVERT TO CHARACTER SET latin2 COLLATE latin2_czech_cs",
		"CREATE TABLE p (id INT PRIMARY KEY) ENGINE=InnoDB",
		"CREATE TABLE c (id INT PRIMARY KEY, pid INT, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON UPDATE CASCADE ON DELETE SET NULL)",
		"CREATE TABLE g (a INT, b INT AS (a + 1) VIRTUAL, c INT GENERATED ALWAYS AS (a * 2) STORED, CHECK (a > 0))",
		"CREATE TABLE part (id INT, d DATE) PARTITION BY RANGE (YEAR(d)) (PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN (2010))",
		"CREATE TABLE h (id INT) /*!50100 PARTITION BY HASH (id) PARTITIONS 3 */",
		"ALTER TABLE part ADD PARTITION (PARTITION p2 VALUES LESS THAN (3000))",
		"CREATE TABLE l2 (a VARCHAR(10), b VARCHAR(10) CHARACTER SET latin1) DEFAULT CHARSET=latin2 COLLATE latin2_czech_cs",
		"CREATE TABLE u16 (a VARCHAR(10) CHARACTER SET utf16, b TEXT CHARACTER SET utf32, c CHAR(3) CHARACTER SET ucs2, d VARCHAR(3) CHARACTER SET sjis)",
		"CREATE TABLE m1 (a INT) ENGINE=MyISAM",
		"CREATE TABLE m2 (a INT) ENGINE=MyISAM",
		"CREATE TABLE m (a INT) ENGINE=MERGE UNION=(m1, m2) INSERT_METHOD=LAST",
		"CREATE TABLE sel AS SELECT a.id, a.v FROM a JOIN b ON a.id = b.id",
		"CREATE TABLE sel2 (k INT PRIMARY KEY) SELECT id AS k FROM a",
		"RENAME TABLE b TO b2, sel2 TO sel3",
		"ALTER TABLE b2 RENAME TO b3",
		"CREATE UNIQUE INDEX ui ON c (pid, id)",
		"CREATE INDEX IF NOT EXISTS ui ON c (pid)",
		"CREATE INDEX ii ON c (pid) USING BTREE COMMENT 'x'",
		"ALTER TABLE c DROP FOREIGN KEY fk",
		"DROP INDEX ui ON c",
		"ALTER TABLE c ADD COLUMN IF NOT EXISTS z INT, DROP COLUMN IF EXISTS nope",
		"CREATE VIEW v AS SELECT a.id, c.pid FROM a JOIN c ON a.id = c.id WHERE a.v <> 'x;y'",
		"CREATE VIEW v2 AS WITH w AS (SELECT id FROM a) SELECT * FROM w",
		"CREATE SEQUENCE s START WITH 10 INCREMENT BY 5",
		"CREATE TABLE o1 (id BIGINT UNSIGNED NOT NULL, mi MEDIUMINT DEFAULT NULL, r REAL, dd DOUBLE(10,3), " +
			"nc CHAR(3) CHARACTER SET utf8mb3, vb VARCHAR(10) BINARY, vbin VARCHAR(10) COLLATE utf8mb4_bin, a CHAR(3) CHARACTER SET ascii, lt LONGTEXT COMMENT 'c', " +
			"de INT DEFAULT 3, e2 VARCHAR(5) NOT NULL DEFAULT '', ts TIMESTAMP NULL DEFAULT NULL, " +
			"PRIMARY KEY (id) COMMENT 'pk', FULLTEXT KEY ft (lt), KEY k2 (mi) COMMENT 'idx') " +
			"ENGINE=InnoDB AUTO_INCREMENT=100 CHECKSUM=1 MAX_ROWS=1000 KEY_BLOCK_SIZE=8",
		"CREATE TABLE o2 (a INT, b INT) ENGINE=MyISAM DELAY_KEY_WRITE=1 ROW_FORMAT=FIXED",
		"CREATE TABLE o3 (a INT, b INT) PARTITION BY LIST (a) (PARTITION p0 VALUES IN (1, 2), PARTITION p1 VALUES IN (3))",
		"CREATE TABLE o4 (a INT, d DATE) PARTITION BY RANGE (a) SUBPARTITION BY HASH (MONTH(d)) SUBPARTITIONS 2 (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE)",
		"CREATE TABLE o5 (a INT, b VARCHAR(10)) PARTITION BY KEY (a) PARTITIONS 2",
		"CREATE TABLE o6 (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id) ON DELETE RESTRICT ON UPDATE NO ACTION)",
		"ALTER TABLE o1 DROP PRIMARY KEY, ADD PRIMARY KEY (id, mi), ALGORITHM=COPY",
		"ALTER TABLE o1 MODIFY COLUMN mi MEDIUMINT NOT NULL FIRST, ORDER BY id",
		"ALTER TABLE o2 ENGINE=Aria TRANSACTIONAL=1",
		"ALTER TABLE o3 TRUNCATE PARTITION p1",
		"ALTER TABLE o5 COALESCE PARTITION 1",
		"ALTER TABLE o1 ALTER COLUMN e2 DROP DEFAULT, RENAME COLUMN r TO r2",
		"TRUNCATE TABLE sel",
		"DROP TABLE IF EXISTS sel, nothere",
		"ALTER TABLE g ADD CONSTRAINT chk_b CHECK (a < 100), ADD CONSTRAINT chk_c CHECK (a <> 7)",
		"ALTER TABLE g DROP CONSTRAINT chk_b",
		"CREATE DEFINER=`someone`@`%` SQL SECURITY DEFINER VIEW vd AS SELECT id FROM a",
		"CREATE ALGORITHM=MERGE DEFINER=`other`@`localhost` SQL SECURITY INVOKER VIEW vi AS SELECT id FROM a WITH CASCADED CHECK OPTION",
	}
	for _, s := range stmts {
		st := Parse(src, s)
		if !st.Parsed {
			t.Fatalf("%q not parsed: %v", s, st.ParseErr)
		}
		tgt, err := st.Render(m)
		if err != nil {
			t.Fatalf("render %q: %v", s, err)
		}
		if _, err := srcConn.ExecContext(ctx, s); err != nil {
			t.Fatalf("source %q: %v", s, err)
		}
		if _, err := dstConn.ExecContext(ctx, tgt.SQL); err != nil {
			t.Fatalf("target %q (from %q): %v", tgt.SQL, s, err)
		}
	}
	srcObjs, dstObjs := definitions(t, inst.DB(), src), definitions(t, inst.DB(), dst)
	if len(srcObjs) < 15 {
		t.Fatalf("only %d objects in the source: %v", len(srcObjs), srcObjs)
	}
	for name, def := range srcObjs {
		got := strings.ReplaceAll(dstObjs[name], "`"+dst+"`", "`"+src+"`")
		if got != def {
			t.Errorf("%s differs:\nsource %s\ntarget %s", name, def, got)
		}
	}
	if len(dstObjs) != len(srcObjs) {
		t.Errorf("source has %d objects, target %d", len(srcObjs), len(dstObjs))
	}

	// CREATE DATABASE keeps its charset and collation.
	sdb, ddb := src+"_l2", dst+"_l2"
	t.Cleanup(func() {
		_, _ = inst.DB().Exec("DROP DATABASE IF EXISTS `" + sdb + "`")
		_, _ = inst.DB().Exec("DROP DATABASE IF EXISTS `" + ddb + "`")
	})
	create := "CREATE DATABASE `" + sdb + "` /*!40100 DEFAULT CHARACTER SET latin2 COLLATE latin2_czech_cs */"
	tgt, err := Parse("", create).Render(renameDB{sdb, ddb})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{create, tgt.SQL, "ALTER DATABASE `" + sdb + "` COLLATE latin2_general_ci"} {
		if _, err := inst.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	alter, err := Parse(sdb, "ALTER DATABASE COLLATE latin2_general_ci").Render(renameDB{sdb, ddb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DB().Exec(alter.SQL); err != nil {
		t.Fatalf("%s: %v", alter.SQL, err)
	}
	var scs, sco, dcs, dco string
	q := "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
	if err := inst.DB().QueryRow(q, sdb).Scan(&scs, &sco); err != nil {
		t.Fatal(err)
	}
	if err := inst.DB().QueryRow(q, ddb).Scan(&dcs, &dco); err != nil {
		t.Fatal(err)
	}
	if scs != "latin2" || sco != "latin2_general_ci" || dcs != scs || dco != sco {
		t.Fatalf("database charset/collation: source %s/%s, target %s/%s", scs, sco, dcs, dco)
	}
}

// definitions is SHOW CREATE of every table, view and sequence of db, by name.
func definitions(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", name)
	if err != nil {
		t.Fatal(err)
	}
	type obj struct{ name, typ string }
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.name, &o.typ); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range objs {
		what := "TABLE"
		switch o.typ {
		case "VIEW":
			what = "VIEW"
		case "SEQUENCE":
			what = "SEQUENCE"
		}
		r, err := db.Query("SHOW CREATE " + what + " `" + name + "`.`" + strings.ReplaceAll(o.name, "`", "``") + "`")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if !r.Next() {
			t.Fatalf("SHOW CREATE %s %s: no row", what, o.name)
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r.Close()
		out[o.name] = vals[1].String
	}
	return out
}

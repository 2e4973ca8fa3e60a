package ddl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// describe is a one-line summary of what Parse found: kind, ~ when the parser could not read the
// statement, flags, changed objects and, after <-, read tables.
func describe(s *Stmt) string {
	var b strings.Builder
	b.WriteString(string(s.Kind))
	if b.Len() == 0 {
		b.WriteString("OTHER")
	}
	if !s.Parsed {
		b.WriteString("~")
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{s.IfExists, "ifexists"}, {s.IfNotExists, "ifnotexists"}, {s.OrReplace, "orreplace"}, {s.Temporary, "temp"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if s.Charset != "" || s.Collation != "" {
		fmt.Fprintf(&b, " cs=%s/%s", s.Charset, s.Collation)
	}
	fmt.Fprintf(&b, " %s", objs(s.Changes))
	if len(s.Reads) > 0 {
		fmt.Fprintf(&b, " <- %s", objs(s.Reads))
	}
	return b.String()
}

func objs(os []Object) string {
	var p []string
	for _, o := range os {
		p = append(p, o.String())
	}
	return "[" + strings.Join(p, " ") + "]"
}

// TestParse: each statement's kind, flags and objects (default database "d"). A ~ marks the
// statements the TiDB parser cannot read, classified from their head.
func TestParse(t *testing.T) {
	cases := []struct{ stmt, want string }{
		{"CREATE TABLE t (a INT)", "CREATE TABLE [d.t]"},
		{"CREATE TABLE IF NOT EXISTS x.t (id INT PRIMARY KEY)", "CREATE TABLE ifnotexists [x.t]"},
		{"CREATE TEMPORARY TABLE t (id INT)", "CREATE TABLE temp [d.t]"},
		{"create table `we``ird` (a int)", "CREATE TABLE [d.we`ird]"},
		{"CREATE TABLE `a.b` (`c d` varchar(10) DEFAULT 'x;DROP TABLE y', e varchar(3) DEFAULT _latin1'abc')", "CREATE TABLE [d.a.b]"},
		{"CREATE TABLE `tä blé` (`ünï` INT) COMMENT 'RENAME TABLE a TO b; -- not a comment'", "CREATE TABLE [d.tä blé]"},
		{"CREATE TABLE t2 LIKE t1", "CREATE TABLE [d.t2] <- [d.t1]"},
		{"CREATE TABLE t2 (LIKE x.t1)", "CREATE TABLE [d.t2] <- [x.t1]"},
		{"CREATE TABLE t3 AS SELECT a, b FROM t1 JOIN x.t2 USING (a)", "CREATE TABLE [d.t3] <- [d.t1 x.t2]"},
		{"CREATE TABLE t3 (id INT PRIMARY KEY) SELECT id FROM t1", "CREATE TABLE [d.t3] <- [d.t1]"},
		{"CREATE TABLE t4 (id INT, p INT, FOREIGN KEY (p) REFERENCES parent (id) ON UPDATE CASCADE)", "CREATE TABLE [d.t4] <- [d.parent]"},
		{"CREATE TABLE t5 (a INT, b INT AS (a + 1) VIRTUAL, c INT GENERATED ALWAYS AS (a * 2) STORED)", "CREATE TABLE [d.t5]"},
		{"CREATE TABLE t6 (a INT) /*!50100 PARTITION BY HASH (a) PARTITIONS 4 */", "CREATE TABLE [d.t6]"},
		{"CREATE TABLE t7 (a INT, d DATE) PARTITION BY RANGE (YEAR(d)) (PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN MAXVALUE)", "CREATE TABLE [d.t7]"},
		{"CREATE TABLE t8 (a VARCHAR(10) CHARACTER SET latin2 COLLATE latin2_czech_cs) DEFAULT CHARSET=sjis", "CREATE TABLE [d.t8]"},
		{"CREATE TABLE t9 (a VARCHAR(10) CHARACTER SET utf16, b TEXT CHARACTER SET utf32, c CHAR(3) CHARACTER SET ucs2) ENGINE=InnoDB", "CREATE TABLE [d.t9]"},
		{"CREATE TABLE m (a INT) ENGINE=MERGE UNION=(m1, x.m2) INSERT_METHOD=LAST", "CREATE TABLE [d.m] <- [d.m1 x.m2]"},
		{"CREATE TABLE /* inline */ t10 (a INT) -- trailing", "CREATE TABLE [d.t10]"},
		{"CREATE TABLE t11 (a INT) # hash comment", "CREATE TABLE [d.t11]"},
		{"/* leading */ CREATE TABLE t12 (a BIT(3) DEFAULT b'101', b BOOL, c SERIAL, d DECIMAL(10,2) UNSIGNED ZEROFILL)", "CREATE TABLE [d.t12]"},
		{"CREATE TABLE t13 (a INT) WITH SYSTEM VERSIONING", "CREATE TABLE~ [d.t13]"},
		{"CREATE OR REPLACE TABLE t14 (a INT)", "CREATE TABLE~ orreplace [d.t14]"},
		{"CREATE TABLE t15 (a INT, b INT AS (a + 1) PERSISTENT)", "CREATE TABLE~ [d.t15]"},
		{"CREATE TABLE t16 (a INT, b INT INVISIBLE)", "CREATE TABLE~ [d.t16]"},
		{"CREATE TABLE t17 (g GEOMETRY NOT NULL, SPATIAL INDEX (g))", "CREATE TABLE~ [d.t17]"},
		{"CREATE TABLE t18 (a INT) /*M!100100 ENGINE=Aria */", "CREATE TABLE~ [d.t18]"},
		{"CREATE TABLE t19 (j JSON, s SET('a','b'), e ENUM('x','y') DEFAULT 'x', ts TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3))", "CREATE TABLE [d.t19]"},
		{"CREATE TABLE t20 (a INT CHECK (a > 0), CONSTRAINT c1 CHECK (a < 100))", "CREATE TABLE [d.t20]"},
		{"CREATE TABLE t21 (a VARCHAR(20) DEFAULT 'it''s; \"quoted\" \\\\ back')", "CREATE TABLE [d.t21]"},
		{"ALTER TABLE t ADD COLUMN b INT", "ALTER TABLE [d.t]"},
		{"ALTER TABLE `x`.`t` DROP COLUMN a", "ALTER TABLE [x.t]"},
		{"ALTER ONLINE IGNORE TABLE t ADD c INT", "ALTER TABLE~ [d.t]"},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS b INT", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t DROP COLUMN IF EXISTS b", "ALTER TABLE [d.t]"},
		{"ALTER TABLE IF EXISTS t ADD c INT", "ALTER TABLE~ ifexists [d.t]"},
		{"ALTER TABLE a RENAME TO x.b", "ALTER TABLE [d.a x.b]"},
		{"ALTER TABLE a RENAME AS b", "ALTER TABLE [d.a d.b]"},
		{"ALTER TABLE a RENAME COLUMN p TO q", "ALTER TABLE [d.a]"},
		{"ALTER TABLE a RENAME INDEX i1 TO i2", "ALTER TABLE [d.a]"},
		{"ALTER TABLE t ENGINE=InnoDB", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t CONVERT TO CHARACTER SET latin2 COLLATE latin2_general_ci", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t MODIFY a VARCHAR(30) NOT NULL DEFAULT 'a;b', ALGORITHM=INPLACE, LOCK=NONE", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t CHANGE a b BIGINT UNSIGNED AFTER c", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t ADD INDEX ix (a, b(10)), ADD UNIQUE KEY ux (c)", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (p) REFERENCES y.parent (id) ON DELETE CASCADE", "ALTER TABLE [d.t] <- [y.parent]"},
		{"ALTER TABLE t DROP FOREIGN KEY fk", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t PARTITION BY HASH(a) PARTITIONS 4", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (3000))", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t DROP PARTITION p0", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t ADD SYSTEM VERSIONING", "ALTER TABLE~ [d.t]"},
		{"ALTER TABLE t AUTO_INCREMENT = 100", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t ADD COLUMN v INT AS (a + 1) VIRTUAL", "ALTER TABLE [d.t]"},
		{"ALTER TABLE t /*!50100 ENGINE=MyISAM */", "ALTER TABLE [d.t]"},
		{"DROP TABLE t", "DROP TABLE [d.t]"},
		{"DROP TABLE IF EXISTS a, x.b /* generated by server */", "DROP TABLE ifexists [d.a x.b]"},
		{"DROP TABLE `a`,`b`,`c`", "DROP TABLE [d.a d.b d.c]"},
		{"DROP TEMPORARY TABLE IF EXISTS t", "DROP TABLE ifexists temp [d.t]"},
		{"RENAME TABLE a TO b", "RENAME TABLE [d.a d.b]"},
		{"RENAME TABLE a TO b, x.c TO y.c", "RENAME TABLE [d.a d.b x.c y.c]"},
		{"RENAME TABLE `a.b` TO `c d`", "RENAME TABLE [d.a.b d.c d]"},
		{"TRUNCATE TABLE t", "TRUNCATE TABLE [d.t]"},
		{"TRUNCATE x.t", "TRUNCATE TABLE [x.t]"},
		{"CREATE INDEX i ON t (a)", "CREATE INDEX [d.t]"},
		{"CREATE UNIQUE INDEX i ON x.t (a)", "CREATE INDEX [x.t]"},
		{"CREATE INDEX IF NOT EXISTS i ON t (a)", "CREATE INDEX ifnotexists [d.t]"},
		{"CREATE FULLTEXT INDEX fi ON t (txt)", "CREATE INDEX [d.t]"},
		{"DROP INDEX i ON t", "DROP INDEX [d.t]"},
		{"DROP INDEX IF EXISTS i ON x.t", "DROP INDEX ifexists [x.t]"},
		{"CREATE DATABASE n", "CREATE DATABASE [n.]"},
		{"CREATE DATABASE IF NOT EXISTS `n`", "CREATE DATABASE ifnotexists [n.]"},
		{"CREATE DATABASE `l2` /*!40100 DEFAULT CHARACTER SET latin2 COLLATE latin2_general_ci */", "CREATE DATABASE cs=latin2/latin2_general_ci [l2.]"},
		{"CREATE SCHEMA s DEFAULT CHARSET utf8mb4", "CREATE DATABASE cs=utf8mb4/ [s.]"},
		{"CREATE DATABASE c COLLATE utf8mb4_unicode_ci", "CREATE DATABASE cs=/utf8mb4_unicode_ci [c.]"},
		{"CREATE OR REPLACE DATABASE n", "CREATE DATABASE~ orreplace [n.]"},
		{"ALTER DATABASE n CHARACTER SET = latin1", "ALTER DATABASE cs=latin1/ [n.]"},
		{"ALTER DATABASE DEFAULT CHARACTER SET utf8", "ALTER DATABASE cs=utf8/ [d.]"},
		{"DROP DATABASE n", "DROP DATABASE [n.]"},
		{"DROP DATABASE IF EXISTS `n`", "DROP DATABASE ifexists [n.]"},
		{"DROP SCHEMA n", "DROP DATABASE [n.]"},
		{"CREATE VIEW v AS SELECT t.a, u.b FROM t JOIN x.u ON t.a = u.a", "CREATE VIEW [d.v] <- [d.t x.u]"},
		{"CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT 1", "CREATE VIEW orreplace [d.v]"},
		{"CREATE VIEW v2 AS WITH c AS (SELECT a FROM t) SELECT * FROM c", "CREATE VIEW [d.v2] <- [d.t]"},
		{"ALTER VIEW v AS SELECT 2", "ALTER VIEW~ [d.v]"},
		{"DROP VIEW IF EXISTS v, x.w", "DROP VIEW ifexists [d.v x.w]"},
		{"CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "CREATE TRIGGER~ [d.t]"},
		{"CREATE TRIGGER IF NOT EXISTS x.tr AFTER UPDATE ON x.t FOR EACH ROW INSERT INTO log VALUES (1)", "CREATE TRIGGER~ ifnotexists [x.t]"},
		{"DROP TRIGGER IF EXISTS x.tr", "DROP TRIGGER~ ifexists [x.]"},
		{"CREATE PROCEDURE p() BEGIN SELECT 1; END", "CREATE PROCEDURE [d.p]"},
		{"CREATE DEFINER=`root`@`%` PROCEDURE x.p(IN a INT) BEGIN INSERT INTO t VALUES (a); END", "CREATE PROCEDURE~ [x.p]"},
		{"DROP PROCEDURE IF EXISTS p", "DROP PROCEDURE ifexists [d.p]"},
		{"CREATE FUNCTION f(a INT) RETURNS INT DETERMINISTIC RETURN a + 1", "CREATE FUNCTION~ [d.f]"},
		{"DROP FUNCTION IF EXISTS f", "DROP FUNCTION~ ifexists [d.f]"},
		{"CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM t", "CREATE EVENT~ [d.e]"},
		{"ALTER EVENT e DISABLE", "ALTER EVENT~ [d.e]"},
		{"DROP EVENT IF EXISTS e", "DROP EVENT~ ifexists [d.e]"},
		{"CREATE SEQUENCE s START WITH 1 INCREMENT BY 1", "CREATE SEQUENCE [d.s]"},
		{"CREATE SEQUENCE IF NOT EXISTS x.s", "CREATE SEQUENCE ifnotexists [x.s]"},
		{"DROP SEQUENCE IF EXISTS s", "DROP SEQUENCE ifexists [d.s]"},
		{"GRANT SELECT ON *.* TO u", "ADMIN []"},
		{"FLUSH PRIVILEGES", "ADMIN []"},
		{"CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'p'", "ADMIN []"},
		{"CHECKSUM TABLE t", "ADMIN~ []"},
		{"OPTIMIZE TABLE t", "ADMIN []"},
		{"INSERT INTO t VALUES (1)", "OTHER [] <- [d.t]"},
		{"CREATE TABLE t22 (a VARCHAR(5) CHARACTER SET latin2 DEFAULT _latin2'x', b VARBINARY(4) DEFAULT X'0A0B', c CHAR(2) DEFAULT _utf8mb4'ü')", "CREATE TABLE~ [d.t22]"},
		{"ALTER TABLE t COMMENT = 'DROP DATABASE x; -- y'", "ALTER TABLE [d.t]"},
		{"CREATE TABLE `db.with.dots`.`t` (a INT)", "CREATE TABLE [db.with.dots.t]"},
		{"CREATE TABLE t23 (a INT) /*!100100 PAGE_CHECKSUM=1 */", "CREATE TABLE~ [d.t23]"},
		{"", "OTHER~ []"},
		{"/* unterminated", "OTHER~ []"},
		{"CREATE TABLE `unterminated (a INT)", "CREATE TABLE~ []"},
	}
	if len(cases) < 80 {
		t.Fatalf("only %d statements", len(cases))
	}
	for _, c := range cases {
		s := Parse("d", c.stmt)
		if got := describe(s); got != c.want {
			t.Errorf("Parse(%q) = %s, want %s (parse error: %v)", c.stmt, got, c.want, s.ParseErr)
		}
	}
}

package ddl

import (
	"strings"
	"testing"
)

// testMapper: database d is renamed d2 as a whole; table x.t becomes y.u; every other table of
// x is selected unchanged; nothing else is selected.
type testMapper struct{}

func (testMapper) Table(db, name string) (string, string, bool) {
	switch {
	case db == "d":
		return "d2", name, true
	case db == "x" && name == "t":
		return "y", "u", true
	case db == "x":
		return "x", name, true
	}
	return "", "", false
}

func (testMapper) Database(db string) (string, bool) {
	if db == "d" {
		return "d2", true
	}
	return "", false
}

// identity selects everything unchanged.
type identity struct{}

func (identity) Table(db, name string) (string, string, bool) { return db, name, true }
func (identity) Database(db string) (string, bool)            { return db, true }

func TestRender(t *testing.T) {
	cases := []struct{ db, stmt, want string }{
		{"d", "CREATE TABLE t (a INT)", "CREATE TABLE `d2`.`t` (`a` INT)"},
		{"x", "alter table t add column b int", "ALTER TABLE `y`.`u` ADD COLUMN `b` INT"},
		{"other", "RENAME TABLE x.t TO x.t_old, d.a TO d.b", "RENAME TABLE `y`.`u` TO `x`.`t_old`, `d2`.`a` TO `d2`.`b`"},
		{"x", "CREATE TABLE c LIKE t", "CREATE TABLE `x`.`c` LIKE `y`.`u`"},
		{"x", "CREATE TABLE c AS SELECT t.a, o.b FROM t JOIN other.o ON t.id = o.id", "CREATE TABLE `x`.`c` AS SELECT `u`.`a`,`o`.`b` FROM `y`.`u` JOIN `other`.`o` ON `u`.`id`=`o`.`id`"},
		{"x", "CREATE TABLE c (p INT, FOREIGN KEY (p) REFERENCES t (id) ON UPDATE CASCADE)", "CREATE TABLE `x`.`c` (`p` INT,CONSTRAINT FOREIGN KEY (`p`) REFERENCES `y`.`u`(`id`) ON UPDATE CASCADE)"},
		{"d", "CREATE TABLE m (a INT) ENGINE=MERGE UNION=(m1, m2) INSERT_METHOD=LAST", "CREATE TABLE `d2`.`m` (`a` INT) ENGINE = MERGE UNION = (`d2`.`m1`,`d2`.`m2`) INSERT_METHOD = LAST"},
		{"", "CREATE DATABASE `d` /*!40100 DEFAULT CHARACTER SET latin2 COLLATE latin2_general_ci */", "CREATE DATABASE `d2` CHARACTER SET = latin2 COLLATE = latin2_general_ci"},
		{"d", "ALTER DATABASE CHARACTER SET utf8mb4", "ALTER DATABASE `d2` CHARACTER SET = utf8mb4"},
		{"", "DROP DATABASE IF EXISTS d", "DROP DATABASE IF EXISTS `d2`"},
		{"x", "CREATE TABLE s (a VARCHAR(9) DEFAULT 'it''s; -- \\\\ x', b VARCHAR(3) CHARACTER SET latin1 DEFAULT _latin1'abc')", "CREATE TABLE `x`.`s` (`a` VARCHAR(9) DEFAULT 'it''s; -- \\\\ x',`b` VARCHAR(3) CHARACTER SET LATIN1 DEFAULT _LATIN1'abc')"},
		{"x", "CREATE VIEW v AS WITH c AS (SELECT a FROM t) SELECT * FROM c", "CREATE ALGORITHM = UNDEFINED DEFINER = CURRENT_USER SQL SECURITY DEFINER VIEW `x`.`v` AS WITH `c` AS (SELECT `a` FROM `y`.`u`) SELECT * FROM `c`"},
		{"x", "DROP TABLE IF EXISTS t, `odd name`", "DROP TABLE IF EXISTS `y`.`u`, `x`.`odd name`"},
		{"x", "CREATE INDEX i ON `t` (a) /* trailing */", "CREATE INDEX `i` ON `y`.`u` (`a`)"},
		{"x", "ALTER TABLE t DROP CONSTRAINT chk", "ALTER TABLE `y`.`u` DROP CONSTRAINT `chk`"},
		{"x", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", "ALTER TABLE `y`.`u` ADD CONSTRAINT `c` CHECK(`a`>0)"},
		{"x", "CREATE DEFINER=`u`@`%` SQL SECURITY INVOKER VIEW v AS SELECT a FROM t WITH CASCADED CHECK OPTION", "CREATE ALGORITHM = UNDEFINED DEFINER = `u`@`%` SQL SECURITY INVOKER VIEW `x`.`v` AS SELECT `a` FROM `y`.`u` WITH CASCADED CHECK OPTION"},
		{"x", "CREATE VIEW v AS SELECT a FROM t WITH LOCAL CHECK OPTION", "CREATE ALGORITHM = UNDEFINED DEFINER = CURRENT_USER SQL SECURITY DEFINER VIEW `x`.`v` AS SELECT `a` FROM `y`.`u` WITH LOCAL CHECK OPTION"},
		// not parsed, nothing renamed: verbatim in its default database
		{"x", "CREATE OR REPLACE TABLE keep (a INT) WITH SYSTEM VERSIONING", "CREATE OR REPLACE TABLE keep (a INT) WITH SYSTEM VERSIONING"},
		{"other", "CREATE TRIGGER tr BEFORE INSERT ON x.keep FOR EACH ROW SET NEW.a = 1", "CREATE TRIGGER tr BEFORE INSERT ON x.keep FOR EACH ROW SET NEW.a = 1"},
		{"x", "ALTER TABLE keep FORCE", "ALTER TABLE keep FORCE"},
	}
	for _, c := range cases {
		got, err := Parse(c.db, c.stmt).Render(testMapper{})
		if err != nil || got.SQL != c.want {
			t.Errorf("Render(%q) = %q, %v\n  want %q", c.stmt, got.SQL, err, c.want)
		}
		if verbatim := got.SQL == c.stmt; verbatim && got.UseDB != c.db || !verbatim && got.UseDB != "" {
			t.Errorf("Render(%q): default database %q", c.stmt, got.UseDB)
		}
	}
}

func TestRenderOptions(t *testing.T) {
	cases := []struct{ stmt, want string }{
		{"DROP TABLE a, x.t, other.o", "DROP TABLE IF EXISTS `d2`.`a`, `y`.`u`"},
		{"CREATE DATABASE d CHARACTER SET latin2", "CREATE DATABASE IF NOT EXISTS `d2` CHARACTER SET = latin2"},
		{"CREATE TABLE t (a INT)", "CREATE TABLE IF NOT EXISTS `d2`.`t` (`a` INT)"},
		{"CREATE INDEX i ON t (a)", "CREATE INDEX IF NOT EXISTS `i` ON `d2`.`t` (`a`)"},
		{"DROP INDEX i ON x.t", "DROP INDEX IF EXISTS `i` ON `y`.`u`"},
	}
	for _, c := range cases {
		got, err := Parse("d", c.stmt).Render(testMapper{}, Tolerant(), OnlyMapped())
		if err != nil || got.SQL != c.want {
			t.Errorf("Render(%q) = %q, %v\n  want %q", c.stmt, got.SQL, err, c.want)
		}
	}
	if _, err := Parse("d", "DROP TABLE other.o").Render(testMapper{}, OnlyMapped()); err == nil {
		t.Error("DROP TABLE of nothing selected rendered")
	}
}

// TestRenderRefusesRenamedFallback: a statement the parser cannot read is never passed through
// when it may name a renamed object; the error says why.
func TestRenderRefusesRenamedFallback(t *testing.T) {
	for _, c := range []struct{ db, stmt, names string }{
		{"d", "CREATE OR REPLACE TABLE t (a INT)", "default database d"},
		{"x", "CREATE TABLE t (a INT) WITH SYSTEM VERSIONING", "table x.t"},
		{"other", "CREATE TRIGGER tr BEFORE INSERT ON x.t FOR EACH ROW SET NEW.a = 1", "table x.t"},
		{"other", "CREATE TRIGGER tr BEFORE INSERT ON `x`.`t` FOR EACH ROW SET NEW.a = 1", "table x.t"},
		{"other", "CREATE TABLE o (a INT) /*M!100000 UNION=(d.z) */", "database d"},
		{"other", "CREATE OR REPLACE TABLE o (g GEOMETRY) COMMENT 'unterminated", "not even complete"},
		// parsed, but the tree drops an option: treated like an unparsed statement
		{"d", "CREATE TABLE t (a INT) STATS_PERSISTENT=0", "default database d"},
		{"x", "ALTER TABLE t PACK_KEYS=1", "table x.t"},
		{"x", "ALTER TABLE t ADD c NATIONAL VARCHAR(3)", "table x.t"},
	} {
		_, err := Parse(c.db, c.stmt).Render(testMapper{})
		if err == nil || !strings.Contains(err.Error(), c.names) {
			t.Errorf("Render(%q): want an error naming %q, got %v", c.stmt, c.names, err)
		}
	}
}

package incrsync

import (
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// TestPlanDDL: what runs on the target for a source DDL, with a selection that takes database s
// whole (as s2), one table r.t (as r2.u) and database k unchanged; "!" marks a refusal.
func TestPlanDDL(t *testing.T) {
	sel, err := selection.Compile(selection.Config{Tables: []selection.Rule{
		{DB: "s", Table: "*", RenameDB: "s2"},
		{DB: "r", Table: "t", RenameDB: "r2", RenameTable: "u"},
		{DB: "k", Table: "*"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := ddl.CompilePolicy(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ db, stmt, want string }{
		{"s", "CREATE TABLE a (id INT) /* c */", "CREATE DATABASE IF NOT EXISTS `s2`; CREATE TABLE `s2`.`a` (`id` INT)"},
		{"", "CREATE DATABASE s /*!40100 DEFAULT CHARACTER SET latin2 COLLATE latin2_czech_cs */", "CREATE DATABASE IF NOT EXISTS `s2` CHARACTER SET = latin2 COLLATE = latin2_czech_cs"},
		{"s", "ALTER DATABASE CHARACTER SET latin1", "ALTER DATABASE `s2` CHARACTER SET = latin1"},
		{"", "CREATE DATABASE r", "skip"},
		{"", "CREATE DATABASE other", "skip"},
		{"", "DROP DATABASE IF EXISTS s", "DROP DATABASE IF EXISTS `s2`"},
		{"", "DROP DATABASE r", "!only partly selected"},
		{"", "DROP DATABASE IF EXISTS nope", "skip"},
		{"r", "ALTER TABLE t ADD c INT", "ALTER TABLE `r2`.`u` ADD COLUMN `c` INT"},
		{"r", "ALTER TABLE other ADD c INT", "skip"},
		{"x", "DROP TABLE IF EXISTS r.t, r.v, s.a", "DROP TABLE IF EXISTS `r2`.`u`, `s2`.`a`"},
		{"x", "RENAME TABLE r.t TO r.t_old", "!moves a table"},
		{"s", "RENAME TABLE a TO b", "RENAME TABLE `s2`.`a` TO `s2`.`b`"},
		{"s", "CREATE TEMPORARY TABLE tmp (a INT)", "skip"},
		{"s", "GRANT SELECT ON s.* TO u", "skip"},
		{"s", "CREATE VIEW v AS SELECT a FROM t", "CREATE ALGORITHM = UNDEFINED DEFINER = CURRENT_USER SQL SECURITY DEFINER VIEW `s2`.`v` AS SELECT `a` FROM `s2`.`t`"},
		{"x", "CREATE VIEW v AS SELECT 1", "skip"},
		{"k", "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "skip"},
		{"k", "CREATE PROCEDURE p() SELECT 1", "USE `k`; CREATE PROCEDURE p() SELECT 1"},
		{"r", "CREATE PROCEDURE p() SELECT 1", "skip"},
		{"s", "CREATE PROCEDURE p() SELECT 1", "!renames"},
		// MariaDB syntax the parser cannot read: verbatim in its database when nothing is renamed
		{"k", "CREATE OR REPLACE TABLE t (a INT) WITH SYSTEM VERSIONING", "CREATE DATABASE IF NOT EXISTS `k`; USE `k`; CREATE OR REPLACE TABLE t (a INT) WITH SYSTEM VERSIONING"},
		{"k", "ALTER TABLE t ADD g GEOMETRY", "USE `k`; ALTER TABLE t ADD g GEOMETRY"},
		{"x", "ALTER TABLE k.t ADD b INT INVISIBLE", "ALTER TABLE k.t ADD b INT INVISIBLE"},
		{"x", "CREATE SEQUENCE IF NOT EXISTS k.seq", "CREATE SEQUENCE IF NOT EXISTS `k`.`seq`"},
		// ... and refused when a name in it is renamed
		{"s", "CREATE OR REPLACE TABLE a (a INT)", "!renames"},
		{"x", "ALTER TABLE r.t ADD g GEOMETRY", "!renames"},
		{"x", "ALTER TABLE IF EXISTS x.nope ADD c INT", "skip"},
		{"k", "TRUNCATE `unterminated", "!TRUNCATE"},
	}
	for _, c := range cases {
		plan, err := planDDL(sel, pol, &changelog.DDL{DB: c.db, Statement: c.stmt}, "0-1-9")
		got := "skip"
		switch {
		case err != nil:
			if omserr.CodeOf(err) != omserr.IncrDDLUnsupported {
				t.Errorf("%q: %v", c.stmt, err)
				continue
			}
			got = "!" + err.Error()
		case len(plan.stmts) > 0:
			got = strings.Join(plan.stmts, "; ")
		}
		if strings.HasPrefix(c.want, "!") && (!strings.HasPrefix(got, "!") || !strings.Contains(got, c.want[1:])) || !strings.HasPrefix(c.want, "!") && got != c.want {
			t.Errorf("%q in %q:\n got %s\nwant %s", c.stmt, c.db, got, c.want)
		}
	}
}

package ddl

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics, and a parsed statement rendered with the identity mapping reads
// back as the same kind with the same flags and objects.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CREATE TABLE t (a INT)", "ALTER TABLE t ADD c INT, RENAME TO u", "RENAME TABLE a TO b, x.c TO y.c",
		"DROP TABLE IF EXISTS `a`.`b`, c", "CREATE INDEX i ON t(a)", "/* x", "CREATE TABLE c LIKE t",
		"CREATE DATABASE d /*!40100 DEFAULT CHARACTER SET latin2 */", "CREATE OR REPLACE TABLE t (a INT) WITH SYSTEM VERSIONING",
		"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1", "CREATE TABLE t (a VARCHAR(3) DEFAULT 'x;y')",
		"CREATE VIEW v AS WITH c AS (SELECT a FROM t) SELECT c.a FROM c", "CREATE TABLE m (a INT) ENGINE=MERGE UNION=(m1,m2)",
		"CREATE TABLE `a.b` (`c d` INT) /*M!100000 ENGINE=Aria */ -- x", "ALTER DATABASE CHARACTER SET utf8mb4",
	} {
		f.Add("d", s)
	}
	f.Fuzz(func(t *testing.T, db, stmt string) {
		if strings.TrimRight(db, " ") != db || !utf8.ValidString(db) {
			db = "d" // not a database name MySQL accepts: the binlog has none
		}
		s := Parse(db, stmt)
		if s.Parsed == (s.ParseErr != nil) {
			t.Fatalf("Parsed %v with error %v", s.Parsed, s.ParseErr)
		}
		tgt, err := s.Render(identity{})
		if !s.Parsed || err != nil {
			return
		}
		again := Parse(db, tgt.SQL)
		if !again.Parsed {
			t.Fatalf("render of %q does not parse: %q: %v", stmt, tgt.SQL, again.ParseErr)
		}
		if describe(again) != describe(s) || !reflect.DeepEqual(again.Tables(), s.Tables()) {
			t.Fatalf("%q\nrendered %q\nreads as %s\nnot %s", stmt, tgt.SQL, describe(again), describe(s))
		}
	})
}

package rowfilter

import (
	"reflect"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
)

func TestParseRenders(t *testing.T) {
	for _, tc := range []struct {
		in, sql string
		cols    []string
	}{
		{"id > 10", "(`id` > 10)", []string{"id"}},
		{"status = 'paid' AND created_at >= '2024-01-01'", "((`status` = 'paid') AND (`created_at` >= '2024-01-01'))", []string{"status", "created_at"}},
		{"a = 1 OR b = 2 AND c = 3", "((`a` = 1) OR ((`b` = 2) AND (`c` = 3)))", []string{"a", "b", "c"}},
		{"`we;ird``col` IS NOT NULL", "(`we;ird``col` IS NOT NULL)", []string{"we;ird`col"}},
		{"name LIKE 'a%' ESCAPE '!'", "(`name` LIKE 'a%' ESCAPE '!')", []string{"name"}},
		{"id IN (1, 2, 3) AND NOT deleted", "((`id` IN (1, 2, 3)) AND (NOT `deleted`))", []string{"id", "deleted"}},
		{"id BETWEEN 1 AND 5", "(`id` BETWEEN 1 AND 5)", []string{"id"}},
		{"LOWER(name) = 'bob' AND Id = id", "((LOWER(`name`) = 'bob') AND (`Id` = `id`))", []string{"name", "Id"}},
		{"s = 'it''s'", "(`s` = 'it''s')", []string{"s"}},
		{`s = 'a\\b'`, "(`s` = _utf8mb4 X'615c62')", []string{"s"}},
		{`s = "x;y"`, "(`s` = 'x;y')", []string{"s"}},
		{"d >= DATE '2024-01-01'", "(`d` >= DATE '2024-01-01')", []string{"d"}},
		{"DATE_ADD(d, INTERVAL 1 DAY) > '2024-01-01'", "(DATE_ADD(`d`, INTERVAL 1 DAY) > '2024-01-01')", []string{"d"}},
		{"EXTRACT(YEAR FROM d) = 2024", "(EXTRACT(YEAR FROM `d`) = 2024)", []string{"d"}},
		{"CASE WHEN a > 0 THEN 1 ELSE 0 END = 1", "((CASE WHEN (`a` > 0) THEN 1 ELSE 0 END) = 1)", []string{"a"}},
		{"price * 2 >= 10.50 AND x IS TRUE", "(((`price` * 2) >= 10.50) AND (`x` IS TRUE))", []string{"price", "x"}},
		{"b = x'ff' AND c = 0x01", "((`b` = X'ff') AND (`c` = X'01'))", []string{"b", "c"}},
		{"n = -1 AND m <> NULL", "((`n` = (-1)) AND (`m` <> NULL))", []string{"n", "m"}},
		{"name = 'a' COLLATE utf8mb4_bin", "(`name` = ('a' COLLATE utf8mb4_bin))", []string{"name"}},
	} {
		f, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := f.SQL(); got != tc.sql {
			t.Errorf("Parse(%q).SQL() = %s, want %s", tc.in, got, tc.sql)
		}
		if got := f.Columns(); !reflect.DeepEqual(got, tc.cols) {
			t.Errorf("Parse(%q).Columns() = %q, want %q", tc.in, got, tc.cols)
		}
		// The rendering is itself an allowed filter that renders the same (a fixed point).
		again, err := Parse(f.SQL())
		if err != nil || again.SQL() != f.SQL() {
			t.Errorf("re-parse of %s: %v %v", f.SQL(), err, again)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ in, code, names string }{
		{"1=0) UNION ALL SELECT user, password FROM mysql.user WHERE (1=1", omserr.FilterUnion, "UNION"},
		{"1=1) INTO OUTFILE '/tmp/x' -- ", omserr.FilterInto, "INTO"},
		{"1=1) INTO DUMPFILE '/tmp/x' #", omserr.FilterComment, "#"},
		{"1=1 `;` DROP TABLE t", omserr.FilterSyntax, "near \"`;` DROP"},
		{"id=1; DROP TABLE t", omserr.FilterStatements, "';'"},
		{"(SELECT 1)", omserr.FilterSubquery, "subqueries"},
		{"id IN (SELECT id FROM mysql.user)", omserr.FilterSubquery, "subquery"},
		{"EXISTS (SELECT 1)", omserr.FilterSubquery, "subqueries"},
		{"id = ANY (SELECT 1)", omserr.FilterSubquery, "subqueries"},
		{"SLEEP(1)", omserr.FilterFunction, "SLEEP"},
		{"BENCHMARK(1000000, MD5('a')) = 0", omserr.FilterFunction, "BENCHMARK"},
		{"LOAD_FILE('/etc/passwd') IS NOT NULL", omserr.FilterFunction, "LOAD_FILE"},
		{"created_at < NOW()", omserr.FilterFunction, "NOW"},
		{"RAND() < 0.5", omserr.FilterFunction, "RAND"},
		{"USER() = 'root'", omserr.FilterFunction, "USER"},
		{"mydb.f(id) = 1", omserr.FilterFunction, "mydb.f"},
		{"COUNT(*) > 0", omserr.FilterFunction, "COUNT"},
		{"@@version LIKE '10%'", omserr.FilterVariable, "@@version"},
		{"@x = 1", omserr.FilterVariable, "@x"},
		{"id = 1 /* */", omserr.FilterComment, "/*"},
		{"/*!50000 1=1 */ id = 1", omserr.FilterComment, "/*"},
		{"id = 1 -- x", omserr.FilterComment, "--"},
		{"id = 1 # x", omserr.FilterComment, "#"},
		{"id = 1) ORDER BY (id", omserr.FilterClause, "ORDER BY"},
		{"id = 1) LIMIT 1 -- ", omserr.FilterClause, "LIMIT"},
		{"id = 1) FOR UPDATE -- ", omserr.FilterClause, "FOR UPDATE"},
		{"id = 1) GROUP BY (id", omserr.FilterClause, "GROUP BY"},
		{"t.id = 1", omserr.FilterNotAllowed, "t.id"},
		{"id = ?", omserr.FilterNotAllowed, "placeholder"},
		{"CAST(id AS CHAR) = '1'", omserr.FilterFunction, "CAST"},
		{"id = ", omserr.FilterSyntax, "not a valid expression"},
		{"", omserr.FilterSyntax, "empty"},
		{"id = 1)) OR ((1", omserr.FilterSyntax, "not a valid expression"},
		{strings.Repeat("a", MaxLen+1), omserr.FilterTooLong, "more than"},
	} {
		f, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted, renders %s", tc.in, f.SQL())
			continue
		}
		if got := omserr.CodeOf(err); got != tc.code {
			t.Errorf("Parse(%q) code %s, want %s (%v)", tc.in, got, tc.code, err)
		}
		if !strings.Contains(err.Error(), tc.names) {
			t.Errorf("Parse(%q) error does not name %q: %v", tc.in, tc.names, err)
		}
	}
}

func TestBind(t *testing.T) {
	f, err := Parse("ID > 1 AND Name = 'x'")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Bind("shop.orders", []string{"id", "name", "total"})
	if err != nil || got != "((`id` > 1) AND (`name` = 'x'))" {
		t.Fatalf("Bind = %s, %v", got, err)
	}
	_, err = f.Bind("shop.orders", []string{"id", "total"})
	if omserr.CodeOf(err) != omserr.FilterColumnUnknown || !strings.Contains(err.Error(), `"Name"`) || !strings.Contains(err.Error(), "shop.orders") {
		t.Fatalf("Bind with a missing column: %v", err)
	}
	// A backquoted ';' is a column name: syntax allows it, the table does not have it.
	f, err = Parse("`;` = 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bind("shop.orders", []string{"id"}); omserr.CodeOf(err) != omserr.FilterColumnUnknown {
		t.Fatalf("Bind of `;`: %v", err)
	}
}

// FuzzParse: whatever is accepted renders to SQL that parses again to the same rendering, and
// that rendering holds no comment and no ';' outside quotes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"id > 1", "a = 'x' OR b IN (1,2)", "1=0) UNION SELECT 1 FROM t WHERE (1=1", "s = 'a\\'b'", "`a``b` = \"c\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if omserr.CodeOf(err) == "" {
				t.Fatalf("error without code: %v", err)
			}
			return
		}
		out := p.SQL()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("rendering %s of %q does not parse: %v", out, s, err)
		}
		if again.SQL() != out {
			t.Fatalf("rendering is not stable: %s -> %s", out, again.SQL())
		}
	})
}

package selection

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func TestMatchPattern(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "orders", true},
		{"orders", "orders", true},
		{"orders", "Orders", false}, // case-sensitive
		{"ord*", "orders", true},
		{"ord*", "ord", true},
		{"ord*", "or", false},
		{"*s", "orders", true},
		{"*der*", "orders", true},
		{"*x*", "orders", false},
		{"log_?", "log_1", true},
		{"log_?", "log_12", false},
		{"log_?", "log_", false},
		{"t[0-9]", "t7", true},
		{"t[0-9]", "tx", false},
		{"t[!0-9]", "tx", true},
		{"t[!0-9]", "t7", false},
		{"t[^0-9]", "tx", true},
		{"t[abc]", "tb", true},
		{"t[abc]", "td", false},
		{"t[]]", "t]", true},
		{"t[!]]", "t]", false},
		{"t[a-]", "t-", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\?`, "a?", true},
		{`\[x]`, "[x]", true},
		{"?", "😀", true},      // one code point
		{"表_*", "表_订单", true}, // unicode
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"**a", "xa", true},
		{"*a*a*a*a*b", strings.Repeat("a", 40), false},
	}
	for _, c := range cases {
		got, err := MatchPattern(c.pattern, c.name)
		if err != nil {
			t.Errorf("MatchPattern(%q): %v", c.pattern, err)
			continue
		}
		if got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, p := range []string{"", "t[abc", "t[", `t\`, "t[z-a]", "t[!]"} {
		if _, err := MatchPattern(p, "x"); err == nil {
			t.Errorf("pattern %q: want an error", p)
		}
	}
}

func TestSelectorMatch(t *testing.T) {
	cfg := Config{
		Tables: []Rule{
			{DB: "shop", Table: "orders", RenameTable: "orders_v2", Where: "created_at >= '2024-01-01'", Columns: []string{"id", "total"}, DML: []string{"insert", "UPDATE"}},
			{DB: "shop", Table: "*", RenameDB: "shop_copy"},
			{DB: "log_[0-9]", Table: "ev_?"},
			{DB: "shard_*", RenameDB: "merged"},
		},
		Exclude: []Rule{
			{DB: "shop", Table: "tmp_*"},
			{DB: "shard_9"},
		},
	}
	s, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		db, table string
		ok        bool
		want      Target
	}{
		{"shop", "orders", true, Target{DB: "shop", Table: "orders_v2", Filter: s.include[0].filter, Columns: []string{"id", "total"}, DML: OpInsert | OpUpdate, Rule: 0}},
		{"shop", "items", true, Target{DB: "shop_copy", Table: "items", DML: AllDML, Rule: 1}},
		{"shop", "tmp_x", false, Target{}}, // exclude wins over rule 1
		{"Shop", "items", false, Target{}}, // case-sensitive
		{"log_3", "ev_a", true, Target{DB: "log_3", Table: "ev_a", DML: AllDML, Rule: 2}},
		{"log_3", "ev_ab", false, Target{}},
		{"log_x", "ev_a", false, Target{}},
		{"shard_1", "t", true, Target{DB: "merged", Table: "t", DML: AllDML, Rule: 3}},
		{"shard_9", "t", false, Target{}},
		{"other", "t", false, Target{}},
	}
	if f := s.include[0].filter; f == nil || f.SQL() != "(`created_at` >= '2024-01-01')" {
		t.Fatalf("rule 0 filter = %v", f)
	}
	for _, c := range cases {
		got, ok := s.Match(c.db, c.table)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Match(%s, %s) = %+v, %v; want %+v, %v", c.db, c.table, got, ok, c.want, c.ok)
		}
	}
	mayCases := map[string]bool{"shop": true, "log_1": true, "shard_9": false, "shard_2": true, "x": false}
	for db, want := range mayCases {
		if got := s.MayMatchDB(db); got != want {
			t.Errorf("MayMatchDB(%s) = %v, want %v", db, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // substring of the error
	}{
		{"no rules", Config{}, "no include rule"},
		{"empty db", Config{Tables: []Rule{{Table: "t"}}}, "tables[0]"},
		{"bad db pattern", Config{Tables: []Rule{{DB: "a", Table: "t"}, {DB: "x[", Table: "t"}}}, "tables[1]"},
		{"rename wildcard table", Config{Tables: []Rule{{DB: "a", Table: "t*", RenameTable: "u"}}}, "several tables onto one"},
		{"rename is a pattern", Config{Tables: []Rule{{DB: "a", RenameDB: "b*"}}}, "not a pattern"},
		{"bad dml", Config{Tables: []Rule{{DB: "a", DML: []string{"TRUNCATE"}}}}, "TRUNCATE"},
		{"dup column", Config{Tables: []Rule{{DB: "a", Columns: []string{"x", "x"}}}}, "twice"},
		{"empty column", Config{Tables: []Rule{{DB: "a", Columns: []string{""}}}}, "columns[0]"},
		{"where statements", Config{Tables: []Rule{{DB: "a", Where: "1=1; DROP TABLE x"}}}, "';'"},
		{"where union", Config{Tables: []Rule{{DB: "a", Where: "1=0) UNION ALL SELECT 1 FROM mysql.user WHERE (1=1"}}}, "tables[0] (db \"a\", table \"\"): where: FILTER_UNION"},
		{"where subquery", Config{Tables: []Rule{{DB: "a", Where: "(SELECT 1)"}}}, "FILTER_SUBQUERY"},
		{"exclude with rename", Config{Tables: []Rule{{DB: "a"}}, Exclude: []Rule{{DB: "a", RenameDB: "b"}}}, "exclude[0]"},
		{"exclude bad pattern", Config{Tables: []Rule{{DB: "a"}}, Exclude: []Rule{{DB: "a", Table: "[z-a]"}}}, "reversed"},
	}
	for _, c := range cases {
		_, err := Compile(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
	}
	// A ';' inside a string literal is fine.
	if _, err := Compile(Config{Tables: []Rule{{DB: "a", Where: "note <> 'a;b'"}}}); err != nil {
		t.Errorf("quoted semicolon: %v", err)
	}
}

func TestConfigDecoding(t *testing.T) {
	js := `{"tables":[{"db":"src","table":"*","rename_db":"dst","where":"id > 5","columns":["id"],"dml":["INSERT"]},{"db":"x","table":"t","rename_table":"t2"}],"exclude":[{"db":"src","table":"skip"}]}`
	yml := `
tables:
  - db: src
    table: "*"
    rename_db: dst
    where: id > 5
    columns: [id]
    dml: [INSERT]
  - {db: x, table: t, rename_table: t2}
exclude:
  - {db: src, table: skip}
`
	var a, b Config
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(yml), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("json %+v != yaml %+v", a, b)
	}
	s, err := Compile(a)
	if err != nil {
		t.Fatal(err)
	}
	if tg, ok := s.Match("src", "anything"); !ok || tg.DB != "dst" || tg.Table != "anything" || tg.DML != OpInsert {
		t.Errorf("src.anything -> %+v %v", tg, ok)
	}
	if _, ok := s.Match("src", "skip"); ok {
		t.Error("src.skip should be excluded")
	}
	if tg, ok := s.Match("x", "t"); !ok || tg.Table != "t2" || tg.DB != "x" {
		t.Errorf("x.t -> %+v %v", tg, ok)
	}
}

func TestDMLOps(t *testing.T) {
	if !AllDML.Has(OpDelete) || (OpInsert | OpUpdate).Has(OpDelete) || OpInsert.Has(0) {
		t.Error("Has is wrong")
	}
	if got := (OpInsert | OpDelete).String(); got != "INSERT,DELETE" {
		t.Errorf("String = %q", got)
	}
}

// globToRegexp is an independent reference implementation used by the fuzz test.
func globToRegexp(p string) (*regexp.Regexp, bool) {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			if i+1 >= len(rs) {
				return nil, false
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			return nil, false // classes are covered by the table tests
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	return re, err == nil
}

func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"*", "x"}, {"a?c", "abc"}, {"t[0-9]*", "t1x"}, {`a\*`, "a*"}, {"*a*b", "xaab"}, {"[!a]", "b"}, {"?", "😀"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(name) {
			return
		}
		got, err := MatchPattern(pattern, name) // must not panic or hang
		if err != nil {
			return
		}
		if re, ok := globToRegexp(pattern); ok {
			if want := re.MatchString(name); want != got {
				t.Fatalf("MatchPattern(%q, %q) = %v, reference says %v", pattern, name, got, want)
			}
		}
		// A literal pattern (escaped) always matches the name itself.
		esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(name)
		if name != "" {
			if ok, err := MatchPattern(esc, name); err != nil || !ok {
				t.Fatalf("escaped %q does not match %q: %v", esc, name, err)
			}
		}
		// Compile never panics on arbitrary rules either.
		_, _ = Compile(Config{Tables: []Rule{{DB: pattern, Table: name}}, Exclude: []Rule{{DB: name}}})
	})
}

// TestSystemSchemasNeverSelected: a "*" rule (or even an explicit one) never takes the server's
// own schemas or oms's, in any letter case.
func TestSystemSchemasNeverSelected(t *testing.T) {
	sel, err := Compile(Config{Tables: []Rule{{DB: "*"}, {DB: "mysql", Table: "user"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"mysql", "information_schema", "INFORMATION_SCHEMA", "performance_schema", "sys", "__oms"} {
		if _, ok := sel.Match(db, "user"); ok || sel.MayMatchDB(db) {
			t.Errorf("%s is selected", db)
		}
	}
	if _, ok := sel.Match("shop", "orders"); !ok || !sel.MayMatchDB("shop") {
		t.Error("shop.orders is not selected")
	}
}

func TestStoreFilter(t *testing.T) {
	cfg := Config{
		Tables: []Rule{
			{DB: "shop", Table: "orders", RenameTable: "o2", Columns: []string{"id", "total"}, DML: []string{"INSERT"}},
			{DB: "shop", Table: "items", Where: "price > 10", Columns: []string{"id", "price"}},
			{DB: "shop_*", RenameDB: "all"},
		},
		Exclude: []Rule{{DB: "shop", Table: "tmp_*"}},
	}
	got := cfg.StoreFilter()
	want := Config{
		Tables:  []Rule{{DB: "shop", Table: "orders", Columns: []string{"id", "total"}}, {DB: "shop", Table: "items"}, {DB: "shop_*"}},
		Exclude: []Rule{{DB: "shop", Table: "tmp_*"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StoreFilter = %+v\nwant %+v", got, want)
	}
	if _, err := Compile(got); err != nil {
		t.Fatalf("the store filter does not compile: %v", err)
	}
}

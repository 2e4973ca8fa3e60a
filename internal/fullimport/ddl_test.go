package fullimport

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sampleCreate = "CREATE TABLE `orders` (\n" +
	"  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n" +
	"  `cust` varchar(32) NOT NULL COMMENT 'who, (really)',\n" +
	"  `note` text DEFAULT NULL,\n" +
	"  `x``y` int(11) DEFAULT NULL,\n" +
	"  PRIMARY KEY (`id`),\n" +
	"  UNIQUE KEY `u_cust` (`cust`,`x``y`),\n" +
	"  KEY `k_note` (`note`(10)),\n" +
	"  FULLTEXT KEY `ft` (`note`),\n" +
	"  KEY `k_cust` (`cust`),\n" +
	"  CONSTRAINT `fk_c` FOREIGN KEY (`cust`) REFERENCES `customers` (`name`),\n" +
	"  CONSTRAINT `chk` CHECK (`id` > 0)\n" +
	") ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='o'"

func TestRewriteCreate(t *testing.T) {
	d, err := rewriteCreate(sampleCreate, "dst", "orders2", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.create, "CREATE TABLE `dst`.`orders2` (\n  `id` bigint(20) unsigned") {
		t.Errorf("create head: %s", d.create)
	}
	for _, gone := range []string{"k_note", "ft", "k_cust", "fk_c"} {
		if strings.Contains(d.create, gone) {
			t.Errorf("deferred %s still in create:\n%s", gone, d.create)
		}
	}
	for _, kept := range []string{"PRIMARY KEY (`id`)", "UNIQUE KEY `u_cust`", "CONSTRAINT `chk` CHECK", "AUTO_INCREMENT=42", "COMMENT 'who, (really)'"} {
		if !strings.Contains(d.create, kept) {
			t.Errorf("%s missing from create:\n%s", kept, d.create)
		}
	}
	if want := []string{"k_note", "ft", "k_cust", "fk_c"}; !reflect.DeepEqual(d.keyNames, want) {
		t.Errorf("deferred names %v, want %v", d.keyNames, want)
	}
	if d.deferred[1] != "ADD FULLTEXT KEY `ft` (`note`)" {
		t.Errorf("deferred[1] = %q", d.deferred[1])
	}

	// Column subset: keys on dropped columns go, the primary key must stay.
	d, err = rewriteCreate(sampleCreate, "dst", "o", map[string]bool{"id": true, "cust": true}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"`note`", "u_cust", "k_note", "`x``y`"} {
		if strings.Contains(d.create, gone) {
			t.Errorf("%s should be gone:\n%s", gone, d.create)
		}
	}
	if !strings.Contains(d.create, "KEY `k_cust`") || !strings.Contains(d.create, "fk_c") || len(d.deferred) != 0 {
		t.Errorf("not deferring: %s %v", d.create, d.deferred)
	}
	if _, err := rewriteCreate(sampleCreate, "d", "t", map[string]bool{"cust": true}, true); err == nil {
		t.Error("subset without the primary key must fail")
	}
	keys, err := definedKeys(sampleCreate)
	if err != nil || !keys["PRIMARY"] || !keys["k_cust"] || !keys["fk_c"] || keys["id"] {
		t.Errorf("definedKeys = %v, %v", keys, err)
	}
	if _, err := parseCreate("CREATE VIEW x"); err == nil {
		t.Error("want error for a non-table")
	}
}

func FuzzParseCreate(f *testing.F) {
	f.Add(sampleCreate)
	f.Add("CREATE TABLE `t` (\n  `a` int\n)")
	f.Add("CREATE TABLE `t` (\n  KEY `k` (`a`\n)")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseCreate(s)
		if err != nil {
			return
		}
		for _, l := range p.lines {
			_ = l.cols
		}
		_, _ = rewriteCreate(s, "d", "t", map[string]bool{"a": true}, true)
		_, _ = definedKeys(s)
	})
}

func TestAppendTSV(t *testing.T) {
	cases := []struct {
		in   sql.RawBytes
		want string
	}{
		{nil, `\N`},
		{sql.RawBytes{}, ``},
		{sql.RawBytes("plain"), "plain"},
		{sql.RawBytes("a\tb\nc\\d\x00e\r"), "a\\tb\\nc\\\\d\\0e\r"},
		{sql.RawBytes(`\N`), `\\N`},
	}
	for _, c := range cases {
		if got := string(appendTSV(nil, c.in)); got != c.want {
			t.Errorf("appendTSV(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := string(appendLiteral(nil, sql.RawBytes("it's\\"), false)); got != `_binary'it\'s\\'` {
		t.Errorf("appendLiteral = %s", got)
	}
	if got := string(appendLiteral(nil, nil, false)); got != "NULL" {
		t.Errorf("appendLiteral(nil) = %s", got)
	}
}

func TestRangeCond(t *testing.T) {
	tb := &table{Key: []string{"a", "b"}, Columns: []column{{Name: "a", DataType: "varchar"}, {Name: "b", DataType: "varbinary"}}}
	w, args := tb.rangeCond([][]byte{[]byte("x"), []byte("y")}, [][]byte{[]byte("z"), []byte("w")})
	want := "((`a` > ?) OR (`a` = ? AND `b` >= ?)) AND ((`a` < ?) OR (`a` = ? AND `b` < ?))"
	if w != want {
		t.Errorf("cond = %s\nwant   %s", w, want)
	}
	if len(args) != 6 || args[0] != "x" || !reflect.DeepEqual(args[2], []byte("y")) {
		t.Errorf("args = %#v", args)
	}
	ti := &table{Key: []string{"id"}, KeyInt: true, KeyUnsigned: true, Columns: []column{{Name: "id", DataType: "bigint"}}}
	_, args = ti.rangeCond([][]byte{[]byte("18446744073709551615")}, nil)
	if args[0] != uint64(18446744073709551615) {
		t.Errorf("unsigned arg = %#v", args[0])
	}
	if w, _ := ti.rangeCond(nil, nil); w != "1=1" {
		t.Errorf("unbounded = %s", w)
	}
}

func TestThrottle(t *testing.T) {
	th := newThrottle(1000, 0)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := th.wait(ctx, 500, 0); err != nil {
			t.Fatal(err)
		}
	}
	// 2500 rows at 1000/s with one second of initial budget: at least ~1.5 s.
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Errorf("throttle let 2500 rows through in %v", el)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := th.wait(cctx, 100000, 0); err == nil {
		t.Error("want ctx error")
	}
	var nilT *throttle
	if err := nilT.wait(ctx, 1, 1); err != nil {
		t.Error(err)
	}
}

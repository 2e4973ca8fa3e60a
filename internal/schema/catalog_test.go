package schema

import (
	"context"
	"reflect"
	"testing"

	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

func TestChunkKey(t *testing.T) {
	cols := []ColumnInfo{{Name: "id"}, {Name: "a"}, {Name: "b"}, {Name: "n", Nullable: true}, {Name: "txt"}}
	for _, tc := range []struct {
		name    string
		unique  map[string][]string
		prefix  map[string]bool
		wantIdx string
		wantCol []string
	}{
		{"primary wins", map[string][]string{"PRIMARY": {"id"}, "a": {"a"}}, nil, "PRIMARY", []string{"id"}},
		{"fewest columns", map[string][]string{"ab": {"a", "b"}, "z": {"b"}}, nil, "z", []string{"b"}},
		{"ties by name", map[string][]string{"uk2": {"b"}, "uk1": {"a"}}, nil, "uk1", []string{"a"}},
		{"nullable column excluded", map[string][]string{"un": {"n"}, "ab": {"a", "b"}}, nil, "ab", []string{"a", "b"}},
		{"prefix index excluded", map[string][]string{"p": {"txt"}, "ab": {"a", "b"}}, map[string]bool{"p": true}, "ab", []string{"a", "b"}},
		{"none", map[string][]string{"un": {"n"}}, nil, "", nil},
		{"no indexes", nil, nil, "", nil},
	} {
		ti := &TableInfo{Cols: cols, Unique: tc.unique, Prefix: tc.prefix}
		idx, kc := ti.chunkKey()
		if idx != tc.wantIdx || !reflect.DeepEqual(kc, tc.wantCol) {
			t.Errorf("%s: got %q %v, want %q %v", tc.name, idx, kc, tc.wantIdx, tc.wantCol)
		}
	}
	ti := &TableInfo{Cols: cols, Unique: map[string][]string{"PRIMARY": {"id"}, "b2": {"A", "b"}, "a1": {"a", "b"}, "p": {"txt"}},
		Prefix: map[string]bool{"p": true}}
	if got := ti.IndexOn([]string{"a", "b"}); got != "a1" {
		t.Errorf("IndexOn(a,b) = %q, want a1 (first by name, case-insensitive columns)", got)
	}
	if got := ti.IndexOn([]string{"txt"}); got != "" {
		t.Errorf("IndexOn(txt) = %q: a prefix index does not identify values", got)
	}
}

// TestLoadCatalog: one read of a schema gives columns (generated, virtual, MariaDB JSON),
// unique and prefix indexes, estimates and the chunk key; views are not tables.
func TestLoadCatalog(t *testing.T) {
	inst := testenv.Shared(t, "catalog")
	db := testenv.FreshDatabase(t, inst, "cat")
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE " + sqlgen.Table(db, "t") + ` (id INT UNSIGNED NOT NULL, doc JSON, txt TEXT NOT NULL,
			v INT AS (id + 1) VIRTUAL, s INT AS (id * 2) STORED, code VARCHAR(8) NOT NULL,
			UNIQUE KEY p (txt(10)), UNIQUE KEY c (code))`,
		"CREATE TABLE " + sqlgen.Table(db, "k") + " (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (b, a))",
		"CREATE VIEW " + sqlgen.Table(db, "w") + " AS SELECT 1 AS x",
	} {
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	listed, err := ListTables(ctx, inst.DB())
	if err != nil {
		t.Fatal(err)
	}
	var mine [][2]string
	for _, n := range listed {
		if IsSystemSchema(n[0]) {
			t.Fatalf("ListTables lists system table %v", n)
		}
		if n[0] == db {
			mine = append(mine, n)
		}
	}
	if !reflect.DeepEqual(mine, [][2]string{{db, "k"}, {db, "t"}}) {
		t.Fatalf("ListTables: %v (views are not base tables)", mine)
	}
	cat, err := LoadCatalog(ctx, inst.DB(), []string{db})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Tables) != 2 || cat.Table(db, "w") != nil {
		t.Fatalf("tables %v: want t and k, no view", cat.Tables)
	}
	tt := cat.Table(db, "t")
	var names []string
	for _, c := range tt.Cols {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"id", "doc", "txt", "v", "s", "code"}) {
		t.Fatalf("columns %v", names)
	}
	doc, _ := tt.Col("DOC")
	v, _ := tt.Col("v")
	s, _ := tt.Col("s")
	id, _ := tt.Col("id")
	if doc.DataType != "json" || !v.Virtual || !v.Generated || s.Virtual || !s.Generated || id.Type != "int(10) unsigned" || id.Nullable {
		t.Fatalf("column details: doc %+v v %+v s %+v id %+v", doc, v, s, id)
	}
	if !tt.Prefix["p"] || tt.KeyIndex != "c" || !reflect.DeepEqual(tt.KeyCols, []string{"code"}) || tt.Engine != "innodb" {
		t.Fatalf("keys: prefix %v key %s %v engine %s", tt.Prefix, tt.KeyIndex, tt.KeyCols, tt.Engine)
	}
	if k := cat.Table(db, "k"); k.KeyIndex != "PRIMARY" || !reflect.DeepEqual(k.KeyCols, []string{"b", "a"}) {
		t.Fatalf("k key %s %v", k.KeyIndex, k.KeyCols)
	}
}

package incrsync

import (
	"context"
	"database/sql"
	"reflect"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

// The definitions read ahead for every target table are those read table by table, and with
// them the first use of a table reads nothing from the target (the read stage does not wait on
// it); a table created afterwards is still read at its first use.
func TestTargetDefsReadAhead(t *testing.T) {
	dst := testenv.Shared(t, "dst")
	db := testenv.FreshDatabase(t, dst, "defs")
	tb := func(name string) string { return q(db, name) }
	execAll(t, dst.DB(),
		"CREATE TABLE "+tb("plain")+" (id INT PRIMARY KEY, v VARCHAR(10))",
		"CREATE TABLE "+tb("gen")+" (id INT PRIMARY KEY, a INT, b INT AS (a * 2) VIRTUAL, c INT AS (a + 1) STORED)",
		"CREATE TABLE "+tb("versioned")+" (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
		"CREATE TABLE "+tb("period")+" (id INT PRIMARY KEY, v INT, rs TIMESTAMP(6) AS ROW START, re TIMESTAMP(6) AS ROW END, PERIOD FOR SYSTEM_TIME(rs, re)) WITH SYSTEM VERSIONING",
		"CREATE TABLE "+tb("typed")+" (id INT PRIMARY KEY, u UUID, i4 INET4, i6 INET6)",
		"CREATE TABLE "+tb("parent")+" (id INT PRIMARY KEY)",
		"CREATE TABLE "+tb("child")+" (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES "+tb("parent")+" (id))",
	)
	ctx := context.Background()
	ahead := newMapper(nil, dst.DB())
	if err := ahead.readAhead(ctx); err != nil {
		t.Fatal(err)
	}
	oneByOne := newMapper(nil, dst.DB())
	for _, name := range []string{"plain", "gen", "versioned", "period", "typed", "parent", "child"} {
		want, err := oneByOne.defsOf(ctx, db, name)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ahead.ahead[defsKey(db, name)]
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s read ahead: %+v (%v), table by table: %+v", name, got, ok, want)
		}
	}
	// spot checks that the table-by-table read sees what it must
	if d, _ := oneByOne.defsOf(ctx, db, "child"); !d.fk {
		t.Error("child: no foreign key found")
	}
	if d, _ := oneByOne.defsOf(ctx, db, "parent"); !d.fk {
		t.Error("parent: not found referenced")
	}
	if d, _ := oneByOne.defsOf(ctx, db, "gen"); d.computed["b"] != generatedCol || d.computed["c"] != generatedCol {
		t.Errorf("gen: computed %v", d.computed)
	}
	if d, _ := oneByOne.defsOf(ctx, db, "versioned"); d.computed["row_end"] != versionEndCol {
		t.Errorf("versioned: computed %v", d.computed)
	}
	if d, _ := oneByOne.defsOf(ctx, db, "period"); d.computed["rs"] != versioningCol || d.computed["re"] != versionEndCol {
		t.Errorf("period: computed %v", d.computed)
	}
	if d, _ := oneByOne.defsOf(ctx, db, "typed"); len(d.typed) != 3 {
		t.Errorf("typed: %v", d.typed)
	}

	// with the target gone, a table read ahead maps without it; another one needs it
	closed, err := sql.Open("mysql", dst.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	ahead.filter = closed
	if _, err := ahead.defsOf(ctx, db, "gen"); err != nil {
		t.Errorf("a table read ahead was read again: %v", err)
	}
	if _, err := ahead.defsOf(ctx, db, "created_later"); err == nil {
		t.Error("a table not read ahead was not read at its first use")
	}
	ahead.invalidate() // a DDL: what was read ahead may be stale
	if _, err := ahead.defsOf(ctx, db, "gen"); err == nil {
		t.Error("after a DDL a table's definitions were not read again")
	}
}

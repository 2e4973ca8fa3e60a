package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestSelectionKeepsUnselectedRowsHome: a consumer that sends its selection gets only the rows
// of the tables it takes, and of a table with a column subset only those columns and the key;
// the rows of the other tables never leave the Store (counted in filtered_rows_total, and the
// bytes sent stay far below their size).
func TestSelectionKeepsUnselectedRowsHome(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "selfilter")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}}, t.TempDir())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := inst.DB().ExecContext(ctx, strings.ReplaceAll(q, "%s", db), args...); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE `%s`.t (id INT PRIMARY KEY, a INT, u INT, big MEDIUMBLOB, UNIQUE KEY (u))")
	exec("CREATE TABLE `%s`.other (id INT PRIMARY KEY, big MEDIUMBLOB)")
	const n, blob = 40, 32 << 10
	payload := make([]byte, blob) // incompressible: compression cannot hide a leak
	for i := 1; i <= n; i++ {
		if _, err := rand.Read(payload); err != nil {
			t.Fatal(err)
		}
		exec("INSERT INTO `%s`.t VALUES (?, ?, ?, ?)", i, i*10, i, payload)
		exec("INSERT INTO `%s`.other VALUES (?, ?)", i, payload)
	}
	exec("UPDATE `%s`.t SET a = a + 1 WHERE id = 1; UPDATE `%s`.other SET big = NULL WHERE id = 1")
	want := gtidNow(t, inst)
	for st.Status().Position != want {
		if ctx.Err() != nil {
			t.Fatalf("store did not reach %s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}

	sel := selection.Config{Tables: []selection.Rule{{DB: db, Table: "t", Columns: []string{"id", "a"}}, {DB: db, Table: "*"}},
		Exclude: []selection.Rule{{DB: db, Table: "oth*"}}}
	sent0 := st.Status().Metrics["sent_bytes_total"]
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "sel", From: start, Selection: &sel})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, 2+2*n+1)
	rowsT := 0
	for i, x := range txns {
		if i == 1 && x.DDL != nil {
			t.Fatalf("the CREATE TABLE of the excluded table was sent: %+v", x.DDL)
		}
		for _, row := range x.Rows {
			if row.Table.Name != "t" {
				t.Fatalf("txn %d: a row of %s.%s crossed", i, row.Table.DB, row.Table.Name)
			}
			rowsT++
			var names []string
			for _, c := range row.Table.Columns {
				names = append(names, c.Name)
			}
			if fmt.Sprint(names) != "[id a u]" || len(row.After) != 3 || len(row.Table.PrimaryKey) != 1 || row.Table.PrimaryKey[0] != 0 ||
				len(row.Table.UniqueKeys) != 1 || row.Table.UniqueKeys[0][0] != 2 {
				t.Fatalf("txn %d: projected row has columns %v, pk %v, uks %v, after %v (want id, a and the unique key u)",
					i, names, row.Table.PrimaryKey, row.Table.UniqueKeys, row.After)
			}
		}
	}
	if rowsT != n+1 {
		t.Fatalf("%d rows of t arrived, want %d", rowsT, n+1)
	}
	if u := txns[len(txns)-1]; len(u.Rows) != 1 || u.Rows[0].After[1] != int64(11) {
		t.Fatalf("last txn %+v: want the update of t only", u)
	}
	m := st.Status().Metrics
	if got := m["filtered_rows_total"]; got != float64(n+1) {
		t.Fatalf("filtered_rows_total %v, want %d (every row of the excluded table)", got, n+1)
	}
	// 2*n blobs of 32 KiB were written; without the filter at least n*32 KiB would cross.
	if sent := m["sent_bytes_total"] - sent0; sent > 64<<10 {
		t.Fatalf("%v bytes sent for %d small rows: unselected data crossed", sent, n+1)
	}
	t.Logf("sent %v bytes, filtered %v rows", m["sent_bytes_total"]-sent0, m["filtered_rows_total"])
}

func TestSelectionRejectsBadFilter(t *testing.T) {
	for _, q := range []string{"{", `{"tables":[]}`, `{"tables":[{"db":""}]}`} {
		if _, err := parseSelection(q); err == nil {
			t.Errorf("parseSelection(%q) accepted", q)
		}
	}
	if s, err := parseSelection(""); s != nil || err != nil {
		t.Fatalf("empty selection: %v %v", s, err)
	}
}

// TestProjectionKeepsWhatTheConsumerNeeds: a column subset narrows a table only when it holds
// the whole primary key; unique key columns and row_start/row_end always stay.
func TestProjectionKeepsWhatTheConsumerNeeds(t *testing.T) {
	cols := func(names ...string) []changelog.Column {
		var out []changelog.Column
		for _, n := range names {
			out = append(out, changelog.Column{Name: n})
		}
		return out
	}
	s, err := parseSelection(`{"tables":[{"db":"d","columns":["id","v"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tb   changelog.Table
		want string // kept columns; "" = not projected
	}{
		{"pk selected", changelog.Table{Columns: cols("id", "v", "w", "u"), PrimaryKey: []int{0}, UniqueKeys: [][]int{{3}}}, "[id v u]"},
		{"implicit versioning", changelog.Table{Columns: cols("id", "v", "w", "row_start", "row_end"), PrimaryKey: []int{0}}, "[id v row_start row_end]"},
		{"versioned pk with a period column", changelog.Table{Columns: cols("id", "v", "w", "since", "until"), PrimaryKey: []int{0, 4}}, ""},
		{"no primary key", changelog.Table{Columns: cols("id", "v", "w"), UniqueKeys: [][]int{{0}}}, ""},
		{"all columns selected", changelog.Table{Columns: cols("id", "v"), PrimaryKey: []int{0}}, ""},
	} {
		c.tb.DB, c.tb.Name = "d", "t"
		p := s.projectionOf(&c.tb)
		got := ""
		if p != nil {
			var names []string
			for _, col := range p.table.Columns {
				names = append(names, col.Name)
			}
			got = fmt.Sprint(names)
		}
		if got != c.want {
			t.Errorf("%s: kept %q, want %q", c.name, got, c.want)
		}
	}
}

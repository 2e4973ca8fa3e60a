package store

import (
	"encoding/json"
	"strings"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// selectParam is the read request's query parameter carrying a consumer's selection
// (selection.Config.StoreFilter as JSON): the Store sends only rows of the tables it takes, and
// of a table with a column subset only those columns and its key columns, so nothing else
// leaves the source region.
const selectParam = "select"

// maxSelectParam bounds the selection a consumer sends in the query (the server reads at most
// 64 KiB of headers); a larger one is not sent and the consumer filters alone.
const maxSelectParam = 32 << 10

// storeSelection is a consumer's compiled selection with the column projections derived from it.
type storeSelection struct {
	sel *selection.Selector
	// proj caches the projection of each source table (decoded tables are shared pointers, see
	// decoder); nil value: all columns go.
	proj map[*changelog.Table]*projection
}

// projection maps a source table onto the columns a consumer takes.
type projection struct {
	table *changelog.Table // the projected schema
	cols  []int            // source column indexes kept, in order
}

func parseSelection(q string) (*storeSelection, error) {
	if q == "" {
		return nil, nil
	}
	var cfg selection.Config
	if err := json.Unmarshal([]byte(q), &cfg); err != nil {
		return nil, omserr.Wrap(err, omserr.StoreBadRequest, "the consumer's selection is not valid JSON", "send selection.Config.StoreFilter as JSON")
	}
	sel, err := selection.Compile(cfg)
	if err != nil {
		return nil, omserr.Wrap(err, omserr.StoreBadRequest, "the consumer's selection is invalid: "+err.Error(), "fix the selection rules of the task")
	}
	return &storeSelection{sel: sel, proj: map[*changelog.Table]*projection{}}, nil
}

func (s *storeSelection) tablePasses(db, table string) bool {
	_, ok := s.sel.Match(db, table)
	return ok
}

// ddlPasses keeps a DDL unless every object it names is outside the selection: a database-level
// name ("db.") passes when a rule may match its database; a DDL without a name list passes.
func (s *storeSelection) ddlPasses(d *changelog.DDL) bool {
	if len(d.Tables) == 0 {
		return true
	}
	for _, n := range d.Tables {
		db, table, _ := strings.Cut(n, ".")
		if table == "" {
			if s.sel.MayMatchDB(db) {
				return true
			}
			continue
		}
		if s.tablePasses(db, table) {
			return true
		}
	}
	return false
}

// project narrows a row to the columns its table's rule takes; it reports whether it changed
// the row. The row's table must pass the selection.
func (s *storeSelection) project(r *changelog.Row) bool {
	p, ok := s.proj[r.Table]
	if !ok {
		p = s.projectionOf(r.Table)
		if len(s.proj) > 10000 { // the decoder's cache was reset: so is this one
			clear(s.proj)
		}
		s.proj[r.Table] = p
	}
	if p == nil {
		return false
	}
	r.Table = p.table
	r.Before = projectImage(r.Before, p.cols)
	r.After = projectImage(r.After, p.cols)
	return true
}

// projectionOf keeps the selected columns, every unique key column (the consumer detects
// conflicts with them) and MariaDB's implicit row_start/row_end. Only a table whose primary key
// is all selected is projected: without a primary key the consumer identifies rows by whole
// images, and a primary key column left out of the subset is either an error the consumer
// reports or the row_end MariaDB adds to a system-versioned table's keys, whose period columns
// the consumer needs (they may have any name). nil: every column is kept.
func (s *storeSelection) projectionOf(t *changelog.Table) *projection {
	tgt, ok := s.sel.Match(t.DB, t.Name)
	if !ok || len(tgt.Columns) == 0 || len(t.PrimaryKey) == 0 {
		return nil
	}
	keep := make([]bool, len(t.Columns))
	want := map[string]bool{"row_start": true, "row_end": true}
	for _, c := range tgt.Columns {
		want[c] = true
	}
	for i, c := range t.Columns {
		keep[i] = want[c.Name]
	}
	for _, i := range t.PrimaryKey {
		if i >= len(keep) || !keep[i] {
			return nil
		}
	}
	for _, k := range append([][]int{t.PrimaryKey}, t.UniqueKeys...) {
		for _, i := range k {
			if i < len(keep) {
				keep[i] = true
			}
		}
	}
	p := &projection{table: &changelog.Table{DB: t.DB, Name: t.Name}}
	pos := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		if keep[i] {
			pos[i] = len(p.cols)
			p.cols = append(p.cols, i)
			p.table.Columns = append(p.table.Columns, c)
		}
	}
	if len(p.cols) == len(t.Columns) {
		return nil
	}
	remap := func(k []int) []int {
		out := make([]int, 0, len(k))
		for _, i := range k {
			if i < len(pos) {
				out = append(out, pos[i])
			}
		}
		return out
	}
	if len(t.PrimaryKey) > 0 {
		p.table.PrimaryKey = remap(t.PrimaryKey)
	}
	for _, k := range t.UniqueKeys {
		p.table.UniqueKeys = append(p.table.UniqueKeys, remap(k))
	}
	return p
}

func projectImage(img []any, cols []int) []any {
	if img == nil {
		return nil
	}
	out := make([]any, len(cols))
	for i, c := range cols {
		if c < len(img) {
			out[i] = img[c]
		}
	}
	return out
}

package verify

import (
	"github.com/omsdev/oms/internal/schema"
)

// compareDefinitions compares every pair's table definition (columns, charsets, collations,
// defaults, generated expressions, indexes, table options, constraints; AUTO_INCREMENT and what
// the mapping changes left out), as the catalogs Init loaded describe them, and records the
// differences as the table's schema differences: they are differences of the report like rows
// are, and they say why a table checksum differs when every row compares equal by value (a
// latin2 column copied as utf8mb4 holds the same text).
func (v *Verifier) compareDefinitions() {
	for _, p := range v.pairs {
		tr := v.tables[p.Name]
		tr.result.SchemaDifferences = schema.DiffDefinitions(p.src, p.dst, tr.selCols)
	}
}

// sharedColumns is the source's columns the target has too, in the source's order.
func sharedColumns(src, dst *schema.TableInfo) []string {
	var out []string
	for _, c := range src.Cols {
		if _, ok := dst.Col(c.Name); ok {
			out = append(out, c.Name)
		}
	}
	return out
}

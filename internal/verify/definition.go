package verify

import (
	"context"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
)

// compareDefinitions compares every pair's table definition (columns, charsets, collations,
// defaults, generated expressions, indexes, table options; AUTO_INCREMENT and what the mapping
// changes left out) and records the differences as the table's schema differences: they are
// differences of the report like rows are, and they say why a table checksum differs when every
// row compares equal by value (a latin2 column copied as utf8mb4 holds the same text).
func (v *Verifier) compareDefinitions(ctx context.Context, srcSchemas, dstSchemas []string) error {
	src, err := schema.LoadDefinitions(ctx, v.src, srcSchemas)
	if err != nil {
		return omserr.Wrap(err, omserr.VerifySourceUnreadable, "cannot read the source's table definitions", "grant SELECT on the selected schemas")
	}
	dst, err := schema.LoadDefinitions(ctx, v.dst, dstSchemas)
	if err != nil {
		return omserr.Wrap(err, omserr.VerifyTargetUnreadable, "cannot read the target's table definitions", "grant SELECT on the target schemas")
	}
	for _, p := range v.pairs {
		s, d := src[[2]string{p.src.DB, p.src.Name}], dst[[2]string{p.dst.DB, p.dst.Name}]
		if s == nil || d == nil {
			continue // listed a moment ago, dropped since: the comparison itself reports it
		}
		tr := v.tables[p.Name]
		tr.result.SchemaDifferences = schema.DiffDefinitions(s, d, tr.selCols)
	}
	return nil
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

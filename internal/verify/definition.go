package verify

import (
	"context"
	"strings"

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
		var subset []string
		if !p.wholeColumns() {
			subset = p.cols
		}
		v.tables[p.Name].result.SchemaDifferences = schema.DiffDefinitions(s, d, subset)
	}
	return nil
}

// wholeColumns says whether the pair compares every source column (no column subset).
func (p *pair) wholeColumns() bool {
	if len(p.cols) != len(p.src.Cols) {
		return false
	}
	for i, c := range p.src.Cols {
		if !strings.EqualFold(c.Name, p.cols[i]) {
			return false
		}
	}
	return true
}

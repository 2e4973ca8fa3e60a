package verify

import (
	"context"
	"fmt"
	"sort"
)

// Tables without a primary key or NOT NULL unique key have no row identity: an UPDATE of one of
// two identical rows cannot be told from a DELETE plus an INSERT. They are compared as multisets
// of full rows: both sides compute COUNT(*) and SUM(CRC32(row)) over the whole table (SUM, not
// BIT_XOR, so duplicate rows do not cancel out); when those differ and neither side has more than
// NoKeyMaxRows rows, every row is fetched and the multiset difference is listed (rows with the
// number of copies missing or extra). Larger tables are reported as differing without a row list.

// checksumWhole is the chunk step of a key-less table: one aggregate over the whole table.
func (v *Verifier) checksumWhole(ctx context.Context, p *pair) (int64, map[string][][]byte, error) {
	sums, err := v.sumBothSides(ctx, p, chunk{})
	if err != nil {
		return 0, nil, err
	}
	if sums[srcSide] == sums[dstSide] {
		return sums[srcSide].count, nil, nil
	}
	return sums[srcSide].count, map[string][][]byte{"": nil}, nil
}

// multisetDiff returns the rows whose number of copies differs between the sides.
func (v *Verifier) multisetDiff(ctx context.Context, p *pair) ([]rowDiff, error) {
	sums, err := v.sumBothSides(ctx, p, chunk{})
	if err != nil {
		return nil, err
	}
	if sums[srcSide] == sums[dstSide] {
		return nil, nil
	}
	if sums[srcSide].count > v.cfg.NoKeyMaxRows || sums[dstSide].count > v.cfg.NoKeyMaxRows {
		v.mu.Lock()
		v.tables[p.Name].result.Note = fmt.Sprintf("no key; checksums differ (source %d rows, target %d rows); more than no_key_max_rows=%d rows, so rows are not listed",
			sums[srcSide].count, sums[dstSide].count, v.cfg.NoKeyMaxRows)
		v.mu.Unlock()
		return []rowDiff{{Kind: DiffDifferent, Count: 0}}, nil
	}
	var rows [2][][][]byte
	err = bothSides(ctx, func(ctx context.Context, s side) error {
		q, a := p.rowsSQL(s, chunk{})
		var err error
		rows[s], err = queryRows(ctx, v.db(s), q, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	type entry struct {
		row [][]byte
		n   int
	}
	m := map[string]*entry{}
	for _, r := range rows[srcSide] {
		k := rowKey(r)
		if e, ok := m[k]; ok {
			e.n++
		} else {
			m[k] = &entry{row: r, n: 1}
		}
	}
	for _, r := range rows[dstSide] {
		k := rowKey(r)
		if e, ok := m[k]; ok {
			e.n--
		} else {
			m[k] = &entry{row: r, n: -1}
		}
	}
	keys := make([]string, 0, len(m))
	for k, e := range m {
		if e.n != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []rowDiff
	for _, k := range keys {
		e := m[k]
		if e.n > 0 {
			out = append(out, rowDiff{Kind: DiffOnlySource, Src: e.row, Count: e.n})
		} else {
			out = append(out, rowDiff{Kind: DiffOnlyTarget, Dst: e.row, Count: -e.n})
		}
	}
	return out, nil
}

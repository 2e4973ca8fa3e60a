package keyset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Table is what the planner reads: the FROM text (quoted table name, plus an index hint if the
// caller wants one), its key, and the estimated row count.
type Table struct {
	From string
	Key  Key
	Rows int64
}

// Plan cuts t into ranges of about per rows. A single integer key with a dense range is cut
// arithmetically (no scan); other keys (composite, string, sparse integers) by walking the key
// index. The first range has no Lo and the last no Hi, so rows outside the key span seen now
// (inserted later, or only on the other side of a comparison) fall in them. An empty table is
// one open range.
func Plan(ctx context.Context, db *sql.DB, t Table, per int64) ([]Range, error) {
	per = max(per, 1)
	if t.Key.Int {
		rs, ok, err := planIntRange(ctx, db, t, per)
		if err != nil || ok {
			return rs, err
		}
	}
	return Walk(ctx, db, t, per, Range{})
}

// planIntRange cuts [MIN, MAX] into even steps; it declines (ok false) when the keys are so
// sparse that most ranges would be empty.
func planIntRange(ctx context.Context, db *sql.DB, t Table, per int64) ([]Range, bool, error) {
	k := sqlgen.QuoteIdent(t.Key.Cols[0])
	var lo, hi sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT MIN("+k+"), MAX("+k+") FROM "+t.From).Scan(&lo, &hi); err != nil {
		return nil, false, fmt.Errorf("key range of %s: %w", t.From, err)
	}
	if !lo.Valid {
		return []Range{{}}, true, nil
	}
	minK, ok1 := new(big.Int).SetString(lo.String, 10)
	maxK, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	rs := IntRanges(minK, maxK, t.Rows, per)
	return rs, rs != nil, nil
}

// IntRanges cuts [minK, maxK] into pieces of about per values, or returns nil when the keys are
// sparse (more than 4 key values per estimated row): even cuts would give uneven chunks. Dense
// ranges get span/per pieces, never fewer than the row estimate asks for (span >= rows), so a
// stale estimate cannot make one huge chunk.
func IntRanges(minK, maxK *big.Int, rows, per int64) []Range {
	per = max(per, 1)
	span := new(big.Int).Sub(maxK, minK)
	span.Add(span, big.NewInt(1))
	if span.Cmp(big.NewInt(4*max(rows, per))) > 0 {
		return nil
	}
	n := new(big.Int).Div(new(big.Int).Add(span, big.NewInt(per-1)), big.NewInt(per)).Int64()
	step := new(big.Int).Div(new(big.Int).Add(span, big.NewInt(n-1)), big.NewInt(n))
	if step.Sign() == 0 {
		step.SetInt64(1)
	}
	var out []Range
	var prev [][]byte
	for b := new(big.Int).Add(minK, step); b.Cmp(maxK) <= 0; b.Add(b, step) {
		cur := [][]byte{[]byte(b.String())}
		out = append(out, Range{Lo: prev, Hi: cur})
		prev = cur
	}
	return append(out, Range{Lo: prev})
}

// Walk cuts the part of t within the given range by reading every per-th key of the key index
// (one pass over the index); within Range{} is the whole table.
func Walk(ctx context.Context, db *sql.DB, t Table, per int64, within Range) ([]Range, error) {
	per = max(per, 1)
	cols := sqlgen.ColumnList(t.Key.Cols)
	var out []Range
	prev := within.Lo
	for {
		w, args := t.Key.Where(Range{Lo: prev, Hi: within.Hi})
		q := "SELECT " + cols + " FROM " + t.From
		if w != "" {
			q += " WHERE " + w
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", cols, per)
		vals := make([][]byte, len(t.Key.Cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := db.QueryRowContext(ctx, q, args...).Scan(ptrs...)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("plan chunks of %s: %w", strings.TrimSpace(t.From), err)
		}
		out = append(out, Range{Lo: prev, Hi: vals}) // Scan into *[]byte copies
		prev = vals
	}
	return append(out, Range{Lo: prev, Hi: within.Hi}), nil
}

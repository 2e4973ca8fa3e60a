package verify

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// chunk is a key range [Lo, Hi); a nil bound is open. The first chunk of a table has no Lo and
// the last no Hi, so rows only in the target outside the source's key span are found too.
type chunk struct {
	Lo [][]byte `json:"lo,omitempty"`
	Hi [][]byte `json:"hi,omitempty"`
}

// planChunks cuts a table into chunks of about size key values, along the source's key.
func planChunks(ctx context.Context, db *sql.DB, p *pair, size int) ([]chunk, error) {
	if !p.hasKey() {
		return []chunk{{}}, nil
	}
	if p.intKey {
		cs, ok, err := planIntChunks(ctx, db, p, size)
		if err != nil || ok {
			return cs, err
		}
	}
	return walkChunks(ctx, db, srcSide, p, size, chunk{})
}

// planIntChunks cuts [MIN, MAX] of a single integer key into ranges of size values. It declines
// (ok false) when the keys are so sparse that most ranges would be empty.
func planIntChunks(ctx context.Context, db *sql.DB, p *pair, size int) ([]chunk, bool, error) {
	k := sqlgen.QuoteIdent(p.cols[p.keyPos[0]])
	var lo, hi sql.NullString
	q := "SELECT MIN(" + k + "), MAX(" + k + ") FROM " + p.table(srcSide)
	if err := db.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil {
		return nil, false, fmt.Errorf("key span of %s: %w", p.Name, err)
	}
	if !lo.Valid {
		return []chunk{{}}, true, nil // empty source: one open chunk finds every target row
	}
	min, ok1 := new(big.Int).SetString(lo.String, 10)
	max, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	span := new(big.Int).Sub(max, min)
	step := big.NewInt(int64(size))
	n := new(big.Int).Div(span, step)
	rows := p.src.Rows
	if rows < 1 {
		rows = 1
	}
	// Sparse: more than 4x the chunks the row count needs (and more than a few): walk instead.
	if n.Cmp(big.NewInt(4*(rows/int64(size)+1)+16)) > 0 {
		return nil, false, nil
	}
	var out []chunk
	var prev []byte
	b := new(big.Int).Add(min, step)
	for b.Cmp(max) <= 0 {
		cur := []byte(b.String())
		out = append(out, chunk{Lo: wrap(prev), Hi: [][]byte{cur}})
		prev = cur
		b.Add(b, step)
	}
	out = append(out, chunk{Lo: wrap(prev)})
	return out, true, nil
}

func wrap(v []byte) [][]byte {
	if v == nil {
		return nil
	}
	return [][]byte{v}
}

// walkChunks reads every size-th key of one side's key index within the range of chunk within
// (the whole table for chunk{}).
func walkChunks(ctx context.Context, db *sql.DB, s side, p *pair, size int, within chunk) ([]chunk, error) {
	order := sqlgen.ColumnList(p.keyNames())
	var out []chunk
	prev := within.Lo
	for {
		var conds []string
		var args []any
		if prev != nil {
			w, a := p.tupleCond(">=", prev)
			conds, args = append(conds, w), append(args, a...)
		}
		if within.Hi != nil {
			w, a := p.tupleCond("<", within.Hi)
			conds, args = append(conds, w), append(args, a...)
		}
		q := "SELECT " + order + " FROM " + p.table(s) + p.hint(s)
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		q += " ORDER BY " + order + fmt.Sprintf(" LIMIT 1 OFFSET %d", size)
		rows, err := queryRows(ctx, db, q, args)
		if err != nil {
			return nil, fmt.Errorf("plan chunks of %s: %w", p.Name, err)
		}
		if len(rows) == 0 {
			break
		}
		out = append(out, chunk{Lo: prev, Hi: rows[0]})
		prev = rows[0]
	}
	return append(out, chunk{Lo: prev, Hi: within.Hi}), nil
}

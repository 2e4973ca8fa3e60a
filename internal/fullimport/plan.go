package fullimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// chunk is one key range [Lower, Upper) of one table. Key values are the text (or raw bytes for
// binary columns) of the key columns.
type chunk struct {
	ID      int
	T       *table
	Lower   [][]byte // inclusive; nil: from the first row
	Upper   [][]byte // exclusive; nil: to the last row (rows inserted later land here)
	EstRows int64
	Done    bool

	RowsDone, BytesDone int64 // recorded when done
}

// rowsPerChunk is the chunk size for t from the row and byte limits.
func rowsPerChunk(t *table, maxRows, maxBytes int64) int64 {
	n := maxRows
	if t.AvgRow > 0 && maxBytes/t.AvgRow < n {
		n = maxBytes / t.AvgRow
	}
	return max(n, 1000)
}

// planTable splits t into chunks. Integer keys with a dense range are split arithmetically
// (no scan); other keys (composite, string, sparse integers) by walking the key index with
// LIMIT/OFFSET, which reads the index once.
func planTable(ctx context.Context, db *sql.DB, t *table, maxRows, maxBytes int64) ([]*chunk, error) {
	per := rowsPerChunk(t, maxRows, maxBytes)
	if t.KeyInt {
		cs, ok, err := planIntRange(ctx, db, t, per)
		if err != nil || ok {
			return cs, err
		}
	}
	return planWalk(ctx, db, t, per)
}

func planIntRange(ctx context.Context, db *sql.DB, t *table, per int64) ([]*chunk, bool, error) {
	k := sqlgen.QuoteIdent(t.Key[0])
	var lo, hi sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT MIN("+k+"), MAX("+k+") FROM "+sqlgen.Table(t.SrcDB, t.SrcTable)).Scan(&lo, &hi); err != nil {
		return nil, false, fmt.Errorf("key range of %s: %w", t.src(), err)
	}
	if !lo.Valid {
		return []*chunk{{T: t}}, true, nil
	}
	min, ok1 := new(big.Int).SetString(lo.String, 10)
	max, ok2 := new(big.Int).SetString(hi.String, 10)
	if !ok1 || !ok2 {
		return nil, false, fmt.Errorf("key range of %s: not integers: %q %q", t.src(), lo.String, hi.String)
	}
	span := new(big.Int).Sub(max, min)
	span.Add(span, big.NewInt(1))
	// Sparse keys (more than 4 key values per estimated row) would give uneven chunks: walk
	// instead. Dense ranges are cut into span/per pieces, which never has fewer chunks than the
	// row estimate asks for (span >= rows), so a stale estimate cannot make one huge chunk.
	if span.Cmp(big.NewInt(4*max64(t.Rows, per))) > 0 {
		return nil, false, nil
	}
	n := new(big.Int).Div(new(big.Int).Add(span, big.NewInt(per-1)), big.NewInt(per)).Int64()
	step := new(big.Int).Div(new(big.Int).Add(span, big.NewInt(n-1)), big.NewInt(n))
	if step.Sign() == 0 {
		step.SetInt64(1)
	}
	var chunks []*chunk
	var prev [][]byte
	for b := new(big.Int).Add(min, step); b.Cmp(max) <= 0; b.Add(b, step) {
		cur := [][]byte{[]byte(b.String())}
		chunks = append(chunks, &chunk{T: t, Lower: prev, Upper: cur, EstRows: per})
		prev = cur
	}
	chunks = append(chunks, &chunk{T: t, Lower: prev, EstRows: per})
	return chunks, true, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func planWalk(ctx context.Context, db *sql.DB, t *table, per int64) ([]*chunk, error) {
	cols := sqlgen.ColumnList(t.Key)
	var chunks []*chunk
	var prev [][]byte
	for {
		q := "SELECT " + cols + " FROM " + sqlgen.Table(t.SrcDB, t.SrcTable)
		var args []any
		if prev != nil {
			w, a := t.rangeCond(prev, nil)
			q += " WHERE " + w
			args = a
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", orderBy(t.Key), per)
		vals := make([][]byte, len(t.Key))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := db.QueryRowContext(ctx, q, args...).Scan(ptrs...)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("plan chunks of %s: %w", t.src(), err)
		}
		cur := make([][]byte, len(vals))
		for i, v := range vals {
			cur[i] = v // Scan into *[]byte copies
		}
		chunks = append(chunks, &chunk{T: t, Lower: prev, Upper: cur, EstRows: per})
		prev = cur
	}
	chunks = append(chunks, &chunk{T: t, Lower: prev, EstRows: per})
	return chunks, nil
}

func orderBy(key []string) string { return sqlgen.ColumnList(key) }

// rangeCond is the predicate lower <= key < upper for the (possibly composite) key, written as
// an OR of prefix-equality terms so the optimizer uses a range scan. Values go as parameters:
// strings for text columns (compared in the column's collation, as the index orders them) and
// []byte for binary columns (sent as _binary literals).
func (t *table) rangeCond(lower, upper [][]byte) (string, []any) {
	var parts []string
	var args []any
	if lower != nil {
		s, a := t.tupleCmp(lower, ">")
		parts, args = append(parts, s), append(args, a...)
	}
	if upper != nil {
		s, a := t.tupleCmp(upper, "<")
		parts, args = append(parts, s), append(args, a...)
	}
	if len(parts) == 0 {
		return "1=1", nil
	}
	return strings.Join(parts, " AND "), args
}

// tupleCmp writes key >= vals (op ">") or key < vals (op "<") lexicographically.
func (t *table) tupleCmp(vals [][]byte, op string) (string, []any) {
	var ors []string
	var args []any
	for i := range t.Key {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, sqlgen.QuoteIdent(t.Key[j])+" = ?")
			args = append(args, t.keyArg(j, vals[j]))
		}
		cmp := op
		if i == len(t.Key)-1 && op == ">" {
			cmp = ">="
		}
		ands = append(ands, sqlgen.QuoteIdent(t.Key[i])+" "+cmp+" ?")
		args = append(args, t.keyArg(i, vals[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

func (t *table) keyArg(i int, v []byte) any {
	if t.KeyInt {
		if t.KeyUnsigned {
			if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
				return u
			}
		} else if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n
		}
	}
	if t.keyBinary(i) {
		return append([]byte{}, v...)
	}
	return string(v)
}

func (t *table) keyBinary(i int) bool {
	for _, c := range t.Columns {
		if c.Name == t.Key[i] {
			switch c.DataType {
			case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit":
				return true
			}
		}
	}
	return false
}

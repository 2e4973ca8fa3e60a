package fullimport

import (
	"context"
	"database/sql"

	"github.com/omsdev/oms/internal/keyset"
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

// planTable splits t into chunks along its key (keyset.Plan).
func planTable(ctx context.Context, db *sql.DB, t *table, maxRows, maxBytes int64) ([]*chunk, error) {
	per := rowsPerChunk(t, maxRows, maxBytes)
	rs, err := keyset.Plan(ctx, db, keyset.Table{From: sqlgen.Table(t.SrcDB, t.SrcTable), Key: t.key(), Rows: t.Rows}, per)
	if err != nil {
		return nil, err
	}
	chunks := make([]*chunk, len(rs))
	for i, r := range rs {
		chunks[i] = &chunk{T: t, Lower: r.Lo, Upper: r.Hi, EstRows: per}
	}
	return chunks, nil
}

// key is t's chunk key for keyset: binary columns compare as bytes.
func (t *table) key() keyset.Key {
	k := keyset.Key{Cols: t.Key, Int: t.KeyInt, Unsigned: t.KeyUnsigned, Binary: make([]bool, len(t.Key))}
	for i, name := range t.Key {
		for _, c := range t.Columns {
			if c.Name == name {
				switch c.DataType {
				case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit":
					k.Binary[i] = true
				}
			}
		}
	}
	return k
}

// rangeCond is the predicate of chunk bounds lower <= key < upper ("1=1" when both are open).
func (t *table) rangeCond(lower, upper [][]byte) (string, []any) {
	w, args := t.key().Where(keyset.Range{Lo: lower, Hi: upper})
	if w == "" {
		return "1=1", nil
	}
	return w, args
}

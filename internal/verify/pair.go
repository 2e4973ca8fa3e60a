package verify

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/keyset"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/sqlgen"
)

// pair is one source table and the target table it maps to, with the SQL both sides run.
type pair struct {
	Name     string // "db.table" of the source: the report's key
	src, dst *schema.TableInfo
	cols     []string // compared columns (same name on both sides)
	kinds    []kind
	keyPos   []int      // positions of the key columns in cols
	chunkKey keyset.Key // the key columns (binary ones compared as bytes; a single integer key cut arithmetically)
	weight   []bool     // key column is a case/accent-insensitive string: identity is its WEIGHT_STRING
	where    string     // row filter of the selection (applied on both sides)
	srcHint  string
	dstHint  string
	srcSum   string // checksum expression (CONCAT_WS of the columns)
	dstSum   string
	nWeights int
}

// newPair builds the comparison of src with dst over cols (nil = every source column).
func newPair(src, dst *schema.TableInfo, cols []string, where string) (*pair, error) {
	p := &pair{Name: src.DB + "." + src.Name, src: src, dst: dst, where: where}
	if len(cols) == 0 {
		for _, c := range src.Cols {
			cols = append(cols, c.Name)
		}
	}
	var srcExprs, dstExprs, nullMarks []string
	for _, name := range cols {
		sc, ok := src.Col(name)
		if !ok {
			return nil, omserr.New(omserr.VerifyColumnMissing, fmt.Sprintf("column %s is not in source table %s", name, p.Name),
				"fix the column list of the selection")
		}
		dc, ok := dst.Col(name)
		if !ok {
			return nil, omserr.New(omserr.VerifyColumnMissing,
				fmt.Sprintf("column %s of %s is missing in target table %s.%s", name, p.Name, dst.DB, dst.Name),
				"add the column to the target (struct transfer) or exclude it from the selection")
		}
		p.cols = append(p.cols, sc.Name)
		p.kinds = append(p.kinds, combine(kindOf(sc.DataType), kindOf(dc.DataType)))
		se, de := sqlgen.QuoteIdent(sc.Name), sqlgen.QuoteIdent(dc.Name)
		if sc.Charset != "" && dc.Charset != "" && !strings.EqualFold(sc.Charset, dc.Charset) {
			// Same characters, other bytes: compare the text in one character set.
			se, de = "CONVERT("+se+" USING utf8mb4)", "CONVERT("+de+" USING utf8mb4)"
		}
		srcExprs, dstExprs = append(srcExprs, se), append(dstExprs, de)
		if sc.Nullable || dc.Nullable {
			// CONCAT_WS skips NULLs: a marker per nullable column tells NULL from '' and from
			// a value that moved to the neighbour column.
			nullMarks = append(nullMarks, "ISNULL("+sqlgen.QuoteIdent(sc.Name)+")")
		}
	}
	if len(nullMarks) > 0 {
		m := "CONCAT(" + strings.Join(nullMarks, ",") + ")"
		srcExprs, dstExprs = append(srcExprs, m), append(dstExprs, m)
	}
	p.srcSum = "CONCAT_WS('#'," + strings.Join(srcExprs, ",") + ")"
	p.dstSum = "CONCAT_WS('#'," + strings.Join(dstExprs, ",") + ")"

	if src.KeyIndex != "" {
		for _, k := range src.KeyCols {
			pos := -1
			for i, c := range p.cols {
				if strings.EqualFold(c, k) {
					pos = i
				}
			}
			if pos < 0 {
				return nil, omserr.New(omserr.VerifyKeyNotCompared, fmt.Sprintf("key column %s of %s is not in the compared columns", k, p.Name),
					"include every key column in the selection's column list")
			}
			p.keyPos = append(p.keyPos, pos)
			sc, _ := src.Col(k)
			k := kindOf(sc.DataType)
			p.chunkKey.Cols = append(p.chunkKey.Cols, p.cols[pos])
			p.chunkKey.Binary = append(p.chunkKey.Binary, k == kindBinary)
			ci := k == kindString && !strings.HasSuffix(strings.ToLower(sc.Collation), "_bin")
			p.weight = append(p.weight, ci)
			if ci {
				p.nWeights++
			}
		}
		if kc := mustCol(src, src.KeyCols[0]); len(p.keyPos) == 1 && kindOf(kc.DataType) == kindInt {
			p.chunkKey.Int, p.chunkKey.Unsigned = true, strings.Contains(kc.Type, "unsigned")
		}
		p.srcHint = " FORCE INDEX (" + sqlgen.QuoteIdent(src.KeyIndex) + ")"
		if n := dst.IndexOn(src.KeyCols); n != "" {
			p.dstHint = " FORCE INDEX (" + sqlgen.QuoteIdent(n) + ")"
		}
	}
	return p, nil
}

func mustCol(t *schema.TableInfo, name string) schema.ColumnInfo { c, _ := t.Col(name); return c }

func (p *pair) hasKey() bool { return len(p.keyPos) > 0 }

func (p *pair) keyNames() []string { return p.chunkKey.Cols }

// side selects the source or target half of a pair.
type side int

const (
	srcSide side = iota
	dstSide
)

func (p *pair) table(s side) string {
	if s == srcSide {
		return sqlgen.Table(p.src.DB, p.src.Name)
	}
	return sqlgen.Table(p.dst.DB, p.dst.Name)
}

func (p *pair) hint(s side) string {
	if s == srcSide {
		return p.srcHint
	}
	return p.dstHint
}

// rangeWhere is the WHERE clause of a chunk: key >= lo AND key < hi (nil bound = open), plus the
// selection's row filter.
func (p *pair) rangeWhere(c chunk) (string, []any) {
	var conds []string
	w, args := p.chunkKey.Where(c)
	if w != "" {
		conds = append(conds, w)
	}
	if p.where != "" {
		conds = append(conds, "("+p.where+")")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// checksumSQL is the per-chunk aggregate: row count and SUM of a CRC32 per row. Not BIT_XOR:
// CRC32 is affine over XOR, so with BIT_XOR a value swapped between two rows of a chunk (row
// strings of equal length) cancels out and would go unseen; integer addition does not cancel
// that way, and duplicates of a key-less table do not cancel either. It costs the same.
func (p *pair) checksumSQL(s side, c chunk) (string, []any) {
	expr := p.srcSum
	if s == dstSide {
		expr = p.dstSum
	}
	w, args := p.rangeWhere(c)
	return "SELECT COUNT(*), COALESCE(SUM(CRC32(" + expr + ")),0) FROM " + p.table(s) + p.hint(s) + w, args
}

// selectList is the compared columns, then WEIGHT_STRING of each case-insensitive key column.
func (p *pair) selectList() string {
	var b strings.Builder
	b.WriteString(sqlgen.ColumnList(p.cols))
	for i, kp := range p.keyPos {
		if p.weight[i] {
			b.WriteString(", WEIGHT_STRING(" + sqlgen.QuoteIdent(p.cols[kp]) + ")")
		}
	}
	return b.String()
}

// rowsSQL fetches every row of a chunk.
func (p *pair) rowsSQL(s side, c chunk) (string, []any) {
	w, args := p.rangeWhere(c)
	return "SELECT " + p.selectList() + " FROM " + p.table(s) + p.hint(s) + w, args
}

// keysSQL fetches the rows with the given keys.
func (p *pair) keysSQL(s side, keys [][][]byte) (string, []any) {
	names := p.keyNames()
	var b strings.Builder
	var args []any
	b.WriteString("SELECT " + p.selectList() + " FROM " + p.table(s) + p.hint(s) + " WHERE ")
	if len(names) == 1 {
		b.WriteString(sqlgen.QuoteIdent(names[0]) + " IN (")
	} else {
		b.WriteString("(" + sqlgen.ColumnList(names) + ") IN (")
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		if len(names) == 1 {
			b.WriteString("?")
		} else {
			b.WriteString("(" + sqlgen.Placeholders(len(names)) + ")")
		}
		for j, v := range k {
			args = append(args, p.chunkKey.Arg(j, v))
		}
	}
	b.WriteString(")")
	if p.where != "" {
		b.WriteString(" AND (" + p.where + ")")
	}
	return b.String(), args
}

// identity is the key of a fetched row as the database sees it (collation-aware): rows of the
// two sides with the same identity are the same row.
func (p *pair) identity(r [][]byte) string {
	var b []byte
	wi := len(p.cols)
	for i, kp := range p.keyPos {
		v := r[kp]
		if p.weight[i] {
			v = r[wi]
			wi++
		}
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return string(b)
}

// key returns the raw key values of a fetched row.
func (p *pair) key(r [][]byte) [][]byte {
	out := make([][]byte, len(p.keyPos))
	for i, kp := range p.keyPos {
		out[i] = r[kp]
	}
	return out
}

// queryRows runs q and returns every row as byte slices (nil = NULL, never nil for ”).
func queryRows(ctx context.Context, db *sql.DB, q string, args []any) ([][][]byte, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	raw := make([]sql.RawBytes, len(cols))
	dest := make([]any, len(cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var out [][][]byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r := make([][]byte, len(cols))
		for i, v := range raw {
			if v != nil {
				r[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

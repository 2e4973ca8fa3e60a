// Package keyset cuts a table into key ranges and writes the SQL predicates that select one: the
// one chunk planner and keyset builder of the full import and the verification. A range is
// [Lo, Hi) along the table's key (primary key, or a unique key of NOT NULL columns); key values
// travel as the text (or raw bytes for binary columns) the server returns for them.
package keyset

import (
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Key is the ordered key columns of a table and how their values are sent back as parameters.
type Key struct {
	Cols []string
	// Binary marks columns compared as bytes (binary types): their values go as []byte (sent
	// as _binary literals), the others as strings, compared in the column's collation as the
	// index orders them.
	Binary []bool
	// Int: a single integer column. Ranges can be cut arithmetically and values go as numbers.
	Int      bool
	Unsigned bool
}

// Range is the key range [Lo, Hi); a nil bound is open. Lo and Hi hold one value per key column.
type Range struct {
	Lo [][]byte `json:"lo,omitempty"`
	Hi [][]byte `json:"hi,omitempty"`
}

// Arg is the parameter for value v of key column i.
func (k Key) Arg(i int, v []byte) any {
	if k.Int {
		if k.Unsigned {
			if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
				return u
			}
		} else if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n
		}
	}
	if i < len(k.Binary) && k.Binary[i] {
		return append([]byte{}, v...)
	}
	return string(v)
}

// Cmp is the lexicographic comparison key >= vals (op ">=") or key < vals (op "<"), written as
// an OR of prefix-equality terms so the range optimizer turns it into index ranges:
// (k1 > v1) OR (k1 = v1 AND k2 >= v2).
func (k Key) Cmp(op string, vals [][]byte) (string, []any) {
	if op != ">=" && op != "<" {
		panic("keyset: Cmp op must be >= or <, not " + op)
	}
	strict := op[:1]
	var ors []string
	var args []any
	for i := range k.Cols {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, sqlgen.QuoteIdent(k.Cols[j])+" = ?")
			args = append(args, k.Arg(j, vals[j]))
		}
		cmp := strict
		if i == len(k.Cols)-1 {
			cmp = op
		}
		ands = append(ands, sqlgen.QuoteIdent(k.Cols[i])+" "+cmp+" ?")
		args = append(args, k.Arg(i, vals[i]))
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// Where is the predicate of r: lower and upper comparisons joined by AND, "" when r is open on
// both sides.
func (k Key) Where(r Range) (string, []any) {
	var parts []string
	var args []any
	if r.Lo != nil {
		s, a := k.Cmp(">=", r.Lo)
		parts, args = append(parts, s), append(args, a...)
	}
	if r.Hi != nil {
		s, a := k.Cmp("<", r.Hi)
		parts, args = append(parts, s), append(args, a...)
	}
	return strings.Join(parts, " AND "), args
}

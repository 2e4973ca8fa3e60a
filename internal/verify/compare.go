package verify

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// kind is how values of a column are compared in Go once a chunk has been fetched row by row.
// Values arrive in the text protocol as bytes (nil = SQL NULL), strings already converted by the
// server to the connection character set (utf8mb4), so collations and character sets of the
// two sides do not matter for equality: the bytes of the text must be equal.
type kind int

const (
	kindString   kind = iota // CHAR/VARCHAR/TEXT/ENUM/SET: exact bytes in utf8mb4
	kindBinary               // BINARY/VARBINARY/BLOB/BIT: exact bytes
	kindInt                  // all integer types: numeric value
	kindDecimal              // DECIMAL: numeric value, so 1.50 (scale 2) equals 1.500 (scale 3)
	kindFloat                // FLOAT on either side: compared at float32 precision
	kindDouble               // DOUBLE: float64 value
	kindTemporal             // DATE/TIME/DATETIME/TIMESTAMP: text with fractional trailing zeros ignored
	kindJSON                 // JSON: parsed documents (key order and whitespace ignored)
)

// kindOf classifies an information_schema DATA_TYPE.
func kindOf(dataType string) kind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return kindInt
	case "decimal", "numeric":
		return kindDecimal
	case "float":
		return kindFloat
	case "double", "real":
		return kindDouble
	case "date", "time", "datetime", "timestamp":
		return kindTemporal
	case "json":
		return kindJSON
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry",
		"point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return kindBinary
	}
	return kindString
}

// combine picks the comparison for a column whose two sides may have different types: the
// less precise float wins, a number against a string compares as text.
func combine(a, b kind) kind {
	if a == b {
		return a
	}
	if (a == kindFloat && b == kindDouble) || (a == kindDouble && b == kindFloat) {
		return kindFloat
	}
	num := func(k kind) bool { return k == kindInt || k == kindDecimal }
	if num(a) && num(b) {
		return kindDecimal
	}
	if a == kindBinary || b == kindBinary {
		return kindBinary
	}
	return kindString
}

// valuesEqual reports whether a and b (text protocol bytes, nil = NULL) are the same value for a
// column compared as k. NULL equals only NULL; ” is not NULL.
func valuesEqual(k kind, a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if bytes.Equal(a, b) {
		return true
	}
	switch k {
	case kindInt, kindDecimal:
		ra, ok1 := new(big.Rat).SetString(string(a))
		rb, ok2 := new(big.Rat).SetString(string(b))
		return ok1 && ok2 && ra.Cmp(rb) == 0
	case kindFloat:
		fa, err1 := strconv.ParseFloat(string(a), 32)
		fb, err2 := strconv.ParseFloat(string(b), 32)
		return err1 == nil && err2 == nil && float32(fa) == float32(fb)
	case kindDouble:
		fa, err1 := strconv.ParseFloat(string(a), 64)
		fb, err2 := strconv.ParseFloat(string(b), 64)
		return err1 == nil && err2 == nil && fa == fb
	case kindTemporal:
		return bytes.Equal(trimFraction(a), trimFraction(b))
	case kindJSON:
		return jsonEqual(a, b)
	}
	return false
}

// trimFraction removes trailing zeros of a fractional second part: DATETIME(6) '...:05.500000'
// and DATETIME(1) '...:05.5' are the same instant; '...:05.000000' equals '...:05'.
func trimFraction(v []byte) []byte {
	dot := bytes.IndexByte(v, '.')
	if dot < 1 || bytes.IndexByte(v[dot+1:], '.') >= 0 || v[dot-1] < '0' || v[dot-1] > '9' {
		return v
	}
	for _, c := range v[dot+1:] {
		if c < '0' || c > '9' {
			return v
		}
	}
	end := len(v)
	for end > dot+1 && v[end-1] == '0' {
		end--
	}
	if end == dot+1 {
		end = dot
	}
	return v[:end]
}

func jsonEqual(a, b []byte) bool {
	va, ok1 := parseJSON(a)
	vb, ok2 := parseJSON(b)
	if !ok1 || !ok2 {
		return false
	}
	return jsonValueEqual(va, vb)
}

func parseJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	return v, true
}

func jsonValueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonValueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonValueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		ra, ok1 := new(big.Rat).SetString(string(x))
		rb, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && ra.Cmp(rb) == 0
	default: // string, bool, nil
		return a == b
	}
}

// diffColumns returns the indexes of the columns whose values differ.
func diffColumns(kinds []kind, a, b [][]byte) []int {
	var out []int
	for i, k := range kinds {
		if !valuesEqual(k, a[i], b[i]) {
			out = append(out, i)
		}
	}
	return out
}

package binlog

import (
	"fmt"
	"strings"
)

// convertRow turns go-mysql's decoded values into changelog value types, in place (the row
// slice is owned by us once the event is decoded):
//
//	ints -> int64 / uint64 (UNSIGNED, reinterpreting when the binlog had no signedness)
//	float32/float64 unchanged; DECIMAL/temporal text unchanged
//	CHAR/VARCHAR (string) -> []byte; BLOB/TEXT []byte unchanged
//	ENUM/SET numbers -> text labels; BIT -> uint64; YEAR -> int64; MySQL JSON -> string
func convertRow(res *ResolvedTable, row []any) error {
	cols := res.Table.Columns
	if len(row) != len(cols) {
		return fmt.Errorf("row has %d values for %d columns", len(row), len(cols))
	}
	for i, v := range row {
		col := &cols[i]
		switch x := v.(type) {
		case nil:
		case int8:
			if col.Unsigned {
				row[i] = uint64(uint8(x))
			} else {
				row[i] = int64(x)
			}
		case int16:
			if col.Unsigned {
				row[i] = uint64(uint16(x))
			} else {
				row[i] = int64(x)
			}
		case int32:
			if col.Unsigned {
				if strings.HasPrefix(col.Type, "mediumint") {
					row[i] = uint64(uint32(x) & 0xffffff)
				} else {
					row[i] = uint64(uint32(x))
				}
			} else {
				row[i] = int64(x)
			}
		case int64:
			switch {
			case res.EnumValues != nil && res.EnumValues[i] != nil:
				row[i] = enumLabel(res.EnumValues[i], x)
			case res.SetValues != nil && res.SetValues[i] != nil:
				row[i] = setLabels(res.SetValues[i], uint64(x))
			case strings.HasPrefix(col.Type, "bit"):
				row[i] = uint64(x)
			case col.Unsigned:
				row[i] = uint64(x)
			}
		case uint8:
			row[i] = uint64(x)
		case uint16:
			row[i] = uint64(x)
		case uint32:
			row[i] = uint64(x)
		case int:
			row[i] = int64(x) // YEAR
		case string:
			if isStringColumn(col.Type) {
				row[i] = []byte(x)
			}
		case []byte:
			if col.Type == "json" {
				row[i] = string(x)
			}
		case float32, float64, uint64:
		default:
			return fmt.Errorf("column %s: unsupported value type %T", col.Name, v)
		}
	}
	return nil
}

func isStringColumn(t string) bool {
	return strings.HasPrefix(t, "varchar") || strings.HasPrefix(t, "char") || strings.HasPrefix(t, "varbinary") ||
		strings.HasPrefix(t, "binary") || strings.HasSuffix(t, "text") || strings.HasSuffix(t, "blob")
}

// enumLabel maps a 1-based ENUM index to its label; 0 is the empty error value ”.
func enumLabel(vals []string, idx int64) string {
	if idx <= 0 || int(idx) > len(vals) {
		return ""
	}
	return vals[idx-1]
}

func setLabels(vals []string, bits uint64) string {
	var b strings.Builder
	for i, v := range vals {
		if i < 64 && bits&(1<<uint(i)) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// ParseEnumValues reads the labels of an "enum('a','b')" or "set('a','b')" type string.
func ParseEnumValues(t string) []string {
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") {
		return nil
	}
	s := t[open+1 : len(t)-1]
	var out []string
	for i := 0; i < len(s); {
		if s[i] != '\'' {
			i++
			continue
		}
		var b strings.Builder
		j := i + 1
		for j < len(s) {
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j += 2
					continue
				}
				break
			}
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
			j++
		}
		out = append(out, b.String())
		i = j + 1
	}
	return out
}

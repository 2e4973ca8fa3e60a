// Package sqlgen builds SQL text: identifier quoting and statement builders shared by the data
// components. Pure functions, no database/sql.
package sqlgen

import "strings"

// QuoteIdent quotes a MySQL identifier with backticks, doubling embedded backticks.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Table returns `db`.`table`.
func Table(db, table string) string { return QuoteIdent(db) + "." + QuoteIdent(table) }

// ColumnList returns `a`, `b`, `c`.
func ColumnList(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c))
	}
	return b.String()
}

// Placeholders returns n comma-separated question marks.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

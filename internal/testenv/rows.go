package testenv

import (
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// Rows returns every row of query as text, in the query's order: each column Go-quoted, NULL as
// NULL (so NULL, the text NULL and the empty string differ), columns joined by "|". Tests compare source and target
// tables with it.
func Rows(t testing.TB, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	parts := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = fmt.Sprintf("%q", []byte(v))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// SameRows reports (t.Errorf) and returns false when the row sets a and b (from Rows) differ,
// whatever their order; what names the compared tables.
func SameRows(t testing.TB, what string, a, b []string) bool {
	t.Helper()
	d := RowDiff(a, b)
	if d != "" {
		t.Errorf("%s: %d rows vs %d rows differ:\n%s", what, len(a), len(b), d)
	}
	return d == ""
}

// RowDiff lists the rows only in a ("only in source") and only in b ("only in target"), counting
// duplicates, sorted, at most 20 lines of at most 200 characters; "" when a and b hold the same rows.
func RowDiff(a, b []string) string {
	count := func(s []string) map[string]int {
		m := map[string]int{}
		for _, x := range s {
			m[x]++
		}
		return m
	}
	ma, mb := count(a), count(b)
	var out []string
	for k, n := range ma {
		if mb[k] < n {
			out = append(out, "only in source: "+clip(k))
		}
	}
	for k, n := range mb {
		if ma[k] < n {
			out = append(out, "only in target: "+clip(k))
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], "...")
	}
	return strings.Join(out, "\n")
}

func clip(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s...(%d bytes)", s[:200], len(s))
	}
	return s
}

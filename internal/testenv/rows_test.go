package testenv

import (
	"strings"
	"testing"
)

func TestRowsKeepNullEmptyAndTextApart(t *testing.T) {
	inst := Shared(t, "rows")
	got := Rows(t, inst.DB(), "SELECT NULL, '', 'NULL', 'a|b' UNION ALL SELECT 1, 2, 3, 4")
	want := []string{`NULL|""|"NULL"|"a|b"`, `"1"|"2"|"3"|"4"`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Rows = %q, want %q", got, want)
	}
}

func TestRowDiff(t *testing.T) {
	for _, c := range []struct {
		a, b []string
		want string
	}{
		{[]string{"x", "y"}, []string{"y", "x"}, ""},
		{nil, nil, ""},
		{[]string{"x", "x"}, []string{"x"}, "only in source: x"},
		{[]string{"x"}, []string{"y"}, "only in source: x\nonly in target: y"},
		{[]string{strings.Repeat("z", 300)}, nil, "only in source: " + strings.Repeat("z", 200) + "...(300 bytes)"},
	} {
		if got := RowDiff(c.a, c.b); got != c.want {
			t.Errorf("RowDiff(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

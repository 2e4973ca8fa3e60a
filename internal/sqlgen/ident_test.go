package sqlgen

import "testing"

func TestQuoting(t *testing.T) {
	cases := []struct{ got, want string }{
		{QuoteIdent("a"), "`a`"},
		{QuoteIdent("we`ird"), "`we``ird`"},
		{Table("db", "t"), "`db`.`t`"},
		{ColumnList([]string{"a", "b"}), "`a`, `b`"},
		{Placeholders(3), "?, ?, ?"},
		{Placeholders(0), ""},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %s want %s", i, c.got, c.want)
		}
	}
}

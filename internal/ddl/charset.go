package ddl

import "github.com/pingcap/tidb/pkg/parser/charset"

// The TiDB parser refuses every character set and collation TiDB itself does not implement
// (latin2, sjis, utf16, utf32, ucs2, MariaDB's nopad collations...), although a MySQL or MariaDB
// source logs DDL with any of them. Registering MariaDB's lists (charsets_gen.go, from MariaDB
// 10.11's information_schema) makes the parser accept them: oms never executes anything with the
// parser's charset tables, it only reads and renders statements. Registration happens once, at
// init, before any parser can run; the parser package's maps are not changed afterwards.
func init() {
	for _, c := range mariadbCharsets {
		if _, err := charset.GetCharsetInfo(c.name); err == nil {
			continue
		}
		charset.AddCharset(&charset.Charset{Name: c.name, DefaultCollation: c.defaultCollation,
			Collations: map[string]*charset.Collation{}, Desc: c.name, Maxlen: c.maxLen})
	}
	synthetic := 1 << 20 // ids only matter for the parser's id lookups, which oms never makes
	for _, c := range mariadbCollations {
		if _, err := charset.GetCollationByName(c.name); err == nil {
			continue
		}
		id := c.id
		if _, err := charset.GetCollationByID(id); err == nil || id == 0 {
			synthetic++
			id = synthetic
		}
		charset.AddCollation(&charset.Collation{ID: id, CharsetName: c.charset, Name: c.name, Sortlen: 1, PadAttribute: charset.PadSpace})
	}
}

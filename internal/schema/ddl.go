package schema

import (
	"strings"
)

// DDLTables names the tables ("db.table") a DDL statement changes, as far as a light tokenizer
// can tell: CREATE/ALTER/DROP/TRUNCATE/RENAME TABLE, CREATE/DROP INDEX ... ON. For CREATE/DROP/
// ALTER DATABASE it returns "db." (every table of db). defaultDB qualifies bare names. An
// unrecognised statement gives nil (callers then treat it as touching defaultDB).
func DDLTables(defaultDB, stmt string) []string {
	toks := ddlTokens(stmt, 64)
	kw := func(i int, words ...string) bool {
		if i+len(words) > len(toks) {
			return false
		}
		for j, w := range words {
			if toks[i+j].quoted || !strings.EqualFold(toks[i+j].s, w) {
				return false
			}
		}
		return true
	}
	qualify := func(i int) (string, int) {
		if i >= len(toks) {
			return "", i
		}
		name := toks[i].s
		if i+2 < len(toks) && toks[i+1].s == "." && !toks[i+1].quoted {
			return name + "." + toks[i+2].s, i + 3
		}
		return defaultDB + "." + name, i + 1
	}
	i := 0
	if !kw(0, "CREATE") && !kw(0, "ALTER") && !kw(0, "DROP") && !kw(0, "TRUNCATE") && !kw(0, "RENAME") {
		return nil
	}
	verb := strings.ToUpper(toks[0].s)
	i = 1
	// Modifiers between the verb and the object.
	for i < len(toks) && !toks[i].quoted {
		switch strings.ToUpper(toks[i].s) {
		case "OR", "REPLACE", "TEMPORARY", "ONLINE", "OFFLINE", "IGNORE", "UNIQUE", "FULLTEXT", "SPATIAL", "DEFINER", "SQL", "SECURITY":
			i++
			continue
		}
		break
	}
	if i >= len(toks) {
		return nil
	}
	obj := strings.ToUpper(toks[i].s)
	i++
	skipIfExists := func() {
		if kw(i, "IF", "NOT", "EXISTS") {
			i += 3
		} else if kw(i, "IF", "EXISTS") {
			i += 2
		}
	}
	switch obj {
	case "DATABASE", "SCHEMA":
		skipIfExists()
		if i < len(toks) {
			return []string{toks[i].s + "."}
		}
		return nil
	case "TABLE", "TABLES":
		skipIfExists()
		var out []string
		for i < len(toks) {
			var name string
			name, i = qualify(i)
			if name == "" {
				break
			}
			out = append(out, name)
			// RENAME TABLE a TO b, c TO d / DROP TABLE a, b
			if verb == "RENAME" && kw(i, "TO") {
				name, i = qualify(i + 1)
				out = append(out, name)
			}
			if i < len(toks) && toks[i].s == "," && !toks[i].quoted {
				i++
				continue
			}
			if verb == "ALTER" {
				// ALTER TABLE t RENAME [TO|AS] u
				for j := i; j < len(toks); j++ {
					if !toks[j].quoted && strings.EqualFold(toks[j].s, "RENAME") {
						k := j + 1
						if kw(k, "TO") || kw(k, "AS") {
							k++
						}
						if k < len(toks) && !kw(k, "COLUMN") && !kw(k, "INDEX") && !kw(k, "KEY") {
							n, _ := qualify(k)
							out = append(out, n)
						}
						break
					}
				}
			}
			break
		}
		return out
	case "INDEX", "KEY":
		for ; i < len(toks); i++ {
			if !toks[i].quoted && strings.EqualFold(toks[i].s, "ON") {
				n, _ := qualify(i + 1)
				if n != "" {
					return []string{n}
				}
			}
		}
	}
	return nil
}

type ddlToken struct {
	s      string
	quoted bool
}

// ddlTokens splits the start of a statement into words, backquoted identifiers and single
// punctuation characters, skipping comments. It stops after max tokens.
func ddlTokens(s string, max int) []ddlToken {
	var out []ddlToken
	for i := 0; i < len(s) && len(out) < max; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || (c == '-' && i+1 < len(s) && s[i+1] == '-'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '`':
			var b strings.Builder
			j := i + 1
			for j < len(s) {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, ddlToken{b.String(), true})
			i = j + 1
		case c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(s) {
				d := s[j]
				if d == '_' || d == '$' || d >= '0' && d <= '9' || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d >= 0x80 {
					j++
					continue
				}
				break
			}
			out = append(out, ddlToken{s[i:j], false})
			i = j
		default:
			out = append(out, ddlToken{string(c), false})
			i++
		}
	}
	return out
}

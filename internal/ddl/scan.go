package ddl

import "strings"

// token is one token of the fallback scanner. Only statements the TiDB parser cannot read (MariaDB
// syntax it lacks) are scanned, and only to classify them by their head and to list every
// identifier they might name; nothing is rendered from tokens.
type token struct {
	kind byte // 'w' word, 'q' quoted identifier (`x` or "x"), 's' 'string', 'p' punctuation
	text string
	pos  int // byte offset of the token's end in the scanned text
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

// ident reports whether the token can name an object (a word or a quoted identifier).
func (t token) ident() bool { return t.kind == 'w' || t.kind == 'q' }

// scan splits a statement the way MySQL/MariaDB read it: comments are dropped except executable
// ones (/*!NNNNN ... */ and /*M!NNNNNN ... */), whose content is scanned as part of the
// statement; "..." is taken as an identifier (ANSI_QUOTES) so that no name can hide in it. ok is
// false for an unterminated comment, string or identifier: the tokens are then incomplete.
func scan(s string) (toks []token, ok bool) {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == len(s) || s[i+2] <= ' '):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			if strings.HasPrefix(s[i:], "/*!") || strings.HasPrefix(s[i:], "/*M!") {
				// executable: drop the marker, its version digits and the closing */
				j := i + strings.Index(s[i:], "!") + 1
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				end := strings.Index(s[j:], "*/")
				if end < 0 {
					inner, _ := scan(s[j:])
					return append(toks, inner...), false
				}
				inner, ok := scan(s[j : j+end])
				for _, t := range inner {
					t.pos += j
					toks = append(toks, t)
				}
				if !ok {
					return toks, false
				}
				i = j + end + 2
				continue
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks, false
			}
			i += end + 4
		case c == '`' || c == '"' || c == '\'':
			text, n, closed := quoted(s[i:], c)
			if !closed {
				return toks, false
			}
			kind := byte('q')
			if c == '\'' {
				kind = 's'
			}
			i += n
			toks = append(toks, token{kind: kind, text: text, pos: i})
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{kind: 'w', text: s[i:j], pos: j})
			i = j
		default:
			i++
			toks = append(toks, token{kind: 'p', text: s[i-1 : i], pos: i})
		}
	}
	return toks, true
}

// quoted reads a quoted token starting at s[0] == q: its value (doubled quotes and, outside
// backquotes, backslash escapes undone), its length and whether it is closed.
func quoted(s string, q byte) (string, int, bool) {
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`' && j+1 < len(s):
			j++
			b.WriteByte(s[j])
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
			b.WriteByte(q)
		case s[j] == q:
			return b.String(), j + 1, true
		default:
			b.WriteByte(s[j])
		}
	}
	return "", len(s), false
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

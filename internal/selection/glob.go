package selection

import (
	"fmt"
	"unicode/utf8"
)

// glob is a compiled wildcard pattern over database or table names.
//
// Syntax (case-sensitive, whole-name match): a star matches any sequence of characters
// including none, ? exactly one character, [abc] one character of the set (ranges like [a-z0-9]
// allowed), [!abc] one character not in the set ([^abc] is a synonym), and \x the character x
// literally (to match a literal star, ?, [ or \).
//
// Characters are Unicode code points, so ? matches one emoji, not one byte.
type glob struct {
	src     string
	items   []globItem
	literal bool   // no wildcard at all: matching is string equality
	lit     string // the name a literal pattern stands for (escapes removed)
}

type globKind uint8

const (
	itemLit   globKind = iota
	itemAny            // ?
	itemStar           // *
	itemClass          // [..]
)

type globItem struct {
	kind   globKind
	r      rune        // itemLit
	negate bool        // itemClass
	ranges []runeRange // itemClass
}

type runeRange struct{ lo, hi rune }

// compileGlob parses pattern; the error says what and where.
func compileGlob(pattern string) (*glob, error) {
	if pattern == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("pattern %q is not valid UTF-8", pattern)
	}
	g := &glob{src: pattern, literal: true}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '*':
			g.literal = false
			// Collapse runs of stars: they mean the same and would only cost backtracking.
			if n := len(g.items); n > 0 && g.items[n-1].kind == itemStar {
				continue
			}
			g.items = append(g.items, globItem{kind: itemStar})
		case '?':
			g.literal = false
			g.items = append(g.items, globItem{kind: itemAny})
		case '\\':
			if i+1 >= len(rs) {
				return nil, fmt.Errorf("pattern %q ends with a lone backslash", pattern)
			}
			i++
			g.items = append(g.items, globItem{kind: itemLit, r: rs[i]})
		case '[':
			g.literal = false
			item, next, err := parseClass(rs, i)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", pattern, err)
			}
			g.items = append(g.items, item)
			i = next
		default:
			g.items = append(g.items, globItem{kind: itemLit, r: c})
		}
	}
	if g.literal {
		g.lit = g.literalString()
	}
	return g, nil
}

// parseClass parses the class starting at rs[start] == '['; it returns the item and the index of
// the closing ']'.
func parseClass(rs []rune, start int) (globItem, int, error) {
	item := globItem{kind: itemClass}
	i := start + 1
	if i < len(rs) && (rs[i] == '!' || rs[i] == '^') {
		item.negate = true
		i++
	}
	first := true
	for ; i < len(rs); i++ {
		c := rs[i]
		if c == ']' && !first {
			if len(item.ranges) == 0 {
				return item, 0, fmt.Errorf("empty character class at position %d", start)
			}
			return item, i, nil
		}
		first = false
		if c == '\\' {
			if i+1 >= len(rs) {
				break
			}
			i++
			c = rs[i]
		}
		lo, hi := c, c
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi = rs[i+2]
			if hi == '\\' {
				if i+3 >= len(rs) {
					break
				}
				hi = rs[i+3]
				i++
			}
			i += 2
			if hi < lo {
				return item, 0, fmt.Errorf("character range %c-%c at position %d is reversed", lo, hi, start)
			}
		}
		item.ranges = append(item.ranges, runeRange{lo, hi})
	}
	return item, 0, fmt.Errorf("character class opened at position %d is not closed with ]", start)
}

func (it *globItem) matchRune(r rune) bool {
	switch it.kind {
	case itemLit:
		return r == it.r
	case itemAny:
		return true
	case itemClass:
		in := false
		for _, rg := range it.ranges {
			if r >= rg.lo && r <= rg.hi {
				in = true
				break
			}
		}
		return in != it.negate
	}
	return false
}

// match reports whether name matches the whole pattern. Star handling is the classic
// single-backtrack-point algorithm: linear for patterns without stars, O(n*m) worst case.
func (g *glob) match(name string) bool {
	if g.literal {
		return g.lit == name
	}
	rs := []rune(name)
	pi, ni := 0, 0
	starPi, starNi := -1, 0
	for ni < len(rs) {
		if pi < len(g.items) {
			it := &g.items[pi]
			if it.kind == itemStar {
				starPi, starNi = pi, ni
				pi++
				continue
			}
			if it.matchRune(rs[ni]) {
				pi++
				ni++
				continue
			}
		}
		if starPi < 0 {
			return false
		}
		starNi++
		pi, ni = starPi+1, starNi
	}
	for pi < len(g.items) && g.items[pi].kind == itemStar {
		pi++
	}
	return pi == len(g.items)
}

// literalString is the name a literal pattern stands for (escapes removed).
func (g *glob) literalString() string {
	b := make([]rune, 0, len(g.items))
	for _, it := range g.items {
		b = append(b, it.r)
	}
	return string(b)
}

package fullimport

import (
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/sqlgen"
)

// This file rewrites the source's SHOW CREATE TABLE text for the target. SHOW CREATE TABLE
// prints one definition per line (column comments and defaults have their newlines escaped), so
// a line-level rewrite is exact: it renames the table, drops columns outside a column subset
// (and the keys that use them) and moves deferred definitions out of the CREATE statement.

// ddlLine is one definition of the CREATE TABLE body.
type ddlLine struct {
	text string // without the trailing comma
	kind lineKind
	name string   // column or key name
	cols []string // columns a key or foreign key uses (local side)
}

type lineKind uint8

const (
	lineColumn lineKind = iota
	linePrimary
	lineUnique
	lineIndex   // KEY, FULLTEXT KEY, SPATIAL KEY: deferrable
	lineForeign // CONSTRAINT .. FOREIGN KEY: deferrable
	lineOther   // CHECK constraints, PERIOD FOR, ...
)

// parsedCreate is a SHOW CREATE TABLE split into head, definitions and tail.
type parsedCreate struct {
	lines []ddlLine
	tail  string // ") ENGINE=... " and anything after (partitioning)
}

func parseCreate(create string) (*parsedCreate, error) {
	all := strings.Split(create, "\n")
	if len(all) < 3 || !strings.HasPrefix(all[0], "CREATE TABLE ") || !strings.HasSuffix(all[0], "(") {
		return nil, fmt.Errorf("unexpected SHOW CREATE TABLE shape: %.80q", create)
	}
	p := &parsedCreate{}
	i := 1
	for ; i < len(all) && !strings.HasPrefix(all[i], ")"); i++ {
		t := strings.TrimSpace(all[i])
		t = strings.TrimSuffix(t, ",")
		l := ddlLine{text: t}
		switch {
		case strings.HasPrefix(t, "`"):
			l.kind = lineColumn
			l.name, _ = readIdent(t)
		case strings.HasPrefix(t, "PRIMARY KEY"):
			l.kind, l.name, l.cols = linePrimary, "PRIMARY", identList(t[len("PRIMARY KEY"):])
		case strings.HasPrefix(t, "UNIQUE KEY"):
			l.kind = lineUnique
			l.name, l.cols = keyNameCols(t[len("UNIQUE KEY"):])
		case strings.HasPrefix(t, "KEY "), strings.HasPrefix(t, "FULLTEXT KEY"), strings.HasPrefix(t, "SPATIAL KEY"), strings.HasPrefix(t, "VECTOR KEY"):
			l.kind = lineIndex
			rest := t[strings.Index(t, "KEY")+3:]
			l.name, l.cols = keyNameCols(rest)
		case strings.HasPrefix(t, "CONSTRAINT ") && strings.Contains(t, " FOREIGN KEY "):
			l.kind = lineForeign
			l.name, _ = readIdent(strings.TrimSpace(t[len("CONSTRAINT "):]))
			l.cols = identList(t[strings.Index(t, " FOREIGN KEY ")+len(" FOREIGN KEY "):])
		default:
			l.kind = lineOther
		}
		p.lines = append(p.lines, l)
	}
	if i >= len(all) {
		return nil, fmt.Errorf("SHOW CREATE TABLE has no closing line: %.80q", create)
	}
	p.tail = strings.Join(all[i:], "\n")
	return p, nil
}

// readIdent reads a leading `quoted` identifier and returns it and the rest.
func readIdent(s string) (string, string) {
	if !strings.HasPrefix(s, "`") {
		return "", s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '`' {
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), s[i+1:]
		}
		b.WriteByte(s[i])
	}
	return b.String(), ""
}

// keyNameCols parses " `name` (`a`,`b`(10)) ..." .
func keyNameCols(s string) (string, []string) {
	s = strings.TrimSpace(s)
	name, rest := readIdent(s)
	return name, identList(rest)
}

// identList returns the backticked identifiers inside the first parenthesised list of s.
func identList(s string) []string {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		return nil
	}
	var out []string
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return out
			}
		case '`':
			if depth == 1 {
				name, rest := readIdent(s[i:])
				out = append(out, name)
				i = len(s) - len(rest) - 1
			}
		}
	}
	return out
}

// targetDDL is what STRUCT_TRANSFER and INDEX_TRANSFER run for one table.
type targetDDL struct {
	create   string   // CREATE TABLE `db`.`t` (...) without deferred definitions
	deferred []string // "ADD KEY ...", "ADD CONSTRAINT ... FOREIGN KEY ..."
	keyNames []string // names of the deferred definitions, in the same order
}

// rewriteCreate renames the table to db.table, keeps only columns in keep (nil: all) and the
// keys that use only kept columns, and moves secondary indexes and foreign keys to deferred when
// deferIdx is set.
func rewriteCreate(create, db, table string, keep map[string]bool, deferIdx bool) (targetDDL, error) {
	var out targetDDL
	p, err := parseCreate(create)
	if err != nil {
		return out, err
	}
	usesOnlyKept := func(cols []string) bool {
		for _, c := range cols {
			if keep != nil && !keep[c] {
				return false
			}
		}
		return true
	}
	var body []string
	for _, l := range p.lines {
		switch l.kind {
		case lineColumn:
			if keep != nil && !keep[l.name] {
				continue
			}
		case linePrimary, lineUnique:
			if !usesOnlyKept(l.cols) {
				if l.kind == linePrimary {
					return out, fmt.Errorf("the column subset leaves out primary key columns %v", l.cols)
				}
				continue
			}
		case lineIndex, lineForeign:
			if !usesOnlyKept(l.cols) {
				continue
			}
			if deferIdx {
				out.deferred = append(out.deferred, "ADD "+l.text)
				out.keyNames = append(out.keyNames, l.name)
				continue
			}
		}
		body = append(body, "  "+l.text)
	}
	out.create = "CREATE TABLE " + quoteIdent(db) + "." + quoteIdent(table) + " (\n" + strings.Join(body, ",\n") + "\n" + p.tail
	return out, nil
}

// definedKeys returns the names of the keys and foreign keys in a SHOW CREATE TABLE text.
func definedKeys(create string) (map[string]bool, error) {
	p, err := parseCreate(create)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, l := range p.lines {
		if l.kind != lineColumn && l.kind != lineOther {
			m[l.name] = true
		}
	}
	return m, nil
}

func quoteIdent(s string) string { return sqlgen.QuoteIdent(s) }

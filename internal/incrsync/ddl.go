package incrsync

import (
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
)

// ddlPlan is a source DDL statement made ready for the target.
type ddlPlan struct {
	kind    string   // "CREATE TABLE", "ALTER TABLE", ... or "" when skipped
	stmts   []string // statements to run on the target, in order; empty: nothing to do
	skipped string   // why nothing is done (for the log)
	// fail is set for a statement that cannot be applied: the task stops with it once
	// everything before the statement is applied.
	fail error
}

// tokens of a statement: enough lexing to find table names safely (comments, quoted strings
// and identifiers are never mistaken for keywords).
type token struct {
	kind       byte // 'w' word, 'q' `quoted ident`, 's' string, 'p' punctuation, 'n' number
	text       string
	start, end int
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

// ident is the identifier value of a word or quoted token.
func (t token) ident() (string, bool) {
	switch t.kind {
	case 'w':
		return t.text, true
	case 'q':
		return t.text, true
	}
	return "", false
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || (c == '-' && i+2 < len(s) && s[i+1] == '-' && (s[i+2] == ' ' || s[i+2] == '\t')) || (c == '-' && i+2 == len(s) && s[i+1] == '-'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at offset %d", i)
			}
			if i+2 < len(s) && s[i+2] == '!' {
				// executable comment /*!50100 ... */: lex its body as part of the statement
				body := i + 3
				for body < len(s) && s[body] >= '0' && s[body] <= '9' {
					body++
				}
				inner, err := lex(s[body : i+2+j])
				if err != nil {
					return nil, err
				}
				for _, t := range inner {
					t.start += body
					t.end += body
					out = append(out, t)
				}
			}
			i += j + 4
		case c == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quoted identifier at offset %d", i)
				}
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
			out = append(out, token{kind: 'q', text: b.String(), start: i, end: j + 1})
			i = j + 1
		case c == '\'' || c == '"':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string at offset %d", i)
				}
				if s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			out = append(out, token{kind: 's', text: s[i : j+1], start: i, end: j + 1})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			kind := byte('w')
			if c >= '0' && c <= '9' {
				kind = 'n'
				for k := i; k < j; k++ {
					if !(s[k] >= '0' && s[k] <= '9') {
						kind = 'w' // identifiers may start with digits
						break
					}
				}
			}
			out = append(out, token{kind: kind, text: s[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{kind: 'p', text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// tableRef is one table name found in a statement.
type tableRef struct {
	db, name   string
	start, end int // byte span in the statement, to be replaced
}

// parseTableName reads [db.]name at toks[i]; it returns the ref and the next index.
func parseTableName(toks []token, i int, defDB string) (tableRef, int, bool) {
	if i >= len(toks) {
		return tableRef{}, i, false
	}
	first, ok := toks[i].ident()
	if !ok {
		return tableRef{}, i, false
	}
	if i+2 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].text == "." {
		if second, ok := toks[i+2].ident(); ok {
			return tableRef{db: first, name: second, start: toks[i].start, end: toks[i+2].end}, i + 3, true
		}
	}
	return tableRef{db: defDB, name: first, start: toks[i].start, end: toks[i].end}, i + 1, true
}

// skipWords advances over optional words in order (e.g. IF NOT EXISTS).
func skipWords(toks []token, i int, words ...string) int {
	j := i
	for _, w := range words {
		if j < len(toks) && toks[j].is(w) {
			j++
		} else {
			return i
		}
	}
	return j
}

// accountStatements are DDL-like statements that never concern migrated tables.
var accountStatements = map[string]bool{
	"GRANT": true, "REVOKE": true, "FLUSH": true, "ANALYZE": true, "OPTIMIZE": true, "REPAIR": true,
	"CHECKSUM": true, "SET": true, "INSTALL": true, "UNINSTALL": true,
}

// planDDL decides what to do on the target for a source DDL: rewrite its table names through the
// selection's rename mapping, skip it when it concerns no selected table, or refuse it when it is
// not a supported kind and concerns a selected database.
func planDDL(sel *selection.Selector, d *changelog.DDL, gtid string) (*ddlPlan, error) {
	toks, err := lex(d.Statement)
	if err != nil || len(toks) == 0 {
		return nil, unsupported(d, gtid, "cannot parse the statement")
	}
	w := func(i int) string {
		if i < len(toks) && toks[i].kind == 'w' {
			return strings.ToUpper(toks[i].text)
		}
		return ""
	}
	var kind string
	var refs []tableRef
	i := 1
	switch w(0) {
	case "CREATE":
		i = skipWords(toks, i, "OR", "REPLACE")
		i = skipWords(toks, i, "ONLINE")
		i = skipWords(toks, i, "OFFLINE")
		if toks[min(i, len(toks)-1)].is("TEMPORARY") {
			return &ddlPlan{skipped: "temporary table"}, nil
		}
		switch {
		case w(i) == "TABLE":
			kind = "CREATE TABLE"
			i = skipWords(toks, i+1, "IF", "NOT", "EXISTS")
			r, j, ok := parseTableName(toks, i, d.DB)
			if !ok {
				return nil, unsupported(d, gtid, "no table name after CREATE TABLE")
			}
			refs = append(refs, r)
			// CREATE TABLE a LIKE b (also in parentheses)
			for k := j; k < len(toks); k++ {
				if toks[k].is("LIKE") && (k == j || (toks[j].text == "(" && k == j+1)) {
					if r2, _, ok := parseTableName(toks, k+1, d.DB); ok {
						refs = append(refs, r2)
					}
					break
				}
			}
		case w(i) == "INDEX" || (w(i) == "UNIQUE" || w(i) == "FULLTEXT" || w(i) == "SPATIAL") && w(i+1) == "INDEX":
			kind = "CREATE INDEX"
			for i < len(toks) && !toks[i].is("ON") {
				i++
			}
			r, _, ok := parseTableName(toks, i+1, d.DB)
			if !ok {
				return nil, unsupported(d, gtid, "no table after CREATE INDEX ... ON")
			}
			refs = append(refs, r)
		case w(i) == "DATABASE" || w(i) == "SCHEMA":
			return dbLevel(sel, "CREATE", toks, skipWords(toks, i+1, "IF", "NOT", "EXISTS"), d, gtid)
		}
	case "ALTER":
		i = skipWords(toks, i, "ONLINE")
		i = skipWords(toks, i, "IGNORE")
		switch w(i) {
		case "TABLE":
			kind = "ALTER TABLE"
			i = skipWords(toks, i+1, "IF", "EXISTS")
			r, j, ok := parseTableName(toks, i, d.DB)
			if !ok {
				return nil, unsupported(d, gtid, "no table name after ALTER TABLE")
			}
			refs = append(refs, r)
			depth := 0
			for k := j; k < len(toks); k++ {
				switch {
				case toks[k].kind == 'p' && toks[k].text == "(":
					depth++
				case toks[k].kind == 'p' && toks[k].text == ")":
					depth--
				case depth == 0 && toks[k].is("RENAME"):
					n := k + 1
					if w(n) == "COLUMN" || w(n) == "INDEX" || w(n) == "KEY" {
						continue
					}
					if w(n) == "TO" || w(n) == "AS" {
						n++
					}
					if r2, _, ok := parseTableName(toks, n, d.DB); ok {
						refs = append(refs, r2)
					}
				}
			}
		case "DATABASE", "SCHEMA":
			return dbLevel(sel, "ALTER", toks, i+1, d, gtid)
		}
	case "DROP":
		i = skipWords(toks, i, "ONLINE")
		if w(i) == "TEMPORARY" {
			return &ddlPlan{skipped: "temporary table"}, nil
		}
		switch w(i) {
		case "TABLE":
			kind = "DROP TABLE"
			i = skipWords(toks, i+1, "IF", "EXISTS")
			for {
				r, j, ok := parseTableName(toks, i, d.DB)
				if !ok {
					break
				}
				refs = append(refs, r)
				if j < len(toks) && toks[j].text == "," {
					i = j + 1
					continue
				}
				break
			}
			if len(refs) == 0 {
				return nil, unsupported(d, gtid, "no table name after DROP TABLE")
			}
		case "INDEX":
			kind = "DROP INDEX"
			for i < len(toks) && !toks[i].is("ON") {
				i++
			}
			r, _, ok := parseTableName(toks, i+1, d.DB)
			if !ok {
				return nil, unsupported(d, gtid, "no table after DROP INDEX ... ON")
			}
			refs = append(refs, r)
		case "DATABASE", "SCHEMA":
			return dbLevel(sel, "DROP", toks, skipWords(toks, i+1, "IF", "EXISTS"), d, gtid)
		}
	case "TRUNCATE":
		kind = "TRUNCATE TABLE"
		i = skipWords(toks, i, "TABLE")
		r, _, ok := parseTableName(toks, i, d.DB)
		if !ok {
			return nil, unsupported(d, gtid, "no table name after TRUNCATE")
		}
		refs = append(refs, r)
	case "RENAME":
		if w(1) != "TABLE" && w(1) != "TABLES" {
			break
		}
		kind = "RENAME TABLE"
		i = 2
		for {
			from, j, ok := parseTableName(toks, i, d.DB)
			if !ok || !(j < len(toks) && toks[j].is("TO")) {
				return nil, unsupported(d, gtid, "cannot read RENAME TABLE a TO b")
			}
			to, k, ok := parseTableName(toks, j+1, d.DB)
			if !ok {
				return nil, unsupported(d, gtid, "cannot read RENAME TABLE a TO b")
			}
			refs = append(refs, from, to)
			if k < len(toks) && toks[k].text == "," {
				i = k + 1
				continue
			}
			break
		}
	}
	if kind == "" {
		if accountStatements[w(0)] || !mentionsSelectedDB(sel, toks, d.DB) {
			return &ddlPlan{skipped: "statement concerns no selected database"}, nil
		}
		return nil, unsupported(d, gtid, "this kind of statement is not applied by Incr-Sync")
	}
	return rewrite(sel, kind, d, gtid, refs)
}

// mentionsSelectedDB reports whether a statement runs in a selected database (the session's
// default one) or names an object `db`.`x` of one.
func mentionsSelectedDB(sel *selection.Selector, toks []token, defaultDB string) bool {
	if defaultDB != "" && sel.MayMatchDB(defaultDB) {
		return true
	}
	for i := 0; i+2 < len(toks); i++ {
		db, ok := toks[i].ident()
		if !ok || toks[i+1].kind != 'p' || toks[i+1].text != "." {
			continue
		}
		if _, ok := toks[i+2].ident(); ok && sel.MayMatchDB(db) {
			return true
		}
	}
	return false
}

// rewrite maps every table reference through the selection.
func rewrite(sel *selection.Selector, kind string, d *changelog.DDL, gtid string, refs []tableRef) (*ddlPlan, error) {
	type mapped struct {
		ref tableRef
		tgt selection.Target
		ok  bool
	}
	var ms []mapped
	nSel := 0
	for _, r := range refs {
		tgt, ok := sel.Match(r.db, r.name)
		if ok {
			nSel++
		}
		ms = append(ms, mapped{r, tgt, ok})
	}
	if nSel == 0 {
		return &ddlPlan{skipped: "no selected table"}, nil
	}
	plan := &ddlPlan{kind: kind}
	switch kind {
	case "DROP TABLE":
		// keep only the selected tables of a multi-table DROP
		var names []string
		for _, m := range ms {
			if m.ok {
				names = append(names, sqlgen.Table(m.tgt.DB, m.tgt.Table))
			}
		}
		plan.stmts = []string{"DROP TABLE IF EXISTS " + strings.Join(names, ", ")}
		return plan, nil
	case "RENAME TABLE", "ALTER TABLE", "CREATE TABLE":
		if nSel != len(ms) {
			return nil, unsupported(d, gtid, "it moves a table into or out of the selection (one name is selected, the other is not)")
		}
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(d.Statement[last:m.ref.start])
		b.WriteString(sqlgen.Table(m.tgt.DB, m.tgt.Table))
		last = m.ref.end
	}
	b.WriteString(d.Statement[last:])
	if kind == "CREATE TABLE" {
		plan.stmts = append(plan.stmts, "CREATE DATABASE IF NOT EXISTS "+sqlgen.QuoteIdent(ms[0].tgt.DB))
	}
	plan.stmts = append(plan.stmts, b.String())
	return plan, nil
}

// wholeDBProbe is a table name no real table has: Match(db, wholeDBProbe) answers for rules that
// take every table of db ("*"), which is what a database-level statement maps through.
const wholeDBProbe = "\x00"

// dbLevel handles CREATE/ALTER/DROP DATABASE. Not selected: skipped. CREATE of a selected
// database becomes CREATE DATABASE IF NOT EXISTS of its target name (CREATE TABLE makes it too);
// ALTER (default charset) is skipped; DROP of a selected database is refused: it would drop
// target data the selection may not cover, so the operator decides.
func dbLevel(sel *selection.Selector, verb string, toks []token, i int, d *changelog.DDL, gtid string) (*ddlPlan, error) {
	name := d.DB
	if i < len(toks) {
		if n, ok := toks[i].ident(); ok {
			name = n
		}
	}
	if name == "" || !sel.MayMatchDB(name) {
		return &ddlPlan{skipped: "database not selected"}, nil
	}
	switch verb {
	case "CREATE":
		if tgt, ok := sel.Match(name, wholeDBProbe); ok {
			return &ddlPlan{kind: "CREATE DATABASE", stmts: []string{"CREATE DATABASE IF NOT EXISTS " + sqlgen.QuoteIdent(tgt.DB)}}, nil
		}
		return &ddlPlan{skipped: "CREATE DATABASE: tables are created with their database"}, nil
	case "ALTER":
		return &ddlPlan{skipped: "ALTER DATABASE is not applied"}, nil
	}
	return nil, unsupported(d, gtid, "DROP DATABASE of a selected database is not applied automatically")
}

func unsupported(d *changelog.DDL, gtid, why string) error {
	stmt := d.Statement
	if len(stmt) > 300 {
		stmt = stmt[:300] + "..."
	}
	return omserr.New(omserr.IncrDDLUnsupported,
		fmt.Sprintf("DDL at GTID %s cannot be applied (%s): %s", gtid, why, stmt),
		fmt.Sprintf("apply the change to the target by hand if it is needed, then add %q to skip_ddl_gtids in the task spec and resume; or set skip_ddl to drop every DDL", gtid))
}

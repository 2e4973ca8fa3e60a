// Package rowfilter parses a selection rule's row filter (`where`) into an expression tree and
// renders the SQL that Full-Import, Verify and Incr-Sync run from that tree, never from the text
// a person typed. A filter is one boolean expression over the table's own columns, literals,
// operators and an allow-list of deterministic functions; subqueries, UNION, INTO, variables,
// comments, several statements and any function not on the list (SLEEP, BENCHMARK, LOAD_FILE,
// NOW, RAND, USER...) are refused with an *omserr.Error whose code names the offending part.
//
// The text is parsed by the TiDB MySQL parser as the WHERE clause of a placeholder SELECT, so
// an injection attempt (`1=0) UNION ALL SELECT ...`, `1=1) INTO OUTFILE ...`) parses into a
// statement with a UNION or an INTO and is refused by name. Pure logic: no database.
package rowfilter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values of the parsed tree

	"github.com/omsdev/oms/internal/omserr"
)

// MaxLen bounds the text of a filter (the parser's work and the SQL it lands in).
const MaxLen = 4096

const advice = "give one boolean expression over the table's own columns, e.g. `status = 'paid' AND created_at >= '2024-01-01'` (literals, operators and deterministic functions only)"

// Filter is a parsed, checked row filter. It is immutable and safe for concurrent use.
type Filter struct {
	text    string
	expr    ast.ExprNode
	columns []string // referenced column names, first spelling, in order of appearance
}

// Parse parses and checks a row filter. The error is an *omserr.Error whose code names the part
// refused (omserr.Filter*) and whose message quotes it.
func Parse(text string) (*Filter, error) {
	if strings.TrimSpace(text) == "" {
		return nil, refuse(omserr.FilterSyntax, text, "it is empty")
	}
	if len(text) > MaxLen {
		return nil, refuse(omserr.FilterTooLong, text[:64]+"...", fmt.Sprintf("it is %d bytes long, more than %d", len(text), MaxLen))
	}
	if hasOutsideQuotes(text, ";") {
		return nil, refuse(omserr.FilterStatements, text, "';' outside quotes would start another statement")
	}
	p := parser.New()
	stmts, _, err := p.Parse("SELECT 1 FROM `__oms_filter` WHERE ("+text+")", "", "")
	if err != nil {
		if c := findComment(text); c != "" {
			return nil, refuse(omserr.FilterComment, text, fmt.Sprintf("comments (%s) are not allowed", c))
		}
		return nil, &omserr.Error{Code: omserr.FilterSyntax, Message: fmt.Sprintf("row filter %q is not a valid expression", text), Advice: advice, Err: stripSQL(err)}
	}
	if len(stmts) != 1 {
		return nil, refuse(omserr.FilterStatements, text, "it makes more than one statement")
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if !ok {
		if _, union := stmts[0].(*ast.SetOprStmt); union {
			return nil, refuse(omserr.FilterUnion, text, "UNION (or EXCEPT/INTERSECT) is not allowed")
		}
		return nil, refuse(omserr.FilterNotAllowed, text, "it is not an expression")
	}
	if err := checkSelect(text, sel); err != nil {
		return nil, err
	}
	if c := findComment(text); c != "" {
		return nil, refuse(omserr.FilterComment, text, fmt.Sprintf("comments (%s) are not allowed", c))
	}
	f := &Filter{text: text, expr: sel.Where}
	r := &renderer{text: text, seen: map[string]bool{}}
	if err := r.expr(sel.Where); err != nil {
		return nil, err
	}
	f.columns = r.cols
	return f, nil
}

// checkSelect refuses everything of the placeholder SELECT but its WHERE.
func checkSelect(text string, s *ast.SelectStmt) error {
	switch {
	case s.SelectIntoOpt != nil:
		return refuse(omserr.FilterInto, text, "INTO (OUTFILE, DUMPFILE or variables) is not allowed")
	case s.With != nil:
		return refuse(omserr.FilterSubquery, text, "WITH is not allowed")
	case s.Where == nil:
		return refuse(omserr.FilterSyntax, text, "there is no expression")
	case s.GroupBy != nil, s.Having != nil:
		return refuse(omserr.FilterClause, text, "GROUP BY/HAVING is not allowed")
	case s.OrderBy != nil, s.Limit != nil:
		return refuse(omserr.FilterClause, text, "ORDER BY/LIMIT is not allowed")
	case s.LockInfo != nil:
		return refuse(omserr.FilterClause, text, "FOR UPDATE/LOCK IN SHARE MODE is not allowed")
	case len(s.WindowSpecs) > 0:
		return refuse(omserr.FilterClause, text, "WINDOW is not allowed")
	case len(s.TableHints) > 0:
		return refuse(omserr.FilterComment, text, "optimizer hints are not allowed")
	case s.Distinct, s.From == nil, s.Fields == nil || len(s.Fields.Fields) != 1:
		return refuse(omserr.FilterNotAllowed, text, "it is not one expression")
	}
	return nil
}

// Text is the filter as given.
func (f *Filter) Text() string { return f.text }

// Columns are the column names the filter references, each once, in order of appearance.
func (f *Filter) Columns() []string { return append([]string(nil), f.columns...) }

// SQL renders the filter from its tree: every identifier backquoted, every operation in
// parentheses, string literals quoted so that no sql_mode changes where they end. Column names
// are written as in the filter.
func (f *Filter) SQL() string {
	s, _ := f.render(nil) // checked by Parse: cannot fail
	return s
}

// Bind checks that every column the filter references exists in table (MySQL column names are
// case-insensitive) and returns the SQL with each column spelled as the table spells it. table
// names the table in the error.
func (f *Filter) Bind(table string, cols []string) (string, error) {
	spelled := make(map[string]string, len(cols))
	for _, c := range cols {
		spelled[strings.ToLower(c)] = c
	}
	for _, c := range f.columns {
		if _, ok := spelled[strings.ToLower(c)]; !ok {
			return "", omserr.New(omserr.FilterColumnUnknown,
				fmt.Sprintf("row filter %q of %s names column %q, which the table does not have", f.text, table, c),
				"fix the where expression of the selection rule: it may use only the source table's own columns")
		}
	}
	return f.render(func(c string) string { return spelled[strings.ToLower(c)] })
}

func refuse(code, text, why string) error {
	return omserr.New(code, fmt.Sprintf("row filter %q is refused: %s", text, why), advice)
}

// stripSQL keeps the parser's "near ..." detail but not the placeholder SELECT it saw.
func stripSQL(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "near "); i >= 0 {
		msg = msg[i:]
	}
	return errors.New(msg)
}

// hasOutsideQuotes reports whether sub occurs outside '...', "..." and `...`.
func hasOutsideQuotes(s, sub string) bool {
	found := false
	scan(s, func(i int) bool {
		if strings.HasPrefix(s[i:], sub) {
			found = true
			return false
		}
		return true
	})
	return found
}

// findComment returns the comment opener found outside quotes ("/*", "--", "#"), or "".
func findComment(s string) string {
	out := ""
	scan(s, func(i int) bool {
		for _, c := range []string{"/*", "--", "#"} {
			if strings.HasPrefix(s[i:], c) {
				out = c
				return false
			}
		}
		return true
	})
	return out
}

// scan calls at(i) for every byte index of s outside a quoted string or identifier, until at
// returns false. Quotes follow MySQL: a doubled quote stays inside, a backslash escapes the
// next byte inside '...' and "..." (not inside `...`).
func scan(s string, at func(i int) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote != '`':
			i++
		case quote != 0 && c == quote:
			if i+1 < len(s) && s[i+1] == quote {
				i++
			} else {
				quote = 0
			}
		case quote != 0:
		case c == '\'' || c == '"' || c == '`':
			quote = c
		default:
			if !at(i) {
				return
			}
		}
	}
}

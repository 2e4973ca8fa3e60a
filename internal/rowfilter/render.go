package rowfilter

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// functions is the allow-list: deterministic, without side effects, reading nothing but their
// arguments. Everything else (SLEEP, BENCHMARK, LOAD_FILE, NOW, RAND, UUID, USER, DATABASE,
// GET_LOCK, stored functions...) is refused.
var functions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`
		abs ceil ceiling floor round truncate mod sign greatest least conv
		coalesce ifnull nullif if isnull interval
		lower upper lcase ucase length char_length character_length octet_length bit_length
		concat concat_ws substring substr mid left right trim ltrim rtrim replace locate instr
		lpad rpad reverse hex unhex ascii ord strcmp find_in_set field elt repeat space
		crc32 md5 sha1 sha sha2
		date time year month day dayofmonth dayofweek dayofyear hour minute second microsecond
		week weekday weekofyear yearweek quarter to_days from_days to_seconds datediff timediff
		date_format time_format str_to_date makedate maketime last_day
		date_add date_sub adddate subdate addtime subtime extract timestampdiff timestampadd
		json_extract json_unquote json_contains json_contains_path json_length json_type json_valid
		inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6`) {
		functions[f] = true
	}
}

// dateLiterals are the parser's names for DATE '...', TIME '...' and TIMESTAMP '...'.
var dateLiterals = map[string]string{ast.DateLiteral: "DATE ", ast.TimeLiteral: "TIME ", ast.TimestampLiteral: "TIMESTAMP "}

var binaryOps = map[opcode.Op]string{
	opcode.LogicAnd: "AND", opcode.LogicOr: "OR", opcode.LogicXor: "XOR",
	opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.LE: "<=", opcode.GT: ">", opcode.GE: ">=", opcode.NullEQ: "<=>",
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.IntDiv: "DIV", opcode.Mod: "%",
	opcode.And: "&", opcode.Or: "|", opcode.Xor: "^", opcode.LeftShift: "<<", opcode.RightShift: ">>",
}

var unaryOps = map[opcode.Op]string{opcode.Not: "NOT ", opcode.Not2: "NOT ", opcode.Minus: "-", opcode.Plus: "+", opcode.BitNeg: "~"}

var collationName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// renderer writes SQL from an allowed tree and refuses anything else. cols/seen collect the
// column names; mapCol (nil: as written) spells them.
type renderer struct {
	text   string
	mapCol func(string) string
	b      strings.Builder
	cols   []string
	seen   map[string]bool
}

func (f *Filter) render(mapCol func(string) string) (string, error) {
	r := &renderer{text: f.text, mapCol: mapCol}
	if err := r.expr(f.expr); err != nil {
		return "", err
	}
	return r.b.String(), nil
}

func (r *renderer) list(es []ast.ExprNode) error {
	for i, e := range es {
		if i > 0 {
			r.b.WriteString(", ")
		}
		if err := r.expr(e); err != nil {
			return err
		}
	}
	return nil
}

// expr renders one node. Every composite is parenthesised, so the text's precedence is the
// tree's, whatever the surrounding SQL.
func (r *renderer) expr(n ast.ExprNode) error {
	w := &r.b
	switch e := n.(type) {
	case *ast.ParenthesesExpr:
		return r.expr(e.Expr)
	case *ast.ColumnNameExpr:
		if e.Name.Schema.O != "" || e.Name.Table.O != "" {
			return refuse(omserr.FilterNotAllowed, r.text, fmt.Sprintf("qualified column %q: name the column alone", e.Name.OrigColName()))
		}
		name := e.Name.Name.O
		if r.seen != nil && !r.seen[strings.ToLower(name)] {
			r.seen[strings.ToLower(name)] = true
			r.cols = append(r.cols, name)
		}
		if r.mapCol != nil {
			name = r.mapCol(name)
		}
		w.WriteString(sqlgen.QuoteIdent(name))
	case ast.ParamMarkerExpr: // before ValueExpr: a marker is one
		return refuse(omserr.FilterNotAllowed, r.text, "placeholders (?) are not allowed")
	case *driver.ValueExpr:
		return r.value(e)
	case *ast.BinaryOperationExpr:
		op, ok := binaryOps[e.Op]
		if !ok {
			return refuse(omserr.FilterNotAllowed, r.text, fmt.Sprintf("operator %s is not allowed", e.Op))
		}
		return r.wrap(e.L, " "+op+" ", e.R)
	case *ast.UnaryOperationExpr:
		op, ok := unaryOps[e.Op]
		if !ok {
			return refuse(omserr.FilterNotAllowed, r.text, fmt.Sprintf("operator %s is not allowed", e.Op))
		}
		return r.wrap(op, e.V)
	case *ast.IsNullExpr:
		return r.wrap(e.Expr, pick(e.Not, " IS NOT NULL", " IS NULL"))
	case *ast.IsTruthExpr:
		return r.wrap(e.Expr, pick(e.Not, " IS NOT ", " IS "), pick(e.True > 0, "TRUE", "FALSE"))
	case *ast.BetweenExpr:
		return r.wrap(e.Expr, pick(e.Not, " NOT BETWEEN ", " BETWEEN "), e.Left, " AND ", e.Right)
	case *ast.PatternInExpr:
		if e.Sel != nil {
			return refuse(omserr.FilterSubquery, r.text, "a subquery in IN (...) is not allowed")
		}
		w.WriteString("(")
		if err := r.seq(e.Expr, pick(e.Not, " NOT IN (", " IN (")); err != nil {
			return err
		}
		if err := r.list(e.List); err != nil {
			return err
		}
		w.WriteString("))")
	case *ast.PatternLikeOrIlikeExpr:
		if !e.IsLike {
			return refuse(omserr.FilterNotAllowed, r.text, "ILIKE is not MySQL: use LIKE (case follows the column's collation)")
		}
		escape := ""
		if e.EscapeExplicit {
			escape = " ESCAPE " + quoteString(string([]byte{e.Escape}))
		}
		return r.wrap(e.Expr, pick(e.Not, " NOT LIKE ", " LIKE "), e.Pattern, escape)
	case *ast.PatternRegexpExpr:
		return r.wrap(e.Expr, pick(e.Not, " NOT REGEXP ", " REGEXP "), e.Pattern)
	case *ast.CaseExpr:
		return r.caseExpr(e)
	case *ast.RowExpr:
		w.WriteString("ROW(")
		if err := r.list(e.Values); err != nil {
			return err
		}
		w.WriteString(")")
	case *ast.SetCollationExpr:
		if !collationName.MatchString(e.Collate) {
			return refuse(omserr.FilterNotAllowed, r.text, fmt.Sprintf("collation %q is not a collation name", e.Collate))
		}
		return r.wrap(e.Expr, " COLLATE "+e.Collate)
	case *ast.FuncCallExpr:
		return r.call(e)
	case *ast.TimeUnitExpr:
		w.WriteString(e.Unit.String())
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr:
		return refuse(omserr.FilterSubquery, r.text, "subqueries are not allowed")
	case *ast.VariableExpr:
		v := "@" + e.Name
		if e.IsSystem {
			v = "@@" + e.Name
		}
		return refuse(omserr.FilterVariable, r.text, fmt.Sprintf("variable %s is not allowed", v))
	case *ast.AggregateFuncExpr:
		return refuse(omserr.FilterFunction, r.text, fmt.Sprintf("aggregate function %s is not allowed", strings.ToUpper(e.F)))
	case *ast.WindowFuncExpr:
		return refuse(omserr.FilterFunction, r.text, fmt.Sprintf("window function %s is not allowed", strings.ToUpper(e.Name)))
	case *ast.FuncCastExpr:
		return refuse(omserr.FilterFunction, r.text, "CAST/CONVERT is not allowed: compare with a literal of the column's type instead")
	default:
		return refuse(omserr.FilterNotAllowed, r.text, fmt.Sprintf("%T is not allowed in a row filter", n))
	}
	return nil
}

// seq writes parts in order: strings as they are, expressions rendered.
func (r *renderer) seq(parts ...any) error {
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			r.b.WriteString(v)
		case ast.ExprNode:
			if err := r.expr(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// wrap is seq in parentheses.
func (r *renderer) wrap(parts ...any) error {
	r.b.WriteString("(")
	if err := r.seq(parts...); err != nil {
		return err
	}
	r.b.WriteString(")")
	return nil
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func (r *renderer) caseExpr(e *ast.CaseExpr) error {
	parts := []any{"(CASE"}
	if e.Value != nil {
		parts = append(parts, " ", e.Value)
	}
	for _, c := range e.WhenClauses {
		parts = append(parts, " WHEN ", c.Expr, " THEN ", c.Result)
	}
	if e.ElseClause != nil {
		parts = append(parts, " ELSE ", e.ElseClause)
	}
	return r.seq(append(parts, " END)")...)
}

func (r *renderer) call(e *ast.FuncCallExpr) error {
	w := &r.b
	name := e.FnName.L
	if kw, ok := dateLiterals[name]; ok && len(e.Args) == 1 {
		w.WriteString(kw)
		return r.expr(e.Args[0])
	}
	if e.Schema.O != "" {
		return refuse(omserr.FilterFunction, r.text, fmt.Sprintf("stored function %s.%s is not allowed", e.Schema.O, e.FnName.O))
	}
	if !functions[name] {
		return refuse(omserr.FilterFunction, r.text, fmt.Sprintf("function %s is not allowed (only deterministic functions without side effects are)", strings.ToUpper(e.FnName.O)))
	}
	for _, a := range e.Args {
		if _, ok := a.(*ast.TrimDirectionExpr); ok {
			return refuse(omserr.FilterFunction, r.text, "TRIM(BOTH/LEADING/TRAILING ...) is not allowed: use TRIM(x), LTRIM(x) or RTRIM(x)")
		}
	}
	if name == "trim" && len(e.Args) != 1 {
		return refuse(omserr.FilterFunction, r.text, "TRIM(... FROM x) is not allowed: use TRIM(x), LTRIM(x) or RTRIM(x)")
	}
	w.WriteString(strings.ToUpper(name) + "(")
	var err error
	switch _, unit := lastArg(e).(*ast.TimeUnitExpr); {
	case (name == "date_add" || name == "date_sub" || name == "adddate" || name == "subdate") && len(e.Args) == 3 && unit:
		err = r.seq(e.Args[0], ", INTERVAL ", e.Args[1], " ", e.Args[2])
	case name == "extract" && len(e.Args) == 2:
		err = r.seq(e.Args[0], " FROM ", e.Args[1])
	default:
		err = r.list(e.Args)
	}
	if err != nil {
		return err
	}
	w.WriteString(")")
	return nil
}

func lastArg(e *ast.FuncCallExpr) ast.ExprNode {
	if len(e.Args) == 0 {
		return nil
	}
	return e.Args[len(e.Args)-1]
}

// value renders a literal.
func (r *renderer) value(v *driver.ValueExpr) error {
	w := &r.b
	switch v.Kind() {
	case driver.KindNull:
		w.WriteString("NULL")
	case driver.KindInt64:
		w.WriteString(strconv.FormatInt(v.GetInt64(), 10))
	case driver.KindUint64:
		w.WriteString(strconv.FormatUint(v.GetUint64(), 10))
	case driver.KindFloat32, driver.KindFloat64:
		w.WriteString(strconv.FormatFloat(v.GetFloat64(), 'e', -1, 64))
	case driver.KindMysqlDecimal:
		w.WriteString(v.GetMysqlDecimal().String())
	case driver.KindString, driver.KindBytes:
		if v.Type.GetCharset() == "binary" {
			w.WriteString("X'" + hex.EncodeToString([]byte(v.GetString())) + "'")
		} else {
			w.WriteString(quoteString(v.GetString()))
		}
	case driver.KindBinaryLiteral:
		if v.Type.GetCharset() == "utf8mb4" { // _utf8mb4 X'...', as quoteString writes it
			w.WriteString("_utf8mb4 ")
		}
		w.WriteString("X'" + hex.EncodeToString(v.GetBytes()) + "'")
	default:
		return refuse(omserr.FilterNotAllowed, r.text, "a literal of this kind is not allowed")
	}
	return nil
}

// quoteString renders a string literal that ends where it should under any sql_mode: plain
// '...' (quotes doubled) when it holds no backslash or control character, else its bytes in hex
// with the utf8mb4 introducer (compared like a plain literal: the column's collation decides).
func quoteString(s string) string {
	plain := utf8.ValidString(s)
	for _, c := range []byte(s) {
		if c == '\\' || c < 0x20 || c == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	if s == "" {
		return "''"
	}
	if !utf8.ValidString(s) {
		return "X'" + hex.EncodeToString([]byte(s)) + "'"
	}
	return "_utf8mb4 X'" + hex.EncodeToString([]byte(s)) + "'"
}

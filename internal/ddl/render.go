package ddl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
)

// Mapper maps source names to target names (the project's selection and renames).
type Mapper interface {
	// Table returns the target of source table db.name; ok is false when it is not selected.
	Table(db, name string) (tdb, tname string, ok bool)
	// Database returns the target of a whole source database; ok is false when the database is
	// not selected as a whole.
	Database(db string) (tdb string, ok bool)
}

// Target is a statement ready for the target database.
type Target struct {
	SQL string
	// UseDB is the default database the statement needs on the target ("" when every name in
	// SQL is qualified).
	UseDB string
}

// restoreFlags render keywords upper case, names in backquotes, strings in single quotes with
// backslashes escaped (MySQL's default sql_mode reads them so), and charset introducers only
// where the source wrote one.
const restoreFlags = format.RestoreStringSingleQuotes | format.RestoreKeyWordUppercase | format.RestoreNameBackQuotes |
	format.RestoreStringEscapeBackslash | format.RestoreStringWithoutDefaultCharset

// Render returns the target's statement. A parsed statement is rendered from its parse tree with
// every table name mapped (selected tables to their target, others qualified with their source
// database) and database names mapped through Database; the result needs no default database.
// A statement the parser could not read is passed verbatim, to run in its source default
// database, when no identifier in it (nor the default database) is renamed by m; otherwise
// Render fails: such a statement cannot be rewritten safely.
func (s *Stmt) Render(m Mapper, opts ...Option) (Target, error) {
	if !s.Parsed {
		return s.verbatim(m, s.ParseErr)
	}
	if dropsWords(s.Text) {
		return s.verbatim(m, errLossy)
	}
	node, err := parseOne(s.Text) // a fresh tree: renaming changes it in place
	if err != nil {
		return Target{}, fmt.Errorf("parse again: %w", err)
	}
	for _, o := range opts {
		if err := o(node, s, m); err != nil {
			return Target{}, err
		}
	}
	switch n := node.(type) {
	case *ast.CreateDatabaseStmt:
		n.Name = mapDB(m, n.Name)
	case *ast.AlterDatabaseStmt:
		if n.AlterDefaultDatabase || n.Name.O == "" {
			n.Name, n.AlterDefaultDatabase = ast.NewCIStr(s.DefaultDB), false
		}
		n.Name = mapDB(m, n.Name)
	case *ast.DropDatabaseStmt:
		n.Name = mapDB(m, n.Name)
	}
	names := tableNames(node)
	for _, t := range names {
		src := s.qualify(t)
		if src.DB == "" {
			continue
		}
		if tdb, tn, ok := m.Table(src.DB, src.Name); ok {
			t.Schema, t.Name = ast.NewCIStr(tdb), ast.NewCIStr(tn)
		} else {
			t.Schema = ast.NewCIStr(src.DB)
		}
	}
	node.Accept(&columnMapper{s: s, m: m})
	var b strings.Builder
	if err := node.Restore(format.NewRestoreCtx(restoreFlags, &b)); err != nil {
		return Target{}, fmt.Errorf("render: %w", err)
	}
	out := b.String()
	if v, ok := node.(*ast.CreateViewStmt); ok && v.CheckOption == ast.CheckOptionCascaded && endsWithCascadedCheck(s.Text) {
		out += " WITH CASCADED CHECK OPTION" // the parser writes CASCADED, its default, never
	}
	if strings.Contains(out, lossMark) {
		// the parser read an option it cannot write back (STATS_PERSISTENT=0, PACK_KEYS=1,
		// ALTER TABLE ... FORCE): the tree is not the statement
		return s.verbatim(m, errLossy)
	}
	return Target{SQL: mariaDBDialect(out)}, nil
}

// endsWithCascadedCheck reports whether a view's text ends with WITH CASCADED CHECK OPTION (the
// parser reads a view without a check option as CASCADED too, so only the text tells them apart).
func endsWithCascadedCheck(text string) bool {
	toks, _ := scan(text)
	n := len(toks)
	return n >= 4 && toks[n-4].is("WITH") && toks[n-3].is("CASCADED") && toks[n-2].is("CHECK") && toks[n-1].is("OPTION")
}

// RenderVerbatim returns the statement as logged, to run in its source default database, when no
// identifier in it is renamed by m (as Render does for what the parser cannot read). For
// routines, triggers and events: their bodies are SQL the tree does not map, and a routine name
// rendered from the tree loses its default database.
func (s *Stmt) RenderVerbatim(m Mapper) (Target, error) {
	return s.verbatim(m, errBody)
}

// dropsWords reports whether the statement has a word the parser reads but does not keep in its
// tree, without a trace in the rendering: NATIONAL / NCHAR / NVARCHAR (the utf8mb3 charset of a
// national character type is lost).
func dropsWords(text string) bool {
	toks, _ := scan(text)
	for _, t := range toks {
		if t.is("NATIONAL") || t.is("NCHAR") || t.is("NVARCHAR") {
			return true
		}
	}
	return false
}

// lossMark is what the parser writes in place of an option it parsed but does not keep.
const lossMark = "is not supported */"

// mariaDBDialect fixes what the parser writes in MySQL 8's dialect only:
//   - the " ENFORCED" after every CHECK (...) constraint: MySQL 8 accepts it, MariaDB does not,
//     and it is the default anyway (NOT ENFORCED stays: only MySQL has it);
//   - "DROP CHECK name", which MariaDB refuses (1064): "DROP CONSTRAINT name" drops a CHECK on
//     MariaDB and on MySQL from 8.0.19.
//
// The text is the parser's own rendering, so a word token is never inside a string or a quoted
// name.
func mariaDBDialect(sql string) string {
	if !strings.Contains(sql, " ENFORCED") && !strings.Contains(sql, "DROP CHECK ") {
		return sql
	}
	toks, _ := scan(sql)
	var b strings.Builder
	last := 0
	for i, t := range toks {
		start := t.pos - len(t.text)
		switch {
		case t.is("ENFORCED") && i > 0 && toks[i-1].kind == 'p' && toks[i-1].text == ")":
			if start > 0 && sql[start-1] == ' ' {
				start--
			}
			b.WriteString(sql[last:start])
			last = t.pos
		case t.is("CHECK") && i > 0 && toks[i-1].is("DROP"):
			b.WriteString(sql[last:start])
			b.WriteString("CONSTRAINT")
			last = t.pos
		}
	}
	b.WriteString(sql[last:])
	return b.String()
}

// Option changes the parse tree before it is rendered.
type Option func(ast.StmtNode, *Stmt, Mapper) error

// Tolerant adds IF NOT EXISTS to CREATE DATABASE/TABLE/INDEX/SEQUENCE and IF EXISTS to DROP
// DATABASE/TABLE/VIEW/INDEX/SEQUENCE: on a target that already is (or is not) in the state the
// statement makes, it is a no-op instead of an error.
func Tolerant() Option {
	return func(node ast.StmtNode, _ *Stmt, _ Mapper) error {
		switch n := node.(type) {
		case *ast.CreateDatabaseStmt:
			n.IfNotExists = true
		case *ast.CreateTableStmt:
			n.IfNotExists = true
		case *ast.CreateIndexStmt:
			n.IfNotExists = true
		case *ast.CreateSequenceStmt:
			n.IfNotExists = true
		case *ast.DropDatabaseStmt:
			n.IfExists = true
		case *ast.DropTableStmt:
			n.IfExists = true
		case *ast.DropIndexStmt:
			n.IfExists = true
		case *ast.DropSequenceStmt:
			n.IfExists = true
		}
		return nil
	}
}

// OnlyMapped keeps, in DROP TABLE/VIEW/SEQUENCE, only the names the mapping selects (a multi-
// table DROP of which only some are selected); it fails when none is.
func OnlyMapped() Option {
	return func(node ast.StmtNode, s *Stmt, m Mapper) error {
		keep := func(ts []*ast.TableName) ([]*ast.TableName, error) {
			var out []*ast.TableName
			for _, t := range ts {
				src := s.qualify(t)
				if _, _, ok := m.Table(src.DB, src.Name); ok {
					out = append(out, t)
				}
			}
			if len(out) == 0 {
				return nil, errors.New("no name of the statement is selected")
			}
			return out, nil
		}
		var err error
		switch n := node.(type) {
		case *ast.DropTableStmt:
			n.Tables, err = keep(n.Tables)
		case *ast.DropSequenceStmt:
			n.Sequences, err = keep(n.Sequences)
		}
		return err
	}
}

func mapDB(m Mapper, name ast.CIStr) ast.CIStr {
	if t, ok := m.Database(name.O); ok {
		return ast.NewCIStr(t)
	}
	return name
}

// columnMapper renames the table part of qualified column references (t.c, db.t.c).
type columnMapper struct {
	s *Stmt
	m Mapper
}

func (c *columnMapper) Enter(n ast.Node) (ast.Node, bool) {
	col, ok := n.(*ast.ColumnName)
	if !ok || col.Table.O == "" {
		return n, false
	}
	db := col.Schema.O
	if db == "" {
		db = c.s.DefaultDB
	}
	if tdb, tn, ok := c.m.Table(db, col.Table.O); ok {
		col.Table = ast.NewCIStr(tn)
		if col.Schema.O != "" {
			col.Schema = ast.NewCIStr(tdb)
		}
	}
	return n, false
}

func (c *columnMapper) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// verbatim passes a statement that cannot be rendered from a tree (why) through when the mapping
// renames nothing it may name.
func (s *Stmt) verbatim(m Mapper, why error) (Target, error) {
	toks, ok := scan(s.Text)
	if !ok {
		return Target{}, fmt.Errorf("cannot read the statement (%v), and it is not even complete for a scan", why)
	}
	renamed := func(db, name string) bool {
		tdb, tn, ok := m.Table(db, name)
		return ok && (tdb != db || tn != name)
	}
	dbRenamed := func(db string) bool {
		t, ok := m.Database(db)
		return ok && t != db
	}
	refuse := func(what string) (Target, error) {
		return Target{}, fmt.Errorf("the statement cannot be rendered from a parse tree (%v) and it may name %s, which the project's mapping renames: it cannot be rewritten safely", why, what)
	}
	if s.DefaultDB != "" && dbRenamed(s.DefaultDB) {
		return refuse("objects of the default database " + s.DefaultDB)
	}
	for i, t := range toks {
		if !t.ident() {
			continue
		}
		if dbRenamed(t.text) {
			return refuse("database " + t.text)
		}
		if s.DefaultDB != "" && renamed(s.DefaultDB, t.text) {
			return refuse("table " + s.DefaultDB + "." + t.text)
		}
		if i+2 < len(toks) && toks[i+1].kind == 'p' && toks[i+1].text == "." && toks[i+2].ident() && renamed(t.text, toks[i+2].text) {
			return refuse("table " + t.text + "." + toks[i+2].text)
		}
	}
	return Target{SQL: s.Text, UseDB: s.DefaultDB}, nil
}

// Package ddl reads the DDL statements of a MySQL/MariaDB binlog with the TiDB SQL parser: what
// kind of statement it is, which objects it changes and reads (qualified with the binlog's
// default database), whether it says IF [NOT] EXISTS, and the target's statement after a rename
// mapping, rendered from the parse tree. It is the one place that decides these things for the
// Store (which tables a DDL concerns) and Incr-Sync (what runs on the target).
//
// Statements the TiDB parser cannot read (MariaDB-only syntax: CREATE OR REPLACE, WITH SYSTEM
// VERSIONING, PERSISTENT/INVISIBLE columns, GEOMETRY types, triggers, events, ALTER TABLE IF
// EXISTS, /*M! */ comments, ...) are classified from their head by a small scanner (Parsed is
// false); such a statement is passed to the target verbatim only when no identifier in it is
// renamed by the mapping, otherwise Render refuses it with an error that names it.
package ddl

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // value expressions of the parse tree
)

// Kind is the class of a statement, e.g. "CREATE TABLE"; "" for a statement that is not DDL of
// a database object oms knows (GRANT, SET, FLUSH, ...).
type Kind string

// The kinds of statement.
const (
	CreateDatabase  Kind = "CREATE DATABASE"
	AlterDatabase   Kind = "ALTER DATABASE"
	DropDatabase    Kind = "DROP DATABASE"
	CreateTable     Kind = "CREATE TABLE"
	AlterTable      Kind = "ALTER TABLE"
	DropTable       Kind = "DROP TABLE"
	RenameTable     Kind = "RENAME TABLE"
	TruncateTable   Kind = "TRUNCATE TABLE"
	CreateIndex     Kind = "CREATE INDEX"
	DropIndex       Kind = "DROP INDEX"
	CreateView      Kind = "CREATE VIEW"
	AlterView       Kind = "ALTER VIEW"
	DropView        Kind = "DROP VIEW"
	CreateTrigger   Kind = "CREATE TRIGGER"
	DropTrigger     Kind = "DROP TRIGGER"
	CreateProcedure Kind = "CREATE PROCEDURE"
	AlterProcedure  Kind = "ALTER PROCEDURE"
	DropProcedure   Kind = "DROP PROCEDURE"
	CreateFunction  Kind = "CREATE FUNCTION"
	AlterFunction   Kind = "ALTER FUNCTION"
	DropFunction    Kind = "DROP FUNCTION"
	CreateEvent     Kind = "CREATE EVENT"
	AlterEvent      Kind = "ALTER EVENT"
	DropEvent       Kind = "DROP EVENT"
	CreateSequence  Kind = "CREATE SEQUENCE"
	AlterSequence   Kind = "ALTER SEQUENCE"
	DropSequence    Kind = "DROP SEQUENCE"
	// Admin statements change no schema object's definition or data: account management,
	// FLUSH, ANALYZE/OPTIMIZE/REPAIR/CHECK/CHECKSUM TABLE, SET, INSTALL/UNINSTALL.
	Admin Kind = "ADMIN"
	Other Kind = ""
)

// TableLevel reports whether statements of the kind change tables (and only tables): the kinds
// Incr-Sync applies through the rename mapping.
func (k Kind) TableLevel() bool {
	switch k {
	case CreateTable, AlterTable, DropTable, RenameTable, TruncateTable, CreateIndex, DropIndex:
		return true
	}
	return false
}

// DatabaseLevel reports whether the kind is CREATE/ALTER/DROP DATABASE.
func (k Kind) DatabaseLevel() bool {
	return k == CreateDatabase || k == AlterDatabase || k == DropDatabase
}

// Object is a database object a statement names: a table, view, sequence, routine, event or
// trigger (Name set), or a whole database (Name empty).
type Object struct {
	DB, Name string
}

// String is "db.name", or "db." for a whole database (the Store's DDL table list format).
func (o Object) String() string { return o.DB + "." + o.Name }

// Stmt is one parsed statement.
type Stmt struct {
	Text      string // as logged
	DefaultDB string // the session's default database when it ran
	Kind      Kind
	// Parsed is false when the TiDB parser could not read the statement; Kind, Changes and the
	// flags then come from the head of the statement only, and Reads is empty.
	Parsed   bool
	ParseErr error // why Parsed is false

	IfExists    bool // DROP/ALTER ... IF EXISTS: absent objects are no error
	IfNotExists bool // CREATE ... IF NOT EXISTS: present objects are no error
	OrReplace   bool // CREATE OR REPLACE
	Temporary   bool // CREATE/DROP TEMPORARY TABLE (session-local: never replicated as a table)

	// Changes are the objects the statement creates, changes or drops, in statement order; for
	// RENAME TABLE (and ALTER TABLE ... RENAME) old and new names alternate. A trigger changes
	// its table. Reads are the other tables it names (LIKE source, SELECT sources, foreign key
	// parents, MERGE UNION members, view and routine bodies).
	Changes []Object
	Reads   []Object

	// Charset and Collation of CREATE/ALTER DATABASE ("" when not given).
	Charset, Collation string

	node ast.StmtNode
}

// Tables is the Store's list of what the statement changes: "db.table" for the table-level
// kinds, "db." (a whole database) for databases and for views, routines, triggers, events and
// sequences. Nil when nothing is known (the caller treats it as touching DefaultDB).
func (s *Stmt) Tables() []string {
	var out []string
	seen := map[string]bool{}
	for _, o := range s.Changes {
		if o.DB == "" {
			continue
		}
		n := o.DB + "."
		if s.Kind.TableLevel() {
			n = o.String()
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Databases lists every database the statement names or runs in (its default database first
// when set): the objects it changes and reads, and, when it was not parsed, every qualifier
// "db." in its text.
func (s *Stmt) Databases() []string {
	var out []string
	seen := map[string]bool{}
	add := func(db string) {
		if db != "" && !seen[db] {
			seen[db] = true
			out = append(out, db)
		}
	}
	add(s.DefaultDB)
	for _, o := range s.Changes {
		add(o.DB)
	}
	for _, o := range s.Reads {
		add(o.DB)
	}
	if !s.Parsed {
		toks, _ := scan(s.Text)
		for i := 0; i+2 < len(toks); i++ {
			if toks[i].ident() && toks[i+1].kind == 'p' && toks[i+1].text == "." && toks[i+2].ident() {
				add(toks[i].text)
			}
		}
	}
	return out
}

// parsers keeps parsers for reuse: a parser is not safe for concurrent use and costly to create.
var parsers = sync.Pool{New: func() any {
	p := parser.New()
	p.SetMariaDB(true)
	return p
}}

// NewParser returns a TiDB parser set up as this package uses it (MariaDB syntax extensions on,
// every MariaDB charset and collation known), for packages that parse other SQL, e.g. row filter
// expressions. Put it back with ReleaseParser when done.
func NewParser() *parser.Parser { return parsers.Get().(*parser.Parser) }

// ReleaseParser returns a parser from NewParser for reuse.
func ReleaseParser(p *parser.Parser) { parsers.Put(p) }

// Parse reads one statement; defaultDB qualifies unqualified names. It never fails: a statement
// the parser cannot read comes back with Parsed false and ParseErr set.
func Parse(defaultDB, text string) *Stmt {
	s := &Stmt{Text: text, DefaultDB: defaultDB}
	node, err := parseOne(text)
	if err != nil {
		s.ParseErr = err
		s.fromHead()
		return s
	}
	s.node = node
	s.Parsed = true
	s.fromTree()
	return s
}

func parseOne(text string) (ast.StmtNode, error) {
	// MariaDB executes /*M! ... */; the TiDB parser drops it as a comment, which would lose what
	// it says. Such statements take the fallback path (checked on the raw text: a false hit in a
	// string only costs the fallback).
	if strings.Contains(text, "/*M!") {
		return nil, errMariaDBComment
	}
	// The text is in the source session's client charset; the parser reads UTF-8 and turns other
	// bytes of names into '?'. Only the verbatim path is safe for such text.
	if !utf8.ValidString(text) {
		return nil, errNotUTF8
	}
	p := NewParser()
	defer ReleaseParser(p)
	stmts, _, err := p.Parse(text, "", "")
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, errNotOne
	}
	return stmts[0], nil
}

package metadb

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // DEFAULT literals of the parsed DDL
	"github.com/pingcap/tidb/pkg/parser/types"
)

// Limit is how long a value a string column holds: N characters (CHAR, VARCHAR) or, when Bytes,
// N bytes (BINARY, VARBINARY, TEXT, BLOB).
type Limit struct {
	N     int
	Bytes bool
}

// MaxLength is the limit of column ref ("table.column") of the MetaDB schema, derived from the
// migrations' DDL, so the API checks a value fits its column before writing it (and the schema
// is the one place a limit is declared). ok is false for a column that is not a string column
// of any migration.
func MaxLength(ref string) (n int, bytes, ok bool) {
	l, ok := schemaLimits()[ref]
	return l.N, l.Bytes, ok
}

var schemaLimits = sync.OnceValue(func() map[string]Limit {
	m, err := limitsOf([]Migration{{Statements: []string{"CREATE TABLE " + migrationsTable}}}, rmMigrations, cmMigrations, hbMigrations)
	if err != nil {
		panic(err) // the migrations are constants: a test parses them
	}
	return m
})

// limitsOf parses every statement of the migrations in order; a later ALTER TABLE replaces a
// column's limit.
func limitsOf(lists ...[]Migration) (map[string]Limit, error) {
	p := parser.New()
	out := map[string]Limit{}
	for _, list := range lists {
		for _, mg := range list {
			for _, stmt := range mg.Statements {
				node, err := p.ParseOneStmt(stmt, "", "")
				if err != nil {
					return nil, fmt.Errorf("parse migration %d %q: %w", mg.Version, firstLine(stmt), err)
				}
				switch s := node.(type) {
				case *ast.CreateTableStmt:
					addCols(out, s.Table.Name.L, s.Cols)
				case *ast.AlterTableStmt:
					for _, spec := range s.Specs {
						switch spec.Tp {
						case ast.AlterTableAddColumns, ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
							addCols(out, s.Table.Name.L, spec.NewColumns)
						}
					}
				}
			}
		}
	}
	return out, nil
}

func addCols(out map[string]Limit, table string, cols []*ast.ColumnDef) {
	for _, c := range cols {
		if l, ok := limitOf(c.Tp); ok {
			out[table+"."+c.Name.Name.L] = l
		}
	}
}

// limitOf is a string type's limit (non-string types have none).
func limitOf(tp *types.FieldType) (Limit, bool) {
	binary := tp.GetCharset() == "binary"
	switch tp.GetType() {
	case mysql.TypeVarchar, mysql.TypeVarString, mysql.TypeString:
		return Limit{N: max(tp.GetFlen(), 1), Bytes: binary}, true
	case mysql.TypeTinyBlob:
		return Limit{N: 1<<8 - 1, Bytes: true}, true
	case mysql.TypeBlob:
		return Limit{N: 1<<16 - 1, Bytes: true}, true
	case mysql.TypeMediumBlob:
		return Limit{N: 1<<24 - 1, Bytes: true}, true
	case mysql.TypeLongBlob, mysql.TypeJSON: // MariaDB's JSON is LONGTEXT
		return Limit{N: 1<<32 - 1, Bytes: true}, true
	}
	return Limit{}, false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

package ddl

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// fromTree classifies a parsed statement and lists its objects.
func (s *Stmt) fromTree() {
	var changed []*ast.TableName
	switch n := s.node.(type) {
	case *ast.CreateDatabaseStmt:
		s.Kind, s.IfNotExists = CreateDatabase, n.IfNotExists
		s.Changes = []Object{{DB: n.Name.O}}
		s.Charset, s.Collation = dbOptions(n.Options)
	case *ast.AlterDatabaseStmt:
		s.Kind = AlterDatabase
		name := n.Name.O
		if n.AlterDefaultDatabase || name == "" {
			name = s.DefaultDB
		}
		s.Changes = []Object{{DB: name}}
		s.Charset, s.Collation = dbOptions(n.Options)
	case *ast.DropDatabaseStmt:
		s.Kind, s.IfExists = DropDatabase, n.IfExists
		s.Changes = []Object{{DB: n.Name.O}}
	case *ast.CreateTableStmt:
		s.Kind, s.IfNotExists = CreateTable, n.IfNotExists
		s.Temporary = n.TemporaryKeyword != ast.TemporaryNone
		changed = []*ast.TableName{n.Table}
	case *ast.AlterTableStmt:
		s.Kind = AlterTable
		changed = []*ast.TableName{n.Table}
		for _, sp := range n.Specs {
			if sp.Tp == ast.AlterTableRenameTable && sp.NewTable != nil {
				changed = append(changed, sp.NewTable)
			}
		}
	case *ast.DropTableStmt:
		s.Kind, s.IfExists = DropTable, n.IfExists
		if n.IsView {
			s.Kind = DropView
		}
		s.Temporary = n.TemporaryKeyword != ast.TemporaryNone
		changed = n.Tables
	case *ast.RenameTableStmt:
		s.Kind = RenameTable
		for _, t := range n.TableToTables {
			changed = append(changed, t.OldTable, t.NewTable)
		}
	case *ast.TruncateTableStmt:
		s.Kind = TruncateTable
		changed = []*ast.TableName{n.Table}
	case *ast.CreateIndexStmt:
		s.Kind, s.IfNotExists = CreateIndex, n.IfNotExists
		changed = []*ast.TableName{n.Table}
	case *ast.DropIndexStmt:
		s.Kind, s.IfExists = DropIndex, n.IfExists
		changed = []*ast.TableName{n.Table}
	case *ast.CreateViewStmt:
		s.Kind, s.OrReplace = CreateView, n.OrReplace
		changed = []*ast.TableName{n.ViewName}
	case *ast.CreateSequenceStmt:
		s.Kind, s.IfNotExists = CreateSequence, n.IfNotExists
		changed = []*ast.TableName{n.Name}
	case *ast.AlterSequenceStmt:
		s.Kind, s.IfExists = AlterSequence, n.IfExists
		changed = []*ast.TableName{n.Name}
	case *ast.DropSequenceStmt:
		s.Kind, s.IfExists = DropSequence, n.IfExists
		changed = n.Sequences
	case *ast.ProcedureInfo:
		s.Kind, s.IfNotExists = CreateProcedure, n.IfNotExists
		changed = []*ast.TableName{n.ProcedureName}
	case *ast.DropProcedureStmt:
		s.Kind, s.IfExists = DropProcedure, n.IfExists
		changed = []*ast.TableName{n.ProcedureName}
	case *ast.GrantStmt, *ast.RevokeStmt, *ast.GrantRoleStmt, *ast.RevokeRoleStmt, *ast.GrantProxyStmt,
		*ast.CreateUserStmt, *ast.AlterUserStmt, *ast.DropUserStmt, *ast.RenameUserStmt, *ast.SetPwdStmt,
		*ast.SetDefaultRoleStmt, *ast.SetRoleStmt, *ast.FlushStmt, *ast.AnalyzeTableStmt, *ast.OptimizeTableStmt,
		*ast.RepairTableStmt, *ast.AdminStmt, *ast.SetStmt:
		s.Kind = Admin
	}
	isChanged := map[*ast.TableName]bool{}
	for _, t := range changed {
		if t != nil {
			isChanged[t] = true
			s.Changes = append(s.Changes, s.qualify(t))
		}
	}
	seen := map[Object]bool{}
	for _, t := range tableNames(s.node) {
		if isChanged[t] {
			continue
		}
		if o := s.qualify(t); !seen[o] {
			seen[o] = true
			s.Reads = append(s.Reads, o)
		}
	}
}

func (s *Stmt) qualify(t *ast.TableName) Object {
	if t.Schema.O != "" {
		return Object{DB: t.Schema.O, Name: t.Name.O}
	}
	return Object{DB: s.DefaultDB, Name: t.Name.O}
}

func dbOptions(opts []*ast.DatabaseOption) (cs, coll string) {
	for _, o := range opts {
		switch o.Tp {
		case ast.DatabaseOptionCharset:
			cs = o.Value
		case ast.DatabaseOptionCollate:
			coll = o.Value
		}
	}
	return cs, coll
}

// tableNames lists every table name of the tree in order, each once, without references to the
// statement's common table expressions and aliases. The parser's visitor does not reach MERGE's
// UNION=(...) table option, so those are added here.
func tableNames(root ast.Node) []*ast.TableName {
	c := &collector{ctes: map[string]bool{}, seen: map[*ast.TableName]bool{}}
	root.Accept(c)
	out := c.names[:0]
	for _, t := range c.names {
		if t.IsAlias || t.Schema.O == "" && c.ctes[strings.ToLower(t.Name.O)] {
			continue
		}
		out = append(out, t)
	}
	return out
}

type collector struct {
	names []*ast.TableName
	seen  map[*ast.TableName]bool
	ctes  map[string]bool
}

func (c *collector) add(t *ast.TableName) {
	if t != nil && !c.seen[t] {
		c.seen[t] = true
		c.names = append(c.names, t)
	}
}

func (c *collector) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.TableName:
		c.add(x)
	case *ast.CommonTableExpression:
		c.ctes[strings.ToLower(x.Name.O)] = true
	case *ast.CreateTableStmt:
		c.options(x.Options)
	case *ast.AlterTableSpec:
		c.options(x.Options)
		c.add(x.NewTable)
	}
	return n, false
}

func (c *collector) options(opts []*ast.TableOption) {
	for _, o := range opts {
		if o.Tp == ast.TableOptionUnion {
			for _, t := range o.TableNames {
				c.add(t)
			}
		}
	}
}

func (c *collector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

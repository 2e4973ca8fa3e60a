package incrsync

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
)

// ddlPlan is a source DDL statement made ready for the target.
type ddlPlan struct {
	kind    ddl.Kind // or "" when skipped
	stmts   []string // statements to run on the target, in order; empty: nothing to do
	skipped string   // why nothing is done (for the log)
	// fail is set for a statement that cannot be applied: the task stops with it once
	// everything before the statement is applied, unless noop (an IF [NOT] EXISTS statement)
	// finds that it would change nothing on the target.
	fail error
	noop func(context.Context, *sql.DB) (bool, error)
}

// selMapper maps names through the project's selection for the ddl package.
type selMapper struct{ sel *selection.Selector }

func (m selMapper) Table(db, name string) (string, string, bool) {
	t, ok := m.sel.Match(db, name)
	return t.DB, t.Table, ok
}

// Database answers for rules that take every table of db ("*"), which is what a database-level
// statement maps through: wholeDBProbe is a table name no real table has.
func (m selMapper) Database(db string) (string, bool) {
	t, ok := m.sel.Match(db, wholeDBProbe)
	return t.DB, ok
}

const wholeDBProbe = "\x00"

// planDDL decides what to do on the target for a source DDL (ddl.Parse reads it): skip it when
// it concerns nothing selected or the policy says skip, stop at it when the policy says stop or
// it cannot be applied, else rewrite its names through the selection's rename mapping.
func planDDL(sel *selection.Selector, pol ddl.Policy, d *changelog.DDL, gtid string) (*ddlPlan, error) {
	st := ddl.Parse(d.DB, d.Statement)
	switch {
	case st.Temporary:
		return &ddlPlan{skipped: "temporary table"}, nil
	case st.Kind == ddl.Admin:
		return &ddlPlan{skipped: "statement changes no table"}, nil
	}
	class := st.Kind.Class()
	if class == "" {
		for _, db := range st.Databases() {
			if sel.MayMatchDB(db) {
				return nil, unsupported(st, gtid, "this kind of statement is not applied by Incr-Sync")
			}
		}
		return &ddlPlan{skipped: "statement concerns no selected database"}, nil
	}
	if !concernsSelection(sel, st) {
		return &ddlPlan{skipped: "statement concerns nothing selected"}, nil
	}
	switch pol[class] {
	case ddl.PolicySkip:
		return &ddlPlan{skipped: "ddl_policy " + class + " is skip"}, nil
	case ddl.PolicyStop:
		return nil, unsupported(st, gtid, "ddl_policy "+class+" is stop")
	}
	switch {
	case st.Kind.DatabaseLevel():
		return dbLevel(sel, st, gtid)
	case st.Kind.TableLevel():
		return tableLevel(sel, st, gtid)
	}
	return objectLevel(sel, st, gtid)
}

// concernsSelection reports whether a statement changes something the selection takes: a
// selected table (or, for a view or sequence, a name a rule matches), a trigger's selected table,
// a database some rule may match (databases, routines, events, dropped triggers).
func concernsSelection(sel *selection.Selector, st *ddl.Stmt) bool {
	if len(st.Changes) == 0 {
		return sel.MayMatchDB(st.DefaultDB)
	}
	for _, o := range st.Changes {
		if o.Name == "" || st.Kind.DatabaseLevel() || st.Kind.Class() == ddl.ClassRoutine || st.Kind.Class() == ddl.ClassEvent {
			if sel.MayMatchDB(o.DB) {
				return true
			}
			continue
		}
		if _, ok := sel.Match(o.DB, o.Name); ok {
			return true
		}
	}
	return false
}

// objectLevel applies views, routines, triggers, events and sequences: rendered from the parse
// tree when the parser reads them (views), else verbatim in their default database when nothing
// in them is renamed. Routines and events need their database selected as a whole (they have no
// table name a rule could match).
func objectLevel(sel *selection.Selector, st *ddl.Stmt, gtid string) (*ddlPlan, error) {
	m := selMapper{sel}
	switch st.Kind.Class() {
	case ddl.ClassRoutine, ddl.ClassEvent:
		for _, o := range st.Changes {
			if _, ok := m.Database(o.DB); !ok {
				return &ddlPlan{skipped: string(st.Kind) + ": the database is not selected as a whole"}, nil
			}
		}
	}
	render := st.RenderVerbatim
	if c := st.Kind.Class(); c == ddl.ClassView || c == ddl.ClassSequence {
		render = func(m ddl.Mapper) (ddl.Target, error) { return st.Render(m) }
	}
	tgt, err := render(m)
	if err != nil {
		return nil, unsupported(st, gtid, err.Error())
	}
	return &ddlPlan{kind: st.Kind, stmts: withUse(sel, tgt)}, nil
}

// tableLevel maps CREATE/ALTER/DROP/TRUNCATE/RENAME TABLE and CREATE/DROP INDEX.
func tableLevel(sel *selection.Selector, st *ddl.Stmt, gtid string) (*ddlPlan, error) {
	if len(st.Changes) == 0 {
		return nil, unsupported(st, gtid, fmt.Sprintf("cannot tell which table it changes: %v", st.ParseErr))
	}
	m := selMapper{sel}
	nSel := 0
	var first selection.Target
	for _, o := range st.Changes {
		if t, ok := sel.Match(o.DB, o.Name); ok {
			if nSel == 0 {
				first = t
			}
			nSel++
		}
	}
	if nSel == 0 {
		return &ddlPlan{skipped: "no selected table"}, nil
	}
	var opts []ddl.Option
	switch st.Kind {
	case ddl.DropTable:
		// keep only the selected tables of a multi-table DROP; a table the target never had is fine
		opts = append(opts, ddl.OnlyMapped(), ddl.Tolerant())
	case ddl.RenameTable, ddl.AlterTable, ddl.CreateTable:
		if nSel != len(st.Changes) {
			return nil, unsupported(st, gtid, "it moves a table into or out of the selection (one name is selected, the other is not)")
		}
	}
	tgt, err := st.Render(m, opts...)
	if err != nil {
		return nil, unsupported(st, gtid, err.Error())
	}
	plan := &ddlPlan{kind: st.Kind}
	if st.Kind == ddl.CreateTable {
		plan.stmts = append(plan.stmts, "CREATE DATABASE IF NOT EXISTS "+sqlgen.QuoteIdent(first.DB))
	}
	plan.stmts = append(plan.stmts, withUse(sel, tgt)...)
	return plan, nil
}

// withUse prefixes a statement that needs its default database with USE, when that database is
// one of the selection's (a verbatim statement: its names are the same on the target).
func withUse(sel *selection.Selector, tgt ddl.Target) []string {
	if tgt.UseDB != "" && sel.MayMatchDB(tgt.UseDB) {
		return []string{"USE " + sqlgen.QuoteIdent(tgt.UseDB), tgt.SQL}
	}
	return []string{tgt.SQL}
}

// dbLevel handles CREATE/ALTER/DROP DATABASE. Not selected: skipped. CREATE of a database
// selected as a whole becomes CREATE DATABASE IF NOT EXISTS of its target name with the source's
// charset and collation; ALTER and DROP DATABASE are applied to the target name. DROP of a
// database selected only in part stops the task: it would drop target data the selection may
// not cover, so the operator decides.
func dbLevel(sel *selection.Selector, st *ddl.Stmt, gtid string) (*ddlPlan, error) {
	name := st.DefaultDB
	if len(st.Changes) > 0 {
		name = st.Changes[0].DB
	}
	if name == "" || !sel.MayMatchDB(name) {
		return &ddlPlan{skipped: "database not selected"}, nil
	}
	if _, ok := (selMapper{sel}).Database(name); !ok {
		if st.Kind == ddl.DropDatabase {
			return nil, unsupported(st, gtid, "the database is only partly selected: dropping it on the target could drop data the selection does not cover")
		}
		return &ddlPlan{skipped: string(st.Kind) + ": the database is not selected as a whole (tables are created with their database)"}, nil
	}
	tgt, err := st.Render(selMapper{sel}, ddl.Tolerant())
	if err != nil {
		return nil, unsupported(st, gtid, err.Error())
	}
	return &ddlPlan{kind: st.Kind, stmts: withUse(sel, tgt)}, nil
}

func unsupported(st *ddl.Stmt, gtid, why string) error {
	stmt := st.Text
	if len(stmt) > 300 {
		stmt = stmt[:300] + "..."
	}
	kind := string(st.Kind)
	if st.Kind == ddl.Other {
		kind = "statement"
	}
	return omserr.New(omserr.IncrDDLUnsupported,
		fmt.Sprintf("%s at GTID %s cannot be applied (%s): %s", kind, gtid, why, stmt),
		fmt.Sprintf("apply the change to the target by hand if it is needed, then skip it: oms project skip <project> --gtid %s (or change the project's ddl_policy)", gtid))
}

// noopCheck returns, for a statement that says IF EXISTS or IF NOT EXISTS, a check of whether it
// would do nothing on the target (every object it drops is absent, every object it creates
// present): such a statement is no reason to stop. Nil when the statement has neither flag or
// names objects the check cannot look up (indexes, triggers).
func noopCheck(sel *selection.Selector, d *changelog.DDL) func(context.Context, *sql.DB) (bool, error) {
	st := ddl.Parse(d.DB, d.Statement)
	if !st.IfExists && !st.IfNotExists || len(st.Changes) == 0 {
		return nil
	}
	class := st.Kind.Class()
	var q string
	switch class {
	case ddl.ClassDatabase:
		q = "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
	case ddl.ClassTable, ddl.ClassView, ddl.ClassSequence:
		q = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"
	case ddl.ClassRoutine:
		q = "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ?"
	case ddl.ClassEvent:
		q = "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?"
	default:
		return nil
	}
	m := selMapper{sel}
	objs := make([]ddl.Object, 0, len(st.Changes))
	for _, o := range st.Changes {
		if class == ddl.ClassDatabase {
			if t, ok := m.Database(o.DB); ok {
				o.DB = t
			}
		} else if tdb, tn, ok := m.Table(o.DB, o.Name); ok {
			o.DB, o.Name = tdb, tn
		}
		objs = append(objs, o)
	}
	wantPresent := st.IfNotExists
	return func(ctx context.Context, db *sql.DB) (bool, error) {
		for _, o := range objs {
			args := []any{o.DB}
			if class != ddl.ClassDatabase {
				args = append(args, o.Name)
			}
			var n int
			if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				return false, fmt.Errorf("look up %s on the target: %w", o, err)
			}
			if (n > 0) != wantPresent {
				return false, nil
			}
		}
		return true, nil
	}
}

package incrsync

import (
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
	// everything before the statement is applied.
	fail error
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

// planDDL decides what to do on the target for a source DDL (ddl.Parse reads it): rewrite its
// names through the selection's rename mapping, skip it when it concerns no selected table, or
// refuse it when it is not a supported kind and concerns a selected database.
func planDDL(sel *selection.Selector, d *changelog.DDL, gtid string) (*ddlPlan, error) {
	st := ddl.Parse(d.DB, d.Statement)
	switch {
	case st.Temporary:
		return &ddlPlan{skipped: "temporary table"}, nil
	case st.Kind == ddl.Admin:
		return &ddlPlan{skipped: "statement changes no table"}, nil
	case st.Kind.DatabaseLevel():
		return dbLevel(sel, st, gtid)
	case st.Kind.TableLevel():
		return tableLevel(sel, st, gtid)
	}
	for _, db := range st.Databases() {
		if sel.MayMatchDB(db) {
			return nil, unsupported(st, gtid, "this kind of statement is not applied by Incr-Sync")
		}
	}
	return &ddlPlan{skipped: "statement concerns no selected database"}, nil
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
// charset and collation; ALTER DATABASE (its defaults) is applied to the target name; DROP of a
// selected database is refused: it would drop target data the selection may not cover, so the
// operator decides.
func dbLevel(sel *selection.Selector, st *ddl.Stmt, gtid string) (*ddlPlan, error) {
	name := st.DefaultDB
	if len(st.Changes) > 0 {
		name = st.Changes[0].DB
	}
	if name == "" || !sel.MayMatchDB(name) {
		return &ddlPlan{skipped: "database not selected"}, nil
	}
	if st.Kind == ddl.DropDatabase {
		return nil, unsupported(st, gtid, "DROP DATABASE of a selected database is not applied automatically")
	}
	if _, ok := (selMapper{sel}).Database(name); !ok {
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
		fmt.Sprintf("apply the change to the target by hand if it is needed, then add %q to skip_ddl_gtids in the task spec and resume; or set skip_ddl to drop every DDL", gtid))
}

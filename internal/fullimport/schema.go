package fullimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Object statuses of STRUCT_TRANSFER and INDEX_TRANSFER.
const (
	ObjCreated       = "created"
	ObjSkippedExists = "skipped: exists"
	ObjFailed        = "failed"
	ObjRefused       = "refused" // precheck: the table cannot be copied safely
)

// ObjectStatus is the outcome for one target object (database, table or its deferred indexes).
type ObjectStatus struct {
	Kind   string `json:"kind"` // database, table, indexes
	Source string `json:"source"`
	Target string `json:"target"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"` // the target's (or precheck's) error text
}

// column is one copied column.
type column struct {
	Name     string
	DataType string // information_schema DATA_TYPE, lower case
	Bit      bool
}

// table is a selected source table with everything the copy needs.
type table struct {
	SrcDB, SrcTable string
	Target          selection.Target
	Columns         []column // copied columns, source order (generated columns left out)
	Key             []string // chunk key: primary key, or a unique key of NOT NULL columns
	KeyInt          bool     // single integer key column
	KeyUnsigned     bool
	Rows, Bytes     int64 // estimates from information_schema.TABLES
	AvgRow          int64
	create          string // source SHOW CREATE TABLE
	where           string // row filter rendered from its parse tree over the real columns; "" = all rows
}

func (t *table) src() string { return t.SrcDB + "." + t.SrcTable }
func (t *table) dst() string { return t.Target.DB + "." + t.Target.Table }

// discover lists the selected base tables of the source and loads their metadata (one catalog
// read for the selected schemas). Tables that cannot be copied safely come back in refused with
// the reason.
func discover(ctx context.Context, db *sql.DB, sel *selection.Selector) (tables []*table, refused []ObjectStatus, err error) {
	all, err := schema.ListTables(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("list source tables: %w", err)
	}
	var names [][2]string
	targets := map[[2]string]selection.Target{}
	schemas := map[string]bool{}
	for _, n := range all {
		if n[0] == "__oms" || !sel.MayMatchDB(n[0]) {
			continue
		}
		if tg, ok := sel.Match(n[0], n[1]); ok {
			names = append(names, n)
			targets[n] = tg
			schemas[n[0]] = true
		}
	}
	list := make([]string, 0, len(schemas))
	for s := range schemas {
		list = append(list, s)
	}
	sort.Strings(list)
	cat, err := schema.LoadCatalog(ctx, db, list)
	if err != nil {
		return nil, nil, fmt.Errorf("read source tables: %w", err)
	}
	seen := map[string]string{}
	for _, n := range names {
		ti, tg := cat.Table(n[0], n[1]), targets[n]
		if ti == nil {
			continue // dropped since the listing
		}
		t := &table{SrcDB: n[0], SrcTable: n[1], Target: tg, Rows: ti.Rows, Bytes: ti.DataLength, AvgRow: ti.AvgRowLength}
		if prev, dup := seen[t.dst()]; dup {
			refused = append(refused, ObjectStatus{Kind: "table", Source: t.src(), Target: t.dst(), Status: ObjRefused,
				Error: "target " + t.dst() + " is also the target of " + prev + "; merging tables is not supported by full import"})
			continue
		}
		seen[t.dst()] = t.src()
		if reason, err := loadTable(ctx, db, t, ti); err != nil {
			return nil, nil, err
		} else if reason != "" {
			refused = append(refused, ObjectStatus{Kind: "table", Source: t.src(), Target: t.dst(), Status: ObjRefused, Error: reason})
			continue
		}
		tables = append(tables, t)
	}
	return tables, refused, nil
}

// loadTable fills columns, chunk key and CREATE text from the catalog's ti. A non-empty reason
// means the table is refused (no usable key, subset without key columns).
func loadTable(ctx context.Context, db *sql.DB, t *table, ti *schema.TableInfo) (string, error) {
	var all []column
	var names []string // every column, generated ones too: the row filter may use them
	for _, c := range ti.Cols {
		names = append(names, c.Name)
		if !c.Generated {
			all = append(all, column{Name: c.Name, DataType: c.DataType, Bit: c.DataType == "bit"})
		}
	}
	if f := t.Target.Filter; f != nil {
		w, err := f.Bind(t.src(), names)
		if err != nil {
			return "", err
		}
		t.where = w
	}
	if t.Target.Columns != nil {
		have := map[string]column{}
		for _, c := range all {
			have[c.Name] = c
		}
		for _, name := range t.Target.Columns {
			c, ok := have[name]
			if !ok {
				return fmt.Sprintf("column %q of the selection's column subset does not exist (or is generated) in %s", name, t.src()), nil
			}
			t.Columns = append(t.Columns, c)
		}
		// keep source order
		order := map[string]int{}
		for i, c := range all {
			order[c.Name] = i
		}
		sort.SliceStable(t.Columns, func(i, j int) bool { return order[t.Columns[i].Name] < order[t.Columns[j].Name] })
	} else {
		t.Columns = all
	}
	t.Key = ti.KeyCols // PRIMARY, else the unique key of NOT NULL columns with the fewest columns
	if t.Key == nil {
		return "no primary key and no unique key on NOT NULL columns: a chunk could not be redone without duplicates and Incr-Sync could not identify rows; add a primary key or leave the table out of the selection", nil
	}
	inCopy := map[string]bool{}
	for _, c := range t.Columns {
		inCopy[c.Name] = true
	}
	for _, k := range t.Key {
		if !inCopy[k] {
			return fmt.Sprintf("the column subset leaves out key column %q: rows could not be identified on the target", k), nil
		}
	}
	if len(t.Key) == 1 {
		kc, _ := ti.Col(t.Key[0])
		ct := kc.Type
		switch {
		case strings.HasPrefix(ct, "tinyint"), strings.HasPrefix(ct, "smallint"), strings.HasPrefix(ct, "mediumint"),
			strings.HasPrefix(ct, "int"), strings.HasPrefix(ct, "bigint"):
			t.KeyInt = true
			t.KeyUnsigned = strings.Contains(ct, "unsigned")
		}
	}
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlgen.Table(t.SrcDB, t.SrcTable)).Scan(new(string), &t.create); err != nil {
		return "", fmt.Errorf("show create table %s: %w", t.src(), err)
	}
	return "", nil
}

func (t *table) keepSet() map[string]bool {
	if t.Target.Columns == nil {
		return nil
	}
	m := map[string]bool{}
	for _, c := range t.Columns {
		m[c.Name] = true
	}
	return m
}

// ddl returns the target DDL for t.
func (t *table) ddl(deferIdx bool) (targetDDL, error) {
	return rewriteCreate(t.create, t.Target.DB, t.Target.Table, t.keepSet(), deferIdx)
}

// structTransfer creates the target databases and tables (STRUCT_TRANSFER). A failure of one
// object is recorded in its status and does not stop the others; the tables that failed are
// returned in failed so that the copy leaves them out.
func structTransfer(ctx context.Context, src, dst *sql.DB, tables []*table, deferIdx bool) (statuses []ObjectStatus, failed map[*table]bool, err error) {
	failed = map[*table]bool{}
	dbDone := map[string]bool{}
	for _, t := range tables {
		if !dbDone[t.Target.DB] {
			dbDone[t.Target.DB] = true
			st := ObjectStatus{Kind: "database", Source: t.SrcDB, Target: t.Target.DB}
			exists, err := schemaExists(ctx, dst, t.Target.DB)
			if err != nil {
				return nil, nil, err
			}
			if exists {
				st.Status = ObjSkippedExists
			} else {
				var create string
				if err := src.QueryRowContext(ctx, "SHOW CREATE DATABASE "+sqlgen.QuoteIdent(t.SrcDB)).Scan(new(string), &create); err != nil {
					return nil, nil, fmt.Errorf("show create database %s: %w", t.SrcDB, err)
				}
				create = renameDatabase(create, t.Target.DB)
				if _, err := dst.ExecContext(ctx, create); err != nil {
					st.Status, st.Error = ObjFailed, targetError(err)
				} else {
					st.Status = ObjCreated
				}
			}
			statuses = append(statuses, st)
		}
		st := ObjectStatus{Kind: "table", Source: t.src(), Target: t.dst()}
		exists, err := tableExists(ctx, dst, t.Target.DB, t.Target.Table)
		if err != nil {
			return nil, nil, err
		}
		if exists {
			st.Status = ObjSkippedExists
			statuses = append(statuses, st)
			continue
		}
		d, err := t.ddl(deferIdx)
		if err == nil {
			_, err = dst.ExecContext(ctx, d.create)
		}
		if err != nil {
			st.Status, st.Error = ObjFailed, targetError(err)
			failed[t] = true
		} else {
			st.Status = ObjCreated
		}
		statuses = append(statuses, st)
	}
	return statuses, failed, nil
}

// indexTransfer adds the deferred indexes and foreign keys the target table does not have yet
// (INDEX_TRANSFER), one ALTER TABLE per table so InnoDB builds them in one pass. It is
// idempotent: keys already on the target (from a previous run) are not added again.
func indexTransfer(ctx context.Context, dst *sql.DB, t *table) (ObjectStatus, error) {
	st := ObjectStatus{Kind: "indexes", Source: t.src(), Target: t.dst()}
	d, err := t.ddl(true)
	if err != nil {
		return st, err
	}
	var cur string
	if err := dst.QueryRowContext(ctx, "SHOW CREATE TABLE "+sqlgen.Table(t.Target.DB, t.Target.Table)).Scan(new(string), &cur); err != nil {
		return st, fmt.Errorf("show create table %s on target: %w", t.dst(), err)
	}
	have, err := definedKeys(cur)
	if err != nil {
		return st, fmt.Errorf("parse target table %s: %w", t.dst(), err)
	}
	var add []string
	for i, clause := range d.deferred {
		if !have[d.keyNames[i]] {
			add = append(add, clause)
		}
	}
	if len(add) == 0 {
		st.Status = ObjSkippedExists
		return st, nil
	}
	if _, err := dst.ExecContext(ctx, "ALTER TABLE "+sqlgen.Table(t.Target.DB, t.Target.Table)+" "+strings.Join(add, ", ")); err != nil {
		st.Status, st.Error = ObjFailed, targetError(err)
		return st, nil
	}
	st.Status = ObjCreated
	return st, nil
}

func renameDatabase(create, db string) string {
	// "CREATE DATABASE `name` /*!40100 DEFAULT CHARACTER SET ... */"
	_, rest := readIdent(strings.TrimPrefix(create, "CREATE DATABASE "))
	return "CREATE DATABASE " + sqlgen.QuoteIdent(db) + rest
}

func schemaExists(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=?", name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check target database %s: %w", name, err)
	}
	return n > 0, nil
}

func tableExists(ctx context.Context, db *sql.DB, schema, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=? AND TABLE_NAME=?", schema, name).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check target table %s.%s: %w", schema, name, err)
	}
	return n > 0, nil
}

func tableHasRows(ctx context.Context, db *sql.DB, schema, name string) (bool, error) {
	var one int
	err := db.QueryRowContext(ctx, "SELECT 1 FROM "+sqlgen.Table(schema, name)+" LIMIT 1").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check rows of target %s.%s: %w", schema, name, err)
	}
	return true, nil
}

// targetError is the target's error text for an object status.
func targetError(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("Error %d: %s", me.Number, me.Message)
	}
	return err.Error()
}

func errNonEmpty(tables []string) error {
	return omserr.New(omserr.FullTargetNotEmpty,
		"target tables already have rows: "+strings.Join(tables, ", "),
		"empty them, leave them out of the selection, or set non_empty_target: continue (rows with the same key are overwritten)")
}

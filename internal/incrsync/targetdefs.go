package incrsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// computedKind is why the target computes a column.
type computedKind uint8

const (
	generatedCol  computedKind = 1 // VIRTUAL / STORED / PERSISTENT
	versioningCol computedKind = 2 // row_start of a system-versioned table
	versionEndCol computedKind = 3 // row_end: its value says whether a row image is current
)

// targetDefs is what mapping a table needs from the target's definition of it:
//   - computed: the columns the server computes and a replica never writes (lower-cased
//     names): generated columns (VIRTUAL, STORED, PERSISTENT) and the row_start/row_end of a
//     system-versioned table, hidden or not;
//   - typed: the columns of the types the binlog logs in a binary form the target does not take
//     back (UUID, INET4, INET6; see binaryText), by lower-cased name (the binlog says only
//     BINARY(n) for them);
//   - fk: the table has a foreign key or is referenced by one (a table created later with a
//     foreign key to it comes with a DDL, after which mappings are rebuilt).
//
// A table the target does not have yet has none of them.
type targetDefs struct {
	computed map[string]computedKind
	typed    map[string]string
	fk       bool
}

func newTargetDefs() *targetDefs {
	return &targetDefs{computed: map[string]computedKind{}, typed: map[string]string{}}
}

func defsKey(db, table string) string { return db + "\x00" + table }

// The information_schema reads behind targetDefs. {where} is the tables read: one, or every
// table outside the server's own schemas (readAhead).
const (
	defsTablesSQL = `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE = 'SYSTEM VERSIONED' FROM information_schema.TABLES WHERE {where}`
	// explicit period columns (AS ROW START / AS ROW END) are GENERATED ALWAYS with that as
	// their "expression" (MariaDB); older servers said so in EXTRA
	defsColumnsSQL = `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE,
		IS_GENERATED = 'ALWAYS' OR EXTRA LIKE '%GENERATED%' OR EXTRA LIKE '%ROW START%' OR EXTRA LIKE '%ROW END%',
		(EXTRA LIKE '%ROW START%' OR COALESCE(GENERATION_EXPRESSION, '') = 'ROW START') + 2 * (EXTRA LIKE '%ROW END%' OR COALESCE(GENERATION_EXPRESSION, '') = 'ROW END')
		FROM information_schema.COLUMNS
		WHERE {where} AND (IS_GENERATED = 'ALWAYS' OR EXTRA LIKE '%GENERATED%' OR EXTRA LIKE '%ROW START%' OR EXTRA LIKE '%ROW END%'
			OR DATA_TYPE IN ('uuid', 'inet4', 'inet6'))`
	oneTable  = "TABLE_SCHEMA = ? AND TABLE_NAME = ?"
	allTables = "TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
)

// readDefs reads the computed and binary-typed columns of the tables where selects into out
// (an entry for every such table the target has).
func readDefs(ctx context.Context, db *sql.DB, where string, args []any, out map[string]*targetDefs) error {
	rows, err := db.QueryContext(ctx, strings.Replace(defsTablesSQL, "{where}", where, 1), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table string
		var versioned bool
		if err := rows.Scan(&schema, &table, &versioned); err != nil {
			return err
		}
		d := newTargetDefs()
		if versioned {
			// implicit versioning columns are hidden from information_schema but are in the binlog
			d.computed["row_start"], d.computed["row_end"] = versioningCol, versionEndCol
		}
		out[defsKey(schema, table)] = d
	}
	if err := rows.Err(); err != nil {
		return err
	}
	cols, err := db.QueryContext(ctx, strings.Replace(defsColumnsSQL, "{where}", where, 1), args...)
	if err != nil {
		return err
	}
	defer cols.Close()
	for cols.Next() {
		var schema, table, col, typ string
		var generated bool
		var period int
		if err := cols.Scan(&schema, &table, &col, &typ, &generated, &period); err != nil {
			return err
		}
		d := out[defsKey(schema, table)]
		if d == nil {
			continue // created between the two reads: read again at its first use
		}
		col = strings.ToLower(col)
		if generated {
			d.computed[col] = []computedKind{generatedCol, versioningCol, versionEndCol}[min(period, 2)]
		}
		if t := strings.ToLower(typ); t == "uuid" || t == "inet4" || t == "inet6" {
			d.typed[col] = typ
		}
	}
	return cols.Err()
}

// defsOf returns the target definitions of db.table: those read ahead, else read now.
func (m *mapper) defsOf(ctx context.Context, db, table string) (*targetDefs, error) {
	if d, ok := m.ahead[defsKey(db, table)]; ok {
		return d, nil
	}
	if m.filter == nil {
		return newTargetDefs(), nil
	}
	out := map[string]*targetDefs{}
	if err := readDefs(ctx, m.filter, oneTable, []any{db, table}, out); err != nil {
		return nil, fmt.Errorf("read the target definition of %s.%s: %w", db, table, err)
	}
	d := out[defsKey(db, table)]
	if d == nil {
		d = newTargetDefs()
	}
	var n int
	if err := m.filter.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS
		WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)`, db, table, db, table).Scan(&n); err != nil {
		return nil, fmt.Errorf("read the foreign keys of %s.%s on the target: %w", db, table, err)
	}
	d.fk = n > 0
	return d, nil
}

// readAhead reads the target definitions of every table of the target in three queries, so the
// first change of each table is mapped without reading them. Read table by table, they hold
// the read stage, and every transaction behind it, for a round trip per table, and a foreign
// key lookup that reads every table's definition: ~0.3 s a table on a busy target, seconds of
// lag when a workload starts (bench/cross_region_lag.sh).
func (m *mapper) readAhead(ctx context.Context) error {
	if m.filter == nil {
		return nil
	}
	ahead := map[string]*targetDefs{}
	if err := readDefs(ctx, m.filter, allTables, nil, ahead); err != nil {
		return fmt.Errorf("read the target's table definitions: %w", err)
	}
	rows, err := m.filter.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS`)
	if err != nil {
		return fmt.Errorf("read the target's foreign keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var db, table, refDB, refTable string
		if err := rows.Scan(&db, &table, &refDB, &refTable); err != nil {
			return fmt.Errorf("read the target's foreign keys: %w", err)
		}
		for _, k := range []string{defsKey(db, table), defsKey(refDB, refTable)} {
			if d := ahead[k]; d != nil {
				d.fk = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the target's foreign keys: %w", err)
	}
	m.ahead = ahead
	return nil
}

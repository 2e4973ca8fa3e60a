// Package schema knows what tables look like: it loads a table's definition from a live server
// (information_schema) and tracks table schemas along a binlog stream, so a row event is decoded
// with the schema that was valid at its position, not with today's live schema.
//
// It talks to a source database only through database/sql (LoadTable) and owns no goroutines.
package schema

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/omsdev/oms/internal/changelog"
)

// LoadTable reads the current definition of schemaName.table from information_schema: columns in
// ordinal order with their SHOW CREATE TABLE style types, the primary key and the unique keys as
// column indexes. It returns an error wrapping sql.ErrNoRows if the table does not exist.
func LoadTable(ctx context.Context, db *sql.DB, schemaName, table string) (*changelog.Table, error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, '')
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schemaName, table)
	if err != nil {
		return nil, fmt.Errorf("load columns of %s.%s: %w", schemaName, table, err)
	}
	t := &changelog.Table{DB: schemaName, Name: table}
	index := map[string]int{}
	for rows.Next() {
		var c changelog.Column
		var nullable string
		if err := rows.Scan(&c.Name, &c.Type, &nullable, &c.Charset); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load columns of %s.%s: %w", schemaName, table, err)
		}
		c.Nullable = nullable == "YES"
		c.Unsigned = strings.Contains(strings.ToLower(c.Type), "unsigned")
		index[strings.ToLower(c.Name)] = len(t.Columns)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("load columns of %s.%s: %w", schemaName, table, err)
	}
	rows.Close()
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("load table %s.%s: %w", schemaName, table, sql.ErrNoRows)
	}

	krows, err := db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schemaName, table)
	if err != nil {
		return nil, fmt.Errorf("load keys of %s.%s: %w", schemaName, table, err)
	}
	defer krows.Close()
	keys := map[string][]int{}
	var names []string
	for krows.Next() {
		var idx, col string
		if err := krows.Scan(&idx, &col); err != nil {
			return nil, fmt.Errorf("load keys of %s.%s: %w", schemaName, table, err)
		}
		ci, ok := index[strings.ToLower(col)]
		if !ok {
			continue // expression part of a functional index: not a column key
		}
		if _, seen := keys[idx]; !seen {
			names = append(names, idx)
		}
		keys[idx] = append(keys[idx], ci)
	}
	if err := krows.Err(); err != nil {
		return nil, fmt.Errorf("load keys of %s.%s: %w", schemaName, table, err)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "PRIMARY" {
			t.PrimaryKey = keys[n]
			continue
		}
		t.UniqueKeys = append(t.UniqueKeys, keys[n])
	}
	return t, nil
}

// ListTables returns the base tables of schemaName, sorted.
func ListTables(ctx context.Context, db *sql.DB, schemaName string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, schemaName)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schemaName, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", schemaName, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

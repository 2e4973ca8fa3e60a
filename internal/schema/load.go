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

// LoadTable reads the current definition of schemaName.table from information_schema (the
// catalog loader): columns in ordinal order with their SHOW CREATE TABLE style types, the
// primary key and the unique keys as column indexes. It returns an error wrapping sql.ErrNoRows
// if the table does not exist.
func LoadTable(ctx context.Context, db *sql.DB, schemaName, table string) (*changelog.Table, error) {
	cat, err := loadCatalog(ctx, db, []string{schemaName}, table)
	if err != nil {
		return nil, fmt.Errorf("load table %s.%s: %w", schemaName, table, err)
	}
	ti := cat.Table(schemaName, table)
	if ti == nil || len(ti.Cols) == 0 {
		return nil, fmt.Errorf("load table %s.%s: %w", schemaName, table, sql.ErrNoRows)
	}
	t := &changelog.Table{DB: schemaName, Name: table}
	index := map[string]int{}
	for _, c := range ti.Cols {
		index[strings.ToLower(c.Name)] = len(t.Columns)
		t.Columns = append(t.Columns, changelog.Column{Name: c.Name, Type: c.DefType, Nullable: c.Nullable, Charset: c.Charset,
			Unsigned: strings.Contains(c.Type, "unsigned")})
	}
	names := make([]string, 0, len(ti.Unique))
	for n := range ti.Unique {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var key []int
		for _, col := range ti.Unique[n] {
			key = append(key, index[strings.ToLower(col)])
		}
		if n == "PRIMARY" {
			t.PrimaryKey = key
			continue
		}
		t.UniqueKeys = append(t.UniqueKeys, key)
	}
	return t, nil
}

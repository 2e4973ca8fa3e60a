package verify

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
)

// listTables returns the base tables of the server, db -> tables, system schemas excluded.
func listTables(ctx context.Context, db *sql.DB) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE='BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if !schema.IsSystemSchema(s) {
			out = append(out, [2]string{s, t})
		}
	}
	return out, rows.Err()
}

// tableOf returns db.table of cat or an operator error when it does not exist.
func tableOf(cat *schema.Catalog, db, table string) (*schema.TableInfo, error) {
	t := cat.Table(db, table)
	if t == nil {
		return nil, omserr.New(omserr.VerifyTableMissing, fmt.Sprintf("table %s.%s does not exist", db, table),
			"create the table (struct transfer) or remove it from the selection")
	}
	return t, nil
}

package schema

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// ColumnInfo is one column as information_schema describes it.
type ColumnInfo struct {
	Name      string
	DataType  string // DATA_TYPE, lower case (MariaDB JSON columns: "json", see markJSON)
	Type      string // COLUMN_TYPE, lower case: int(11) unsigned, enum('a','b'), decimal(10,2)
	DefType   string // COLUMN_TYPE as the server writes it (enum values keep their case)
	Nullable  bool
	Charset   string // "" for non-character columns
	Collation string
	Generated bool // a generated column (IS_GENERATED ALWAYS): not copied
	Virtual   bool // a VIRTUAL generated column (not stored)
}

// TableInfo is a table's columns, unique indexes and size estimates, and the key a table is
// cut into chunks along.
type TableInfo struct {
	DB, Name string
	Cols     []ColumnInfo // ordinal order
	// Unique is every unique index (PRIMARY included): name -> columns in index order.
	Unique map[string][]string
	// Prefix names the unique indexes over a column prefix: they do not identify values.
	Prefix map[string]bool
	// KeyIndex is the index chunks follow (ChunkKey): "PRIMARY", a NOT NULL unique index, or ""
	// (none); KeyCols its columns.
	KeyIndex string
	KeyCols  []string
	// From information_schema.TABLES: estimates, engine (lower case), "partitioned" option.
	Rows, DataLength, AvgRowLength int64
	Engine                         string
	Partitioned                    bool
}

// Col returns the column called name (case-insensitive, as MySQL names columns).
func (t *TableInfo) Col(name string) (ColumnInfo, bool) {
	for _, c := range t.Cols {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return ColumnInfo{}, false
}

// ColNames is the column names in ordinal order.
func (t *TableInfo) ColNames() []string {
	out := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		out[i] = c.Name
	}
	return out
}

// Catalog is the tables of some schemas of one server, read with one query per
// information_schema view (not one per table: thousands of tables load fast).
type Catalog struct {
	Tables map[[2]string]*TableInfo // {schema, table}
}

// Table returns schema.table, or nil when the catalog has no such table.
func (c *Catalog) Table(schemaName, table string) *TableInfo {
	return c.Tables[[2]string{schemaName, table}]
}

// systemSchemas are the server's own schemas, never migrated or verified.
var systemSchemas = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
}

// IsSystemSchema reports whether name is one of the server's own schemas.
func IsSystemSchema(name string) bool { return systemSchemas[strings.ToLower(name)] }

// ListTables returns the server's base tables as {schema, table}, system schemas left out,
// sorted by schema then table.
func ListTables(ctx context.Context, db *sql.DB) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME`)
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
		if !IsSystemSchema(s) {
			out = append(out, [2]string{s, t})
		}
	}
	return out, rows.Err()
}

// LoadCatalog reads the base tables of the given schemas: columns, unique indexes, JSON checks,
// estimates, and each table's chunk key.
func LoadCatalog(ctx context.Context, db *sql.DB, schemas []string) (*Catalog, error) {
	return loadCatalog(ctx, db, schemas, "")
}

// loadCatalog is LoadCatalog, limited to one table of each schema when table is not "".
func loadCatalog(ctx context.Context, db *sql.DB, schemas []string, table string) (*Catalog, error) {
	c := &Catalog{Tables: map[[2]string]*TableInfo{}}
	if len(schemas) == 0 {
		return c, nil
	}
	args := make([]any, len(schemas))
	for i, s := range schemas {
		args[i] = s
	}
	where := "TABLE_SCHEMA IN (" + strings.TrimSuffix(strings.Repeat("?,", len(schemas)), ",") + ")"
	if table != "" {
		where += " AND TABLE_NAME = ?"
		args = append(args, table)
	}
	if err := c.loadTables(ctx, db, where, args); err != nil {
		return nil, err
	}
	if err := c.loadColumns(ctx, db, where, args); err != nil {
		return nil, err
	}
	if err := c.loadIndexes(ctx, db, where, args); err != nil {
		return nil, err
	}
	c.markJSON(ctx, db, strings.Replace(where, "TABLE_SCHEMA", "CONSTRAINT_SCHEMA", 1), args)
	for _, t := range c.Tables {
		t.KeyIndex, t.KeyCols = t.chunkKey()
	}
	return c, nil
}

func (c *Catalog) loadTables(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS,0), COALESCE(DATA_LENGTH,0),
		COALESCE(AVG_ROW_LENGTH,0), COALESCE(ENGINE,''), COALESCE(CREATE_OPTIONS,'')
		FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND `+where, args...)
	if err != nil {
		return fmt.Errorf("read tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := &TableInfo{Unique: map[string][]string{}, Prefix: map[string]bool{}}
		var opts string
		if err := rows.Scan(&t.DB, &t.Name, &t.Rows, &t.DataLength, &t.AvgRowLength, &t.Engine, &opts); err != nil {
			return fmt.Errorf("read tables: %w", err)
		}
		t.Engine = strings.ToLower(t.Engine)
		t.Partitioned = strings.Contains(strings.ToLower(opts), "partitioned")
		c.Tables[[2]string{t.DB, t.Name}] = t
	}
	return rows.Err()
}

func (c *Catalog) loadColumns(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE,
		COALESCE(CHARACTER_SET_NAME,''), COALESCE(COLLATION_NAME,''), COLUMN_TYPE, COALESCE(EXTRA,''), COALESCE(IS_GENERATED,'NEVER')
		FROM information_schema.COLUMNS WHERE `+where+` ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, nullable, extra, gen string
		var col ColumnInfo
		if err := rows.Scan(&schemaName, &table, &col.Name, &col.DataType, &nullable, &col.Charset, &col.Collation, &col.DefType, &extra, &gen); err != nil {
			return fmt.Errorf("read columns: %w", err)
		}
		t := c.Tables[[2]string{schemaName, table}]
		if t == nil {
			continue // a view
		}
		col.DataType = strings.ToLower(col.DataType)
		col.Nullable = nullable == "YES"
		col.Type = strings.ToLower(col.DefType)
		col.Virtual = strings.Contains(strings.ToUpper(extra), "VIRTUAL")
		col.Generated = gen == "ALWAYS"
		t.Cols = append(t.Cols, col)
	}
	return rows.Err()
}

// loadIndexes reads the unique indexes (parts over an expression, which name no column, are
// left out).
func (c *Catalog) loadIndexes(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART
		FROM information_schema.STATISTICS WHERE `+where+` AND NON_UNIQUE=0
		ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, name string
		var col sql.NullString
		var sub sql.NullInt64
		if err := rows.Scan(&schemaName, &table, &name, &col, &sub); err != nil {
			return fmt.Errorf("read indexes: %w", err)
		}
		t := c.Tables[[2]string{schemaName, table}]
		if t == nil || !col.Valid {
			continue
		}
		if _, ok := t.Col(col.String); !ok {
			continue // expression part of a functional index: not a column key
		}
		t.Unique[name] = append(t.Unique[name], col.String)
		if sub.Valid {
			t.Prefix[name] = true
		}
	}
	return rows.Err()
}

// chunkKey prefers the primary key, then the unique index with all columns NOT NULL and the
// fewest columns (ties by name, so two runs agree). Prefix indexes do not qualify.
func (t *TableInfo) chunkKey() (string, []string) {
	if cols, ok := t.Unique["PRIMARY"]; ok && !t.Prefix["PRIMARY"] {
		return "PRIMARY", cols
	}
	var names []string
	for n, cols := range t.Unique {
		ok := !t.Prefix[n]
		for _, c := range cols {
			if cc, found := t.Col(c); !found || cc.Nullable {
				ok = false
			}
		}
		if ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if len(t.Unique[names[i]]) != len(t.Unique[names[j]]) {
			return len(t.Unique[names[i]]) < len(t.Unique[names[j]])
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return "", nil
	}
	return names[0], t.Unique[names[0]]
}

// IndexOn returns the name of a unique, non-prefix index of t over exactly cols, or "".
func (t *TableInfo) IndexOn(cols []string) string {
	want := strings.ToLower(strings.Join(cols, "\x00"))
	names := make([]string, 0, len(t.Unique))
	for n := range t.Unique {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { // PRIMARY first, then by name
		if (names[i] == "PRIMARY") != (names[j] == "PRIMARY") {
			return names[i] == "PRIMARY"
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if !t.Prefix[n] && strings.ToLower(strings.Join(t.Unique[n], "\x00")) == want {
			return n
		}
	}
	return ""
}

// markJSON finds MariaDB's JSON columns: they are LONGTEXT with a json_valid(`col`) check
// constraint, so DATA_TYPE alone does not tell. (MySQL reports DATA_TYPE json directly.)
func (c *Catalog) markJSON(ctx context.Context, db *sql.DB, where string, args []any) {
	rows, err := db.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS WHERE `+where, args...)
	if err != nil {
		return // no CHECK_CONSTRAINTS view (old servers): JSON compares as text
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, clause string
		if rows.Scan(&schemaName, &table, &clause) != nil {
			return
		}
		t := c.Tables[[2]string{schemaName, table}]
		cl := strings.TrimSpace(clause)
		if t == nil || !strings.HasPrefix(strings.ToLower(cl), "json_valid(`") || !strings.HasSuffix(cl, "`)") {
			continue
		}
		name := strings.ReplaceAll(cl[len("json_valid(`"):len(cl)-2], "``", "`")
		for i := range t.Cols {
			if strings.EqualFold(t.Cols[i].Name, name) {
				t.Cols[i].DataType = "json"
			}
		}
	}
}

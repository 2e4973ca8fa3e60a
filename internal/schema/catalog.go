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
	// What two copies of the column must also agree on (DiffDefinitions).
	Default    sql.NullString // COLUMN_DEFAULT as the server writes it
	Generation string         // GENERATION_EXPRESSION ("" for a stored column)
	Extra      string         // EXTRA, lower case: auto_increment, on update ..., VIRTUAL/STORED GENERATED, INVISIBLE
}

// IndexInfo is one index, unique or not.
type IndexInfo struct {
	Name    string
	Unique  bool
	Type    string   // INDEX_TYPE: BTREE, HASH, FULLTEXT, SPATIAL
	Columns []string // in index order, a prefix written col(n), an expression part ""
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
	// The rest of the definition two copies must agree on (DiffDefinitions): every index by
	// name, table options (lower case where the server is not consistent about case; the
	// create options sorted, without "partitioned") and the partitioning rendered from
	// information_schema.PARTITIONS: method, expression, every partition's name and bounds.
	Indexes                                   []IndexInfo
	RowFormat, Collation, Comment, CreateOpts string
	Partitioning                              string
	// Constraints: CHECK constraints ("check name: clause") and foreign keys ("foreign key name:
	// (cols) references table (cols) on update R on delete R"; the referenced database is left
	// out, a rename maps it), sorted.
	Constraints []string
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

// LoadCatalog reads the base tables of the given schemas: columns, indexes, JSON checks,
// estimates, table options, partitioning, and each table's chunk key.
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
	if err := c.loadPartitions(ctx, db, where, args); err != nil {
		return nil, err
	}
	// CHECK_CONSTRAINTS and REFERENTIAL_CONSTRAINTS name their schema CONSTRAINT_SCHEMA.
	whereC := strings.Replace(where, "TABLE_SCHEMA", "CONSTRAINT_SCHEMA", 1)
	c.loadChecks(ctx, db, whereC, args)
	if err := c.loadForeignKeys(ctx, db, where, whereC, args); err != nil {
		return nil, err
	}
	for _, t := range c.Tables {
		sort.Strings(t.Constraints)
	}
	for _, t := range c.Tables {
		t.KeyIndex, t.KeyCols = t.chunkKey()
	}
	return c, nil
}

func (c *Catalog) loadTables(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS,0), COALESCE(DATA_LENGTH,0),
		COALESCE(AVG_ROW_LENGTH,0), COALESCE(ENGINE,''), COALESCE(CREATE_OPTIONS,''), COALESCE(ROW_FORMAT,''),
		COALESCE(TABLE_COLLATION,''), COALESCE(TABLE_COMMENT,'')
		FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND `+where, args...)
	if err != nil {
		return fmt.Errorf("read tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t := &TableInfo{Unique: map[string][]string{}, Prefix: map[string]bool{}}
		var opts string
		if err := rows.Scan(&t.DB, &t.Name, &t.Rows, &t.DataLength, &t.AvgRowLength, &t.Engine, &opts, &t.RowFormat, &t.Collation, &t.Comment); err != nil {
			return fmt.Errorf("read tables: %w", err)
		}
		t.Engine, t.RowFormat = strings.ToLower(t.Engine), strings.ToLower(t.RowFormat)
		t.Partitioned = strings.Contains(strings.ToLower(opts), "partitioned")
		t.CreateOpts = normaliseOptions(opts)
		c.Tables[[2]string{t.DB, t.Name}] = t
	}
	return rows.Err()
}

func (c *Catalog) loadColumns(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE,
		COALESCE(CHARACTER_SET_NAME,''), COALESCE(COLLATION_NAME,''), COLUMN_TYPE, COALESCE(EXTRA,''), COALESCE(IS_GENERATED,'NEVER'),
		COLUMN_DEFAULT, COALESCE(GENERATION_EXPRESSION,'')
		FROM information_schema.COLUMNS WHERE `+where+` ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, nullable, extra, gen string
		var col ColumnInfo
		if err := rows.Scan(&schemaName, &table, &col.Name, &col.DataType, &nullable, &col.Charset, &col.Collation, &col.DefType, &extra, &gen,
			&col.Default, &col.Generation); err != nil {
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
		col.Extra = strings.ToLower(extra)
		t.Cols = append(t.Cols, col)
	}
	return rows.Err()
}

// loadIndexes reads every index; the unique ones also make up Unique and Prefix (parts over an
// expression, which name no column, are left out there).
func (c *Catalog) loadIndexes(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COALESCE(INDEX_TYPE,''), COLUMN_NAME, SUB_PART
		FROM information_schema.STATISTICS WHERE `+where+`
		ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, name, typ string
		var nonUnique int
		var col sql.NullString
		var sub sql.NullInt64
		if err := rows.Scan(&schemaName, &table, &name, &nonUnique, &typ, &col, &sub); err != nil {
			return fmt.Errorf("read indexes: %w", err)
		}
		t := c.Tables[[2]string{schemaName, table}]
		if t == nil {
			continue
		}
		part := col.String
		if sub.Valid {
			part = fmt.Sprintf("%s(%d)", part, sub.Int64)
		}
		if n := len(t.Indexes); n > 0 && t.Indexes[n-1].Name == name {
			t.Indexes[n-1].Columns = append(t.Indexes[n-1].Columns, part)
		} else {
			t.Indexes = append(t.Indexes, IndexInfo{Name: name, Unique: nonUnique == 0, Type: typ, Columns: []string{part}})
		}
		if nonUnique != 0 || !col.Valid {
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

// loadChecks reads the CHECK constraints into Constraints and finds MariaDB's JSON columns by
// them: those are LONGTEXT with a json_valid(`col`) check constraint, so DATA_TYPE alone does
// not tell. (MySQL reports DATA_TYPE json directly.)
func (c *Catalog) loadChecks(ctx context.Context, db *sql.DB, where string, args []any) {
	rows, err := db.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS WHERE `+where, args...)
	if err != nil {
		return // no CHECK_CONSTRAINTS view (old servers): JSON compares as text
	}
	defer rows.Close()
	for rows.Next() {
		var schemaName, table, name, clause string
		if rows.Scan(&schemaName, &table, &name, &clause) != nil {
			return
		}
		t := c.Tables[[2]string{schemaName, table}]
		if t != nil {
			t.Constraints = append(t.Constraints, "check "+name+": "+clause)
		}
		cl := strings.TrimSpace(clause)
		if t == nil || !strings.HasPrefix(strings.ToLower(cl), "json_valid(`") || !strings.HasSuffix(cl, "`)") {
			continue
		}
		col := strings.ReplaceAll(cl[len("json_valid(`"):len(cl)-2], "``", "`")
		for i := range t.Cols {
			if strings.EqualFold(t.Cols[i].Name, col) {
				t.Cols[i].DataType = "json"
			}
		}
	}
}

// loadPartitions renders each partitioned table's partitioning: "method(expr) [subpartition
// method(expr)]: name values bounds, ...".
func (c *Catalog) loadPartitions(ctx context.Context, db *sql.DB, where string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(PARTITION_NAME,''), COALESCE(SUBPARTITION_NAME,''),
		COALESCE(PARTITION_METHOD,''), COALESCE(PARTITION_EXPRESSION,''), COALESCE(SUBPARTITION_METHOD,''),
		COALESCE(SUBPARTITION_EXPRESSION,''), COALESCE(PARTITION_DESCRIPTION,'')
		FROM information_schema.PARTITIONS WHERE `+where+` AND PARTITION_NAME IS NOT NULL
		ORDER BY TABLE_SCHEMA, TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION`, args...)
	if err != nil {
		return fmt.Errorf("read partitions: %w", err)
	}
	defer rows.Close()
	parts := map[*TableInfo][]string{}
	for rows.Next() {
		var s, tn, name, sub, method, expr, subMethod, subExpr, desc string
		if err := rows.Scan(&s, &tn, &name, &sub, &method, &expr, &subMethod, &subExpr, &desc); err != nil {
			return fmt.Errorf("read partitions: %w", err)
		}
		t := c.Tables[[2]string{s, tn}]
		if t == nil {
			continue
		}
		if len(parts[t]) == 0 {
			head := method + "(" + expr + ")"
			if subMethod != "" {
				head += " subpartition " + subMethod + "(" + subExpr + ")"
			}
			parts[t] = append(parts[t], head)
		}
		p := name
		if sub != "" {
			p += "/" + sub
		}
		if desc != "" {
			p += " values " + desc
		}
		parts[t] = append(parts[t], p)
	}
	for t, p := range parts {
		t.Partitioning = p[0] + ": " + strings.Join(p[1:], ", ")
	}
	return rows.Err()
}

// normaliseOptions drops what CREATE_OPTIONS says that is not an option a copy must share
// ("partitioned": compared through Partitioning) and sorts the rest.
func normaliseOptions(s string) string {
	var keep []string
	for _, o := range strings.Fields(strings.ToLower(s)) {
		if o != "partitioned" {
			keep = append(keep, o)
		}
	}
	sort.Strings(keep)
	return strings.Join(keep, " ")
}

// loadForeignKeys reads the foreign keys into Constraints.
func (c *Catalog) loadForeignKeys(ctx context.Context, db *sql.DB, where, whereC string, args []any) error {
	type fk struct{ cols, refCols []string }
	fks := map[[3]string]*fk{}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME
		FROM information_schema.KEY_COLUMN_USAGE WHERE `+where+` AND REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return fmt.Errorf("read foreign key columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, t, name, col, ref string
		if err := rows.Scan(&s, &t, &name, &col, &ref); err != nil {
			return fmt.Errorf("read foreign key columns: %w", err)
		}
		k := [3]string{s, t, name}
		if fks[k] == nil {
			fks[k] = &fk{}
		}
		fks[k].cols, fks[k].refCols = append(fks[k].cols, col), append(fks[k].refCols, ref)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read foreign key columns: %w", err)
	}
	if len(fks) == 0 {
		return nil
	}
	rows2, err := db.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE
		FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE `+whereC, args...)
	if err != nil {
		return fmt.Errorf("read foreign keys: %w", err)
	}
	defer rows2.Close()
	for rows2.Next() {
		var s, tn, name, ref, upd, del string
		if err := rows2.Scan(&s, &tn, &name, &ref, &upd, &del); err != nil {
			return fmt.Errorf("read foreign keys: %w", err)
		}
		t, k := c.Tables[[2]string{s, tn}], fks[[3]string{s, tn, name}]
		if t != nil && k != nil {
			t.Constraints = append(t.Constraints, fmt.Sprintf("foreign key %s: (%s) references %s (%s) on update %s on delete %s",
				name, strings.Join(k.cols, ", "), ref, strings.Join(k.refCols, ", "), strings.ToLower(upd), strings.ToLower(del)))
		}
	}
	return rows2.Err()
}

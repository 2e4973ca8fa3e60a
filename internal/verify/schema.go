package verify

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/omsdev/oms/internal/omserr"
)

// column is one column of a table as information_schema describes it.
type column struct {
	Name      string
	DataType  string // DATA_TYPE, lower case
	Nullable  bool
	Charset   string // "" for non-character columns
	Collation string
	Type      string // COLUMN_TYPE, lower case: int(11) unsigned, enum('a','b'), decimal(10,2)
	Virtual   bool   // a VIRTUAL generated column (not stored)
}

// tableInfo is a table's columns and the key chunks are cut along.
type tableInfo struct {
	DB, Name string
	Cols     []column
	byName   map[string]int
	// KeyIndex is the index the chunks follow: "PRIMARY", a NOT NULL unique index, or "" (none).
	KeyIndex string
	KeyCols  []string
	Rows     int64  // information_schema estimate
	Engine   string // ENGINE, lower case
	// Partitioned: CREATE_OPTIONS says "partitioned".
	Partitioned bool
	uniq        map[string][]string // unique indexes: name -> columns
}

func (t *tableInfo) colNames() []string {
	out := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		out[i] = c.Name
	}
	return out
}

func (t *tableInfo) col(name string) (column, bool) {
	i, ok := t.byName[strings.ToLower(name)]
	if !ok {
		return column{}, false
	}
	return t.Cols[i], true
}

// systemSchemas are never verified.
var systemSchemas = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
}

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
		if !systemSchemas[strings.ToLower(s)] {
			out = append(out, [2]string{s, t})
		}
	}
	return out, rows.Err()
}

// catalog is the tables of some schemas of one server, read with one query per
// information_schema view (not one per table: Init stays fast with thousands of tables).
type catalog struct {
	tables map[[2]string]*tableInfo
}

func inList(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// loadCatalog reads columns, unique indexes, JSON checks and row estimates of every table of
// the given schemas.
func loadCatalog(ctx context.Context, db *sql.DB, schemas []string) (*catalog, error) {
	c := &catalog{tables: map[[2]string]*tableInfo{}}
	if len(schemas) == 0 {
		return c, nil
	}
	args := make([]any, len(schemas))
	for i, s := range schemas {
		args[i] = s
	}
	in := inList(len(schemas))
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE,
		COALESCE(CHARACTER_SET_NAME,''), COALESCE(COLLATION_NAME,''), COLUMN_TYPE, COALESCE(EXTRA,'')
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA IN (`+in+`) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	for rows.Next() {
		var schema, table, nullable, extra string
		var col column
		if err := rows.Scan(&schema, &table, &col.Name, &col.DataType, &nullable, &col.Charset, &col.Collation, &col.Type, &extra); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns: %w", err)
		}
		col.DataType = strings.ToLower(col.DataType)
		col.Nullable = nullable == "YES"
		col.Type = strings.ToLower(col.Type)
		col.Virtual = strings.Contains(strings.ToUpper(extra), "VIRTUAL")
		k := [2]string{schema, table}
		t := c.tables[k]
		if t == nil {
			t = &tableInfo{DB: schema, Name: table, byName: map[string]int{}, uniq: map[string][]string{}}
			c.tables[k] = t
		}
		t.byName[strings.ToLower(col.Name)] = len(t.Cols)
		t.Cols = append(t.Cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	if err := c.loadIndexes(ctx, db, in, args); err != nil {
		return nil, err
	}
	c.markJSON(ctx, db, in, args)
	if rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS,0),
		COALESCE(ENGINE,''), COALESCE(CREATE_OPTIONS,'')
		FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (`+in+`)`, args...); err == nil {
		for rows.Next() {
			var schema, table, engine, opts string
			var n int64
			if rows.Scan(&schema, &table, &n, &engine, &opts) == nil {
				if t := c.tables[[2]string{schema, table}]; t != nil {
					t.Rows, t.Engine = n, strings.ToLower(engine)
					t.Partitioned = strings.Contains(strings.ToLower(opts), "partitioned")
				}
			}
		}
		rows.Close()
	}
	for _, t := range c.tables {
		t.KeyIndex, t.KeyCols = pickKey(t, t.uniq)
	}
	return c, nil
}

// table returns db.table or an operator error when it does not exist.
func (c *catalog) table(schema, table string) (*tableInfo, error) {
	t := c.tables[[2]string{schema, table}]
	if t == nil {
		return nil, omserr.New(omserr.VerifyTableMissing, fmt.Sprintf("table %s.%s does not exist", schema, table),
			"create the table (struct transfer) or remove it from the selection")
	}
	return t, nil
}

// loadIndexes reads the unique indexes (prefix indexes left out: they do not identify values).
func (c *catalog) loadIndexes(ctx context.Context, db *sql.DB, in string, args []any) error {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (`+in+`) AND NON_UNIQUE=0
		ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, args...)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	defer rows.Close()
	prefix := map[*tableInfo]map[string]bool{}
	for rows.Next() {
		var schema, table, name, col string
		var sub sql.NullInt64
		if err := rows.Scan(&schema, &table, &name, &col, &sub); err != nil {
			return fmt.Errorf("read indexes: %w", err)
		}
		t := c.tables[[2]string{schema, table}]
		if t == nil {
			continue
		}
		t.uniq[name] = append(t.uniq[name], col)
		if sub.Valid {
			if prefix[t] == nil {
				prefix[t] = map[string]bool{}
			}
			prefix[t][name] = true
		}
	}
	for t, names := range prefix {
		for n := range names {
			delete(t.uniq, n)
		}
	}
	return rows.Err()
}

// pickKey prefers the primary key, then the unique index with all columns NOT NULL and the
// fewest columns (ties by name, so both runs of a resumed verification agree).
func pickKey(t *tableInfo, idx map[string][]string) (string, []string) {
	if cols, ok := idx["PRIMARY"]; ok {
		return "PRIMARY", cols
	}
	var names []string
	for n, cols := range idx {
		ok := true
		for _, c := range cols {
			if cc, found := t.col(c); !found || cc.Nullable {
				ok = false
			}
		}
		if ok {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if len(idx[names[i]]) != len(idx[names[j]]) {
			return len(idx[names[i]]) < len(idx[names[j]])
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return "", nil
	}
	return names[0], idx[names[0]]
}

// indexOn returns the name of a unique index of t over exactly cols, or "".
func indexOn(t *tableInfo, cols []string) string {
	want := strings.ToLower(strings.Join(cols, "\x00"))
	if c, ok := t.uniq["PRIMARY"]; ok && strings.ToLower(strings.Join(c, "\x00")) == want {
		return "PRIMARY"
	}
	names := make([]string, 0, len(t.uniq))
	for n := range t.uniq {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.ToLower(strings.Join(t.uniq[n], "\x00")) == want {
			return n
		}
	}
	return ""
}

// markJSON finds MariaDB's JSON columns: they are LONGTEXT with a json_valid(`col`) check
// constraint, so DATA_TYPE alone does not tell. (MySQL reports DATA_TYPE json directly.)
func (c *catalog) markJSON(ctx context.Context, db *sql.DB, in string, args []any) {
	rows, err := db.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN (`+in+`)`, args...)
	if err != nil {
		return // no CHECK_CONSTRAINTS view (old servers): JSON compares as text
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table, clause string
		if rows.Scan(&schema, &table, &clause) != nil {
			return
		}
		t := c.tables[[2]string{schema, table}]
		cl := strings.TrimSpace(clause)
		if t == nil || !strings.HasPrefix(strings.ToLower(cl), "json_valid(`") || !strings.HasSuffix(cl, "`)") {
			continue
		}
		name := strings.ReplaceAll(cl[len("json_valid(`"):len(cl)-2], "``", "`")
		if i, ok := t.byName[strings.ToLower(name)]; ok {
			t.Cols[i].DataType = "json"
		}
	}
}

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
}

// tableInfo is a table's columns and the key chunks are cut along.
type tableInfo struct {
	DB, Name string
	Cols     []column
	byName   map[string]int
	// KeyIndex is the index the chunks follow: "PRIMARY", a NOT NULL unique index, or "" (none).
	KeyIndex string
	KeyCols  []string
	Rows     int64 // information_schema estimate
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

// loadTable reads the columns and the usable key of db.table.
func loadTable(ctx context.Context, db *sql.DB, schema, table string) (*tableInfo, error) {
	t := &tableInfo{DB: schema, Name: table, byName: map[string]int{}}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME,''),
		COALESCE(COLLATION_NAME,'') FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA=? AND TABLE_NAME=? ORDER BY ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", schema, table, err)
	}
	for rows.Next() {
		var c column
		var nullable string
		if err := rows.Scan(&c.Name, &c.DataType, &nullable, &c.Charset, &c.Collation); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns of %s.%s: %w", schema, table, err)
		}
		c.DataType = strings.ToLower(c.DataType)
		c.Nullable = nullable == "YES"
		t.byName[strings.ToLower(c.Name)] = len(t.Cols)
		t.Cols = append(t.Cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", schema, table, err)
	}
	if len(t.Cols) == 0 {
		return nil, omserr.New("VERIFY_TABLE_MISSING", fmt.Sprintf("table %s.%s does not exist", schema, table),
			"create the table (struct transfer) or remove it from the selection")
	}
	markJSON(ctx, db, t)
	idx, err := uniqueIndexes(ctx, db, schema, table)
	if err != nil {
		return nil, err
	}
	t.KeyIndex, t.KeyCols = pickKey(t, idx)
	_ = db.QueryRowContext(ctx, `SELECT COALESCE(TABLE_ROWS,0) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA=? AND TABLE_NAME=?`, schema, table).Scan(&t.Rows)
	return t, nil
}

// uniqueIndexes returns the unique indexes of a table: name -> columns in index order.
func uniqueIndexes(ctx context.Context, db *sql.DB, schema, table string) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA=? AND TABLE_NAME=? AND NON_UNIQUE=0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`, schema, table)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	prefix := map[string]bool{}
	for rows.Next() {
		var name, col string
		var sub sql.NullInt64
		if err := rows.Scan(&name, &col, &sub); err != nil {
			return nil, fmt.Errorf("read indexes of %s.%s: %w", schema, table, err)
		}
		out[name] = append(out[name], col)
		if sub.Valid {
			prefix[name] = true // a prefix index does not identify full values
		}
	}
	for n := range prefix {
		delete(out, n)
	}
	return out, rows.Err()
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
func indexOn(ctx context.Context, db *sql.DB, t *tableInfo, cols []string) string {
	idx, err := uniqueIndexes(ctx, db, t.DB, t.Name)
	if err != nil {
		return ""
	}
	want := strings.ToLower(strings.Join(cols, "\x00"))
	names := make([]string, 0, len(idx))
	for n := range idx {
		names = append(names, n)
	}
	sort.Strings(names)
	if c, ok := idx["PRIMARY"]; ok && strings.ToLower(strings.Join(c, "\x00")) == want {
		return "PRIMARY"
	}
	for _, n := range names {
		if strings.ToLower(strings.Join(idx[n], "\x00")) == want {
			return n
		}
	}
	return ""
}

// markJSON finds MariaDB's JSON columns: they are LONGTEXT with a json_valid(`col`) check
// constraint, so DATA_TYPE alone does not tell. (MySQL reports DATA_TYPE json directly.)
func markJSON(ctx context.Context, db *sql.DB, t *tableInfo) {
	rows, err := db.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA=? AND TABLE_NAME=?`, t.DB, t.Name)
	if err != nil {
		return // no CHECK_CONSTRAINTS view (old servers): JSON compares as text
	}
	defer rows.Close()
	for rows.Next() {
		var clause string
		if rows.Scan(&clause) != nil {
			return
		}
		c := strings.TrimSpace(clause)
		if !strings.HasPrefix(strings.ToLower(c), "json_valid(`") || !strings.HasSuffix(c, "`)") {
			continue
		}
		name := strings.ReplaceAll(c[len("json_valid(`"):len(c)-2], "``", "`")
		if i, ok := t.byName[strings.ToLower(name)]; ok {
			t.Cols[i].DataType = "json"
		}
	}
}

package schema

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// Definition is what a table is, as far as two copies of it must agree: columns (order, type,
// nullability, default, generation, charset, collation), indexes and table options. It leaves
// out what differs between equal copies: AUTO_INCREMENT, row counts, sizes, times.
//
// It is not the data-plane catalog (columns and keys to copy and chunk by): it is read only to
// compare a source table's definition with its target's (verification, conformance test).
type Definition struct {
	Columns []DefColumn // ordinal order
	Indexes []DefIndex  // by name
	// Table options from information_schema.TABLES (lower case where the server is not
	// consistent about case).
	Engine, RowFormat, Collation, Comment, CreateOptions string
	// Partitioning rendered from information_schema.PARTITIONS: method, expression, and every
	// partition's name and bounds ("" when not partitioned).
	Partitioning string
	// Constraints: CHECK constraints ("check name: clause") and foreign keys ("foreign key name:
	// (cols) references table (cols) on update R on delete R"; the referenced database is left
	// out, a rename maps it), sorted.
	Constraints []string
}

// DefColumn is one column of a Definition.
type DefColumn struct {
	Name       string
	Type       string // COLUMN_TYPE, lower case
	Nullable   bool
	Default    sql.NullString // COLUMN_DEFAULT as the server writes it
	Charset    string
	Collation  string
	Generation string // GENERATION_EXPRESSION ("" for a stored column)
	Extra      string // EXTRA, lower case: auto_increment, on update ..., VIRTUAL/STORED GENERATED, INVISIBLE
}

// DefIndex is one index of a Definition.
type DefIndex struct {
	Name    string
	Unique  bool
	Type    string   // INDEX_TYPE: BTREE, HASH, FULLTEXT, SPATIAL
	Columns []string // in index order, a prefix written col(n)
}

// LoadDefinitions reads the definitions of every base table of the given schemas, one query per
// information_schema view: {schema, table} -> definition.
func LoadDefinitions(ctx context.Context, db *sql.DB, schemas []string) (map[[2]string]*Definition, error) {
	out := map[[2]string]*Definition{}
	if len(schemas) == 0 {
		return out, nil
	}
	args := make([]any, len(schemas))
	for i, s := range schemas {
		args[i] = s
	}
	in := "TABLE_SCHEMA IN (" + strings.TrimSuffix(strings.Repeat("?,", len(schemas)), ",") + ")"
	get := func(s, t string) *Definition {
		d := out[[2]string{s, t}]
		if d == nil {
			d = &Definition{}
			out[[2]string{s, t}] = d
		}
		return d
	}
	q := func(what, query string, scan func(rows *sql.Rows) error) error {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("read %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		return nil
	}
	err := q("table options", `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(ENGINE,''), COALESCE(ROW_FORMAT,''),
		COALESCE(TABLE_COLLATION,''), COALESCE(TABLE_COMMENT,''), COALESCE(CREATE_OPTIONS,'')
		FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE','SYSTEM VERSIONED') AND `+in, func(rows *sql.Rows) error {
		var s, t string
		var d Definition
		if err := rows.Scan(&s, &t, &d.Engine, &d.RowFormat, &d.Collation, &d.Comment, &d.CreateOptions); err != nil {
			return err
		}
		d.Engine, d.RowFormat, d.CreateOptions = strings.ToLower(d.Engine), strings.ToLower(d.RowFormat), normaliseOptions(d.CreateOptions)
		*get(s, t) = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = q("columns", `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
		COALESCE(CHARACTER_SET_NAME,''), COALESCE(COLLATION_NAME,''), COALESCE(GENERATION_EXPRESSION,''), COALESCE(EXTRA,'')
		FROM information_schema.COLUMNS WHERE `+in+` ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`, func(rows *sql.Rows) error {
		var s, t, nullable string
		var c DefColumn
		if err := rows.Scan(&s, &t, &c.Name, &c.Type, &nullable, &c.Default, &c.Charset, &c.Collation, &c.Generation, &c.Extra); err != nil {
			return err
		}
		c.Type, c.Extra, c.Nullable = strings.ToLower(c.Type), strings.ToLower(c.Extra), nullable == "YES"
		if d := out[[2]string{s, t}]; d != nil { // views have columns too: not tables
			d.Columns = append(d.Columns, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = q("indexes", `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COALESCE(INDEX_TYPE,''), COALESCE(COLUMN_NAME,''), SUB_PART
		FROM information_schema.STATISTICS WHERE `+in+` ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, func(rows *sql.Rows) error {
		var s, t, name, typ, col string
		var nonUnique int
		var sub sql.NullInt64
		if err := rows.Scan(&s, &t, &name, &nonUnique, &typ, &col, &sub); err != nil {
			return err
		}
		d := out[[2]string{s, t}]
		if d == nil {
			return nil
		}
		if sub.Valid {
			col = fmt.Sprintf("%s(%d)", col, sub.Int64)
		}
		if n := len(d.Indexes); n > 0 && d.Indexes[n-1].Name == name {
			d.Indexes[n-1].Columns = append(d.Indexes[n-1].Columns, col)
			return nil
		}
		d.Indexes = append(d.Indexes, DefIndex{Name: name, Unique: nonUnique == 0, Type: typ, Columns: []string{col}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	parts := map[*Definition][]string{}
	err = q("partitions", `SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(PARTITION_NAME,''), COALESCE(SUBPARTITION_NAME,''),
		COALESCE(PARTITION_METHOD,''), COALESCE(PARTITION_EXPRESSION,''), COALESCE(SUBPARTITION_METHOD,''),
		COALESCE(SUBPARTITION_EXPRESSION,''), COALESCE(PARTITION_DESCRIPTION,'')
		FROM information_schema.PARTITIONS WHERE `+in+` AND PARTITION_NAME IS NOT NULL
		ORDER BY TABLE_SCHEMA, TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION`, func(rows *sql.Rows) error {
		var s, t, name, sub, method, expr, subMethod, subExpr, desc string
		if err := rows.Scan(&s, &t, &name, &sub, &method, &expr, &subMethod, &subExpr, &desc); err != nil {
			return err
		}
		d := out[[2]string{s, t}]
		if d == nil {
			return nil
		}
		if len(parts[d]) == 0 {
			head := method + "(" + expr + ")"
			if subMethod != "" {
				head += " subpartition " + subMethod + "(" + subExpr + ")"
			}
			parts[d] = append(parts[d], head)
		}
		p := name
		if sub != "" {
			p += "/" + sub
		}
		if desc != "" {
			p += " values " + desc
		}
		parts[d] = append(parts[d], p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for d, p := range parts {
		d.Partitioning = p[0] + ": " + strings.Join(p[1:], ", ")
	}
	// CHECK_CONSTRAINTS names its schema CONSTRAINT_SCHEMA.
	inC := strings.Replace(in, "TABLE_SCHEMA", "CONSTRAINT_SCHEMA", 1)
	err = q("check constraints", `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS WHERE `+inC, func(rows *sql.Rows) error {
		var s, t, name, clause string
		if err := rows.Scan(&s, &t, &name, &clause); err != nil {
			return err
		}
		if d := out[[2]string{s, t}]; d != nil {
			d.Constraints = append(d.Constraints, "check "+name+": "+clause)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fks := map[[3]string]*struct{ cols, refCols []string }{}
	err = q("foreign key columns", `SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME
		FROM information_schema.KEY_COLUMN_USAGE WHERE `+in+` AND REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`, func(rows *sql.Rows) error {
		var s, t, name, col, ref string
		if err := rows.Scan(&s, &t, &name, &col, &ref); err != nil {
			return err
		}
		k := [3]string{s, t, name}
		if fks[k] == nil {
			fks[k] = &struct{ cols, refCols []string }{}
		}
		fks[k].cols, fks[k].refCols = append(fks[k].cols, col), append(fks[k].refCols, ref)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = q("foreign keys", `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE
		FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE `+inC, func(rows *sql.Rows) error {
		var s, t, name, ref, upd, del string
		if err := rows.Scan(&s, &t, &name, &ref, &upd, &del); err != nil {
			return err
		}
		d, c := out[[2]string{s, t}], fks[[3]string{s, t, name}]
		if d != nil && c != nil {
			d.Constraints = append(d.Constraints, fmt.Sprintf("foreign key %s: (%s) references %s (%s) on update %s on delete %s",
				name, strings.Join(c.cols, ", "), ref, strings.Join(c.refCols, ", "), strings.ToLower(upd), strings.ToLower(del)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range out {
		sort.Strings(d.Constraints)
	}
	return out, nil
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

// DiffDefinitions lists how dst differs from src, one readable line per difference, in a stable
// order ("column c: charset latin2 vs utf8mb4", source first). cols limits the comparison to a
// column subset (nil: all columns); an index over a column outside it is not compared, and the
// subset's columns are compared in the order the source has them.
func DiffDefinitions(src, dst *Definition, cols []string) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	inSubset := func(name string) bool {
		if len(cols) == 0 {
			return true
		}
		for _, c := range cols {
			if strings.EqualFold(c, name) {
				return true
			}
		}
		return false
	}
	pick := func(d *Definition) ([]DefColumn, map[string]DefColumn) {
		var list []DefColumn
		by := map[string]DefColumn{}
		for _, c := range d.Columns {
			if inSubset(c.Name) {
				list = append(list, c)
				by[strings.ToLower(c.Name)] = c
			}
		}
		return list, by
	}
	sl, sm := pick(src)
	dl, dm := pick(dst)
	for _, c := range sl {
		if _, ok := dm[strings.ToLower(c.Name)]; !ok {
			add("column %s: only in the source", c.Name)
		}
	}
	for _, c := range dl {
		if _, ok := sm[strings.ToLower(c.Name)]; !ok {
			add("column %s: only in the target", c.Name)
		}
	}
	var so, do []string
	for _, c := range sl {
		if _, ok := dm[strings.ToLower(c.Name)]; ok {
			so = append(so, strings.ToLower(c.Name))
		}
	}
	for _, c := range dl {
		if _, ok := sm[strings.ToLower(c.Name)]; ok {
			do = append(do, strings.ToLower(c.Name))
		}
	}
	if strings.Join(so, ",") != strings.Join(do, ",") {
		add("column order: (%s) vs (%s)", strings.Join(so, ", "), strings.Join(do, ", "))
	}
	for _, s := range sl {
		d, ok := dm[strings.ToLower(s.Name)]
		if !ok {
			continue
		}
		if s.Type != d.Type {
			add("column %s: type %s vs %s", s.Name, s.Type, d.Type)
		}
		if s.Nullable != d.Nullable {
			add("column %s: %s vs %s", s.Name, nullText(s.Nullable), nullText(d.Nullable))
		}
		if s.Default != d.Default {
			add("column %s: default %s vs %s", s.Name, defaultText(s.Default), defaultText(d.Default))
		}
		if !strings.EqualFold(s.Charset, d.Charset) {
			add("column %s: charset %s vs %s", s.Name, orNone(s.Charset), orNone(d.Charset))
		} else if !strings.EqualFold(s.Collation, d.Collation) {
			add("column %s: collation %s vs %s", s.Name, orNone(s.Collation), orNone(d.Collation))
		}
		if s.Generation != d.Generation {
			add("column %s: generated as %s vs %s", s.Name, orNone(s.Generation), orNone(d.Generation))
		}
		if s.Extra != d.Extra {
			add("column %s: extra %s vs %s", s.Name, orNone(s.Extra), orNone(d.Extra))
		}
	}
	idx := func(d *Definition) map[string]DefIndex {
		m := map[string]DefIndex{}
		for _, ix := range d.Indexes {
			all := true
			for _, c := range ix.Columns {
				name := c
				if i := strings.LastIndexByte(c, '('); i > 0 && strings.HasSuffix(c, ")") {
					name = c[:i]
				}
				if !inSubset(name) {
					all = false
				}
			}
			if all {
				m[strings.ToLower(ix.Name)] = ix
			}
		}
		return m
	}
	si, di := idx(src), idx(dst)
	for _, name := range sortedKeys(si, di) {
		s, sok := si[name]
		d, dok := di[name]
		switch {
		case !dok:
			add("index %s: only in the source", s.Name)
		case !sok:
			add("index %s: only in the target", d.Name)
		case indexText(s) != indexText(d):
			add("index %s: %s vs %s", s.Name, indexText(s), indexText(d))
		}
	}
	opt := func(what, s, d string) {
		if s != d {
			add("table %s: %s vs %s", what, orNone(s), orNone(d))
		}
	}
	opt("engine", src.Engine, dst.Engine)
	opt("row format", src.RowFormat, dst.RowFormat)
	if !strings.EqualFold(src.Collation, dst.Collation) {
		add("table default collation: %s vs %s", orNone(src.Collation), orNone(dst.Collation))
	}
	opt("comment", src.Comment, dst.Comment)
	opt("options", src.CreateOptions, dst.CreateOptions)
	opt("partitioning", src.Partitioning, dst.Partitioning)
	sc, dc := constraintSet(src.Constraints, inSubset), constraintSet(dst.Constraints, inSubset)
	for _, c := range src.Constraints {
		if sc[c] && !dc[c] {
			add("constraint only in the source: %s", c)
		}
	}
	for _, c := range dst.Constraints {
		if dc[c] && !sc[c] {
			add("constraint only in the target: %s", c)
		}
	}
	return out
}

// constraintSet is the constraints to compare: with a column subset, a foreign key over a column
// outside it is left out (CHECK clauses are compared whole: they name columns in free text).
func constraintSet(list []string, inSubset func(string) bool) map[string]bool {
	m := map[string]bool{}
	for _, c := range list {
		if rest, ok := strings.CutPrefix(c, "foreign key "); ok {
			_, cols, _ := strings.Cut(rest, "(")
			cols, _, _ = strings.Cut(cols, ")")
			all := true
			for _, col := range strings.Split(cols, ", ") {
				all = all && inSubset(col)
			}
			if !all {
				continue
			}
		}
		m[c] = true
	}
	return m
}

func indexText(ix DefIndex) string {
	kind := ""
	if ix.Unique {
		kind = "unique "
	}
	return kind + strings.ToLower(ix.Type) + " (" + strings.Join(ix.Columns, ", ") + ")"
}

func sortedKeys(a, b map[string]DefIndex) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]DefIndex{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func nullText(null bool) string {
	if null {
		return "NULL"
	}
	return "NOT NULL"
}

func defaultText(d sql.NullString) string {
	if !d.Valid {
		return "none"
	}
	return d.String
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

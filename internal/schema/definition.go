package schema

import (
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// The definition of a table, as far as two copies of it must agree, is the catalog's TableInfo:
// columns (order, type, nullability, default, generation, charset, collation), indexes and table
// options. AUTO_INCREMENT, row counts, sizes and times differ between equal copies and are left
// out.

// DiffDefinitions lists how dst differs from src, one readable line per difference, in a stable
// order ("column c: charset latin2 vs utf8mb4", source first). cols limits the comparison to a
// column subset (nil: all columns); an index over a column outside it is not compared, and the
// subset's columns are compared in the order the source has them.
func DiffDefinitions(src, dst *TableInfo, cols []string) []string {
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
	pick := func(d *TableInfo) ([]ColumnInfo, map[string]ColumnInfo) {
		var list []ColumnInfo
		by := map[string]ColumnInfo{}
		for _, c := range d.Cols {
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
	idx := func(d *TableInfo) map[string]IndexInfo {
		m := map[string]IndexInfo{}
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
	opt("options", src.CreateOpts, dst.CreateOpts)
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

func indexText(ix IndexInfo) string {
	kind := ""
	if ix.Unique {
		kind = "unique "
	}
	return kind + strings.ToLower(ix.Type) + " (" + strings.Join(ix.Columns, ", ") + ")"
}

func sortedKeys(a, b map[string]IndexInfo) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]IndexInfo{a, b} {
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

package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
)

// Tracker gives the schema of a table valid at the current binlog position. It implements
// binlog.TableResolver and is called from the capture goroutine only.
//
// How a table is resolved, in order of trust:
//  1. binlog_row_metadata=FULL: the table map of the position carries column names, enum/set
//     labels, charsets and the primary key; that is the schema at that position by definition.
//     The live definition (loaded once, reloaded after each DDL in the log) is used to cross-check
//     it: when the live table has the same column names it supplies the exact DDL types,
//     nullability and unique keys; when it differs (a later DDL already ran on the source) the
//     binlog's view wins and unique keys are mapped by column name.
//  2. MINIMAL/NOBLOB metadata: the live definition is used if its column count and types match
//     the binlog; otherwise the position cannot be decoded safely and Resolve fails with
//     STORE_SCHEMA_UNKNOWN (enable binlog_row_metadata=FULL).
//
// DDL in the log drops the cached live definitions, so the next table map reloads them.
type Tracker struct {
	db   *sql.DB // source, for information_schema; nil = binlog metadata only
	live map[string]*liveEntry
	// Mismatches counts table maps whose FULL metadata disagreed with the live definition.
	Mismatches atomic.Int64
}

type liveEntry struct {
	t   *changelog.Table // nil if the table does not exist now
	err error
}

// NewTracker returns a tracker that loads live definitions through db (may be nil).
func NewTracker(db *sql.DB) *Tracker {
	return &Tracker{db: db, live: map[string]*liveEntry{}}
}

func (tr *Tracker) liveTable(ctx context.Context, db, name string) (*changelog.Table, error) {
	if tr.db == nil {
		return nil, nil
	}
	key := db + "\x00" + name
	if e, ok := tr.live[key]; ok {
		return e.t, e.err
	}
	t, err := LoadTable(ctx, tr.db, db, name)
	if errors.Is(err, sql.ErrNoRows) {
		t, err = nil, nil
	}
	if err != nil && ctx.Err() != nil {
		return nil, err // do not cache a cancelled load
	}
	tr.live[key] = &liveEntry{t: t, err: err}
	return t, err
}

// ApplyDDL implements binlog.TableResolver: any DDL may change any table it names, so the live
// definitions are dropped and reloaded on next use.
func (tr *Tracker) ApplyDDL(_ context.Context, _, _ string) error {
	clear(tr.live)
	return nil
}

// ResolveTable implements binlog.TableResolver.
func (tr *Tracker) ResolveTable(ctx context.Context, tm *binlog.TableMap) (*binlog.ResolvedTable, error) {
	live, err := tr.liveTable(ctx, tm.DB, tm.Name)
	if err != nil && len(tm.Names) == 0 {
		return nil, fmt.Errorf("resolve %s.%s: %w", tm.DB, tm.Name, err)
	}
	if len(tm.Names) == len(tm.Types) && len(tm.Names) > 0 {
		return tr.fromFull(tm, live), nil
	}
	if live == nil || len(live.Columns) != len(tm.Types) {
		have := "does not exist now"
		if live != nil {
			have = fmt.Sprintf("has %d columns now, the binlog %d", len(live.Columns), len(tm.Types))
		}
		return nil, omserr.New(omserr.StoreSchemaUnknown,
			fmt.Sprintf("cannot tell the columns of %s.%s at this binlog position: the table %s and the binlog has no column names", tm.DB, tm.Name, have),
			"set binlog_row_metadata=FULL on the source (MariaDB 10.5+, MySQL 8.0+) and start the store from a position after that")
	}
	for i, c := range live.Columns {
		if !compatible(c.Type, tm.Types[i]) {
			return nil, omserr.New(omserr.StoreSchemaUnknown,
				fmt.Sprintf("column %d (%s) of %s.%s is %s now but %s in the binlog", i+1, c.Name, tm.DB, tm.Name, c.Type, tm.Types[i]),
				"set binlog_row_metadata=FULL on the source and start the store from a position after that")
		}
	}
	return resolved(live), nil
}

func (tr *Tracker) fromFull(tm *binlog.TableMap, live *changelog.Table) *binlog.ResolvedTable {
	t := &changelog.Table{DB: tm.DB, Name: tm.Name, Columns: make([]changelog.Column, len(tm.Names))}
	for i, n := range tm.Names {
		c := changelog.Column{Name: n, Type: tm.Types[i], Unsigned: tm.Unsigned[i], Nullable: tm.Nullable[i]}
		if tm.Charsets != nil && tm.Charsets[i] != "binary" {
			c.Charset = tm.Charsets[i]
		}
		t.Columns[i] = c
	}
	t.PrimaryKey = append([]int(nil), tm.PrimaryKey...)
	same := live != nil && len(live.Columns) == len(t.Columns)
	if same {
		for i := range t.Columns {
			if !strings.EqualFold(live.Columns[i].Name, t.Columns[i].Name) || !compatible(live.Columns[i].Type, t.Columns[i].Type) {
				same = false
				break
			}
		}
	}
	if live != nil && !same {
		tr.Mismatches.Add(1)
	}
	switch {
	case same:
		for i := range t.Columns {
			t.Columns[i].Type = live.Columns[i].Type
			t.Columns[i].Nullable = live.Columns[i].Nullable
			t.Columns[i].Charset = live.Columns[i].Charset
		}
		if len(t.PrimaryKey) == 0 {
			t.PrimaryKey = live.PrimaryKey
		}
		t.UniqueKeys = live.UniqueKeys
	case live != nil:
		// Map keys by column name; drop keys that name a column the binlog does not have.
		idx := map[string]int{}
		for i, c := range t.Columns {
			idx[strings.ToLower(c.Name)] = i
		}
		mapKey := func(k []int) []int {
			out := make([]int, 0, len(k))
			for _, ci := range k {
				j, ok := idx[strings.ToLower(live.Columns[ci].Name)]
				if !ok {
					return nil
				}
				out = append(out, j)
			}
			return out
		}
		if len(t.PrimaryKey) == 0 {
			t.PrimaryKey = mapKey(live.PrimaryKey)
		}
		for _, k := range live.UniqueKeys {
			if m := mapKey(k); m != nil {
				t.UniqueKeys = append(t.UniqueKeys, m)
			}
		}
	}
	r := resolved(t)
	// The binlog's labels are the truth at this position.
	for i := range t.Columns {
		if tm.EnumValues != nil && tm.EnumValues[i] != nil {
			r.EnumValues = ensure(r.EnumValues, len(t.Columns))
			r.EnumValues[i] = tm.EnumValues[i]
		}
		if tm.SetValues != nil && tm.SetValues[i] != nil {
			r.SetValues = ensure(r.SetValues, len(t.Columns))
			r.SetValues[i] = tm.SetValues[i]
		}
	}
	return r
}

func ensure(v [][]string, n int) [][]string {
	if v == nil {
		return make([][]string, n)
	}
	return v
}

// resolved builds the decoding helpers (enum/set labels) from the table's type strings.
func resolved(t *changelog.Table) *binlog.ResolvedTable {
	r := &binlog.ResolvedTable{Table: t}
	for i, c := range t.Columns {
		lt := strings.ToLower(c.Type)
		switch {
		case strings.HasPrefix(lt, "enum("):
			r.EnumValues = ensure(r.EnumValues, len(t.Columns))
			r.EnumValues[i] = binlog.ParseEnumValues(c.Type)
		case strings.HasPrefix(lt, "set("):
			r.SetValues = ensure(r.SetValues, len(t.Columns))
			r.SetValues[i] = binlog.ParseEnumValues(c.Type)
		}
	}
	return r
}

// compatible reports whether a live DDL type and a binlog-derived type are the same kind of
// column (the binlog cannot tell e.g. int(11) from int, or tinyint(1) from bool).
func compatible(live, fromBinlog string) bool {
	base := func(s string) string {
		s = strings.ToLower(s)
		if i := strings.IndexAny(s, "( "); i >= 0 {
			s = s[:i]
		}
		switch s {
		case "bool", "boolean":
			return "tinyint"
		case "integer":
			return "int"
		case "real":
			return "double"
		case "numeric":
			return "decimal"
		case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob", "json":
			return "blob"
		case "varbinary":
			return "varchar"
		case "binary":
			return "char"
		}
		return s
	}
	a, b := base(live), base(fromBinlog)
	if a == b {
		return true
	}
	// MariaDB JSON is LONGTEXT; MySQL logs JSON as its own type.
	return (a == "blob" && b == "json") || (a == "json" && b == "blob")
}

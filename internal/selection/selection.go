// Package selection decides which source databases and tables a migration moves, and where they
// go: the object-selection rules of a project (OMS "select objects" with wildcards, renames, row
// filters and column subsets). It is pure logic shared by Full-Import, Incr-Sync and Verify; it
// talks to no database.
//
// # Rules
//
// A Config has an ordered list of include rules (Tables) and a list of exclude rules (Exclude).
// Each rule names a database pattern (DB) and a table pattern (Table). Patterns are wildcards,
// matched against the whole name, case-sensitively (as OMS does; `Orders` and `orders` are
// different tables):
//
//	pattern  matches                                    example
//	*        any run of characters, including none      db: "shop_*"
//	?        exactly one character                      table: "log_?"
//	[abc]    one character of the set, ranges allowed   table: "t[0-9]"
//	[!abc]   one character not in the set ([^abc] too)  table: "[!_]*"
//	\x       x literally                                table: "a\*b" matches only "a*b"
//
// An empty Table means "*" (every table of the matching databases). DB may not be empty.
//
// # Matching
//
// Match(db, table) returns the target of a source table:
//
//  1. If any exclude rule matches (db, table), the table is not selected: exclusion always wins
//     over inclusion, wherever the rules are in the file.
//  2. Otherwise the FIRST include rule, in file order, that matches decides everything: target
//     names, row filter, columns and DML kinds. Later rules are not merged in. Put specific rules
//     before general ones (`shop.orders` with a filter, then `shop.*`).
//  3. No include rule matches: not selected.
//
// # Renames
//
// RenameDB and RenameTable are literal target names; empty means "keep the source name".
//
//   - `{db: src, table: "*", rename_db: dst}` maps every table src.T to dst.T (the common
//     "copy this database under another name" rule; works with any table pattern).
//   - `{db: "shard_*", table: "*", rename_db: all}` maps shard_1.T and shard_2.T both to all.T:
//     tables of several databases are merged. That is allowed (it is how shards are merged) and
//     the caller must make sure the rows do not collide.
//   - `{db: src, table: orders, rename_table: orders_v2}` renames one table. RenameTable is
//     refused when Table is a wildcard: it would map several tables onto one, which is never
//     what a person means (the error says so).
//
// # Row filter, columns, DML kinds
//
// Where is a SQL boolean expression over the source table's columns (without the WHERE keyword).
// Compile parses it with internal/rowfilter, which refuses anything but one expression over
// columns, literals, operators and deterministic functions; Full-Import, Verify and Incr-Sync run
// the SQL rendered from the parsed tree (Target.Filter), never the text, after checking its
// columns against the real table. Columns is the subset of columns to move (empty: all); the primary key
// must be in the subset (the consumer checks that against the real table). DML lists the change
// kinds Incr-Sync applies: INSERT, UPDATE, DELETE in any case (empty: all three). Exclude rules
// take only DB and Table; anything else in an exclude rule is an error, not silently ignored.
package selection

import (
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/rowfilter"
)

// Config is the object selection of a project (spec and project files, JSON or YAML).
type Config struct {
	Tables  []Rule `json:"tables" yaml:"tables"`
	Exclude []Rule `json:"exclude,omitempty" yaml:"exclude,omitempty"`
}

// Rule selects tables by database and table pattern and says where and how they go.
type Rule struct {
	DB          string   `json:"db" yaml:"db"`
	Table       string   `json:"table,omitempty" yaml:"table,omitempty"`
	RenameDB    string   `json:"rename_db,omitempty" yaml:"rename_db,omitempty"`
	RenameTable string   `json:"rename_table,omitempty" yaml:"rename_table,omitempty"`
	Where       string   `json:"where,omitempty" yaml:"where,omitempty"`
	Columns     []string `json:"columns,omitempty" yaml:"columns,omitempty"`
	DML         []string `json:"dml,omitempty" yaml:"dml,omitempty"`
}

// DMLOps is a set of change kinds.
type DMLOps uint8

// Change kinds.
const (
	OpInsert DMLOps = 1 << iota
	OpUpdate
	OpDelete

	AllDML = OpInsert | OpUpdate | OpDelete
)

// Has reports whether every kind in op is in the set.
func (d DMLOps) Has(op DMLOps) bool { return d&op == op && op != 0 }

// String lists the kinds, e.g. "INSERT,DELETE".
func (d DMLOps) String() string {
	var parts []string
	if d&OpInsert != 0 {
		parts = append(parts, "INSERT")
	}
	if d&OpUpdate != 0 {
		parts = append(parts, "UPDATE")
	}
	if d&OpDelete != 0 {
		parts = append(parts, "DELETE")
	}
	return strings.Join(parts, ",")
}

// Target is where a selected source table goes and what of it.
type Target struct {
	DB      string
	Table   string
	Filter  *rowfilter.Filter // row filter; nil: all rows
	Columns []string          // subset; nil: all columns (do not modify: shared between calls)
	DML     DMLOps
	Rule    int // index of the include rule that matched (for messages)
}

// Selector is a compiled Config. It is immutable and safe for concurrent use.
type Selector struct {
	include []compiled
	exclude []compiled
}

type compiled struct {
	db, table *glob
	rule      Rule
	dml       DMLOps
	columns   []string
	filter    *rowfilter.Filter
}

// Compile checks cfg and compiles its patterns. Errors name the rule ("tables[2]") and the field.
func Compile(cfg Config) (*Selector, error) {
	if len(cfg.Tables) == 0 {
		return nil, fmt.Errorf("selection: no include rule in tables: nothing would be migrated")
	}
	s := &Selector{}
	for i, r := range cfg.Tables {
		c, err := compileRule(r, false)
		if err != nil {
			return nil, fmt.Errorf("selection: tables[%d] (db %q, table %q): %w", i, r.DB, r.Table, err)
		}
		s.include = append(s.include, c)
	}
	for i, r := range cfg.Exclude {
		c, err := compileRule(r, true)
		if err != nil {
			return nil, fmt.Errorf("selection: exclude[%d] (db %q, table %q): %w", i, r.DB, r.Table, err)
		}
		s.exclude = append(s.exclude, c)
	}
	return s, nil
}

func compileRule(r Rule, exclude bool) (compiled, error) {
	var c compiled
	if strings.TrimSpace(r.DB) == "" {
		return c, fmt.Errorf("db is empty (use \"*\" for every database)")
	}
	table := r.Table
	if table == "" {
		table = "*"
	}
	var err error
	if c.db, err = compileGlob(r.DB); err != nil {
		return c, fmt.Errorf("db: %w", err)
	}
	if c.table, err = compileGlob(table); err != nil {
		return c, fmt.Errorf("table: %w", err)
	}
	if exclude {
		if r.RenameDB != "" || r.RenameTable != "" || r.Where != "" || len(r.Columns) > 0 || len(r.DML) > 0 {
			return c, fmt.Errorf("an exclude rule takes only db and table (rename, where, columns and dml belong to include rules)")
		}
		c.rule = r
		return c, nil
	}
	if r.RenameTable != "" && !c.table.literal {
		return c, fmt.Errorf("rename_table %q with a wildcard table pattern would map several tables onto one; name one table, or rename the database with rename_db", r.RenameTable)
	}
	if err := checkName("rename_db", r.RenameDB); err != nil {
		return c, err
	}
	if err := checkName("rename_table", r.RenameTable); err != nil {
		return c, err
	}
	if r.Where != "" {
		if c.filter, err = rowfilter.Parse(r.Where); err != nil {
			return c, fmt.Errorf("where: %w", err)
		}
	}
	seen := map[string]bool{}
	for j, col := range r.Columns {
		if strings.TrimSpace(col) == "" {
			return c, fmt.Errorf("columns[%d] is empty", j)
		}
		if seen[col] {
			return c, fmt.Errorf("column %q is listed twice", col)
		}
		seen[col] = true
	}
	if len(r.Columns) > 0 {
		c.columns = append([]string(nil), r.Columns...)
	}
	if len(r.DML) == 0 {
		c.dml = AllDML
	}
	for _, k := range r.DML {
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "INSERT":
			c.dml |= OpInsert
		case "UPDATE":
			c.dml |= OpUpdate
		case "DELETE":
			c.dml |= OpDelete
		default:
			return c, fmt.Errorf("dml %q is not one of INSERT, UPDATE, DELETE", k)
		}
	}
	c.rule = r
	return c, nil
}

func checkName(field, v string) error {
	if v == "" {
		return nil
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("%s %q has leading or trailing spaces", field, v)
	}
	if strings.ContainsAny(v, "*?[") {
		return fmt.Errorf("%s %q is a target name, not a pattern: wildcards are not allowed there", field, v)
	}
	if len(v) > 64 {
		return fmt.Errorf("%s %q is longer than 64 characters", field, v)
	}
	return nil
}

// Match returns the target of source table db.table and whether it is selected.
func (s *Selector) Match(db, table string) (Target, bool) {
	if neverSelected(db) {
		return Target{}, false
	}
	for i := range s.exclude {
		if s.exclude[i].db.match(db) && s.exclude[i].table.match(table) {
			return Target{}, false
		}
	}
	for i := range s.include {
		c := &s.include[i]
		if !c.db.match(db) || !c.table.match(table) {
			continue
		}
		t := Target{DB: db, Table: table, Filter: c.filter, Columns: c.columns, DML: c.dml, Rule: i}
		if c.rule.RenameDB != "" {
			t.DB = c.rule.RenameDB
		}
		if c.rule.RenameTable != "" {
			t.Table = c.rule.RenameTable
		}
		return t, true
	}
	return Target{}, false
}

// MayMatchDB reports whether some table of database db could be selected, so a caller listing
// the source can skip databases early. Exclude rules whose table pattern is "*" are applied;
// narrower exclusions are left to Match.
func (s *Selector) MayMatchDB(db string) bool {
	if neverSelected(db) {
		return false
	}
	for i := range s.exclude {
		if s.exclude[i].db.match(db) && s.exclude[i].table.src == "*" {
			return false
		}
	}
	for i := range s.include {
		if s.include[i].db.match(db) {
			return true
		}
	}
	return false
}

// systemDBs are never migrated, whatever the rules say: the server's own schemas (copying
// mysql.* would overwrite the target's users) and oms's own (checkpoints, heartbeats), which a
// "*" rule would otherwise pick up.
var systemDBs = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true, "__oms": true}

func neverSelected(db string) bool { return systemDBs[strings.ToLower(db)] }

// IsPattern reports whether pattern has a wildcard (so names that do not exist yet can match it).
// An invalid pattern is not one.
func IsPattern(pattern string) bool {
	g, err := compileGlob(pattern)
	return err == nil && !g.literal
}

// MatchPattern reports whether name matches a wildcard pattern with the syntax of this package.
// An invalid pattern matches nothing and returns the parse error.
func MatchPattern(pattern, name string) (bool, error) {
	g, err := compileGlob(pattern)
	if err != nil {
		return false, err
	}
	return g.match(name), nil
}

// StoreFilter is the part of the selection a Store applies before sending rows across regions:
// every rule's db and table patterns, in the same order (so the same rule decides), and the
// column subset of include rules without a row filter (a row filter reads any column, so such a
// table keeps all of them). Renames, row filters and DML kinds stay with the consumer.
func (c Config) StoreFilter() Config {
	out := Config{}
	for _, r := range c.Tables {
		n := Rule{DB: r.DB, Table: r.Table}
		if r.Where == "" {
			n.Columns = r.Columns
		}
		out.Tables = append(out.Tables, n)
	}
	for _, r := range c.Exclude {
		out.Exclude = append(out.Exclude, Rule{DB: r.DB, Table: r.Table})
	}
	return out
}

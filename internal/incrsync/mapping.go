package incrsync

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
)

// tableInfo is a source table's schema mapped onto its target: which columns go, under which
// names, and which of them identify a row.
type tableInfo struct {
	src      *changelog.Table
	tgtDB    string
	tgtTable string
	quoted   string   // `db`.`table` on the target
	cols     []int    // source column indexes written to the target, in order
	names    []string // their names
	// ident is the identity key (PK, else the first UK of NOT NULL columns) as indexes into
	// the projected row; nil means the table has no usable key (row-by-row, full before-image).
	ident []int
	// keys are every unique key (identity first) as indexes into the projected row, for
	// conflict detection.
	keys [][]int
	// approx marks FLOAT/DOUBLE columns (projected): a before-image match that finds no row with
	// them is tried again without them.
	approx []bool
	// conv turns the binary form the binlog logs of UUID/INET4/INET6 columns (projected) into
	// the text the target takes; nil when the table has none.
	conv  []func([]byte) (string, bool)
	where string // row filter rendered from its parse tree over src's columns; "" = all rows
	dml   selection.DMLOps
	// rowEnd and rowStart are the source indexes of a system-versioned table's row_end and
	// row_start, -1 for other tables: a row image whose row_end is not the maximum is history,
	// which the target keeps itself, at the source's time (see versionedCurrent).
	rowEnd, rowStart int
	// fk is set when the target table has foreign keys or is referenced by one: its rows are
	// applied with the target's foreign key checks on, in source order (see applyFK), so the
	// cascades the binlog does not carry happen on the target.
	fk bool
}

// mrow is one row change mapped to its target table; images are projected to tableInfo.cols.
type mrow struct {
	t      *tableInfo
	op     changelog.Op
	before []any
	after  []any
	// at is the source's time of a change of a system-versioned table (Unix µs; 0 for other
	// tables): the target applies the change at this @@timestamp, so the history it keeps has
	// the source's row_start and row_end.
	at int64
}

// mtxn is a source transaction after selection and mapping.
type mtxn struct {
	gtid       string
	commit     time.Time
	seq        uint64
	rows       []mrow
	ddl        *ddlPlan
	ddlTables  []string           // "db.table" the DDL changes, for the per-table counts
	ddlSession *changelog.Session // the source session the DDL ran in
	idempotent bool
	// received (from the Store) and scheduled (added to the scheduler): where its read and wait
	// hops start (instruments.applied)
	received, scheduled time.Time
}

// mapper applies the selection to source transactions. Not safe for concurrent use (the read
// stage owns it).
type mapper struct {
	sel    *selection.Selector
	tables map[string]*tableInfo // "db\x00table" -> mapping of its current schema
	filter *sql.DB               // where row filters are evaluated (the target)
	// settle waits until everything read so far is applied; unsettled is set after a DDL, whose
	// effect on the target (which columns it computes) must be seen before mapping rows again.
	settle    func(context.Context) error
	unsettled bool
	// ahead are the target definitions of every target table, read at the start (readAhead)
	// and forgotten at the first DDL; nil: read table by table
	ahead map[string]*targetDefs
}

func newMapper(sel *selection.Selector, filterDB *sql.DB) *mapper {
	return &mapper{sel: sel, tables: map[string]*tableInfo{}, filter: filterDB}
}

// table returns the mapping of a source table, or nil when it is not selected.
func (m *mapper) table(ctx context.Context, t *changelog.Table) (*tableInfo, error) {
	k := t.DB + "\x00" + t.Name
	if ti, ok := m.tables[k]; ok {
		if ti == nil {
			return nil, nil
		}
		if ti.src == t || sameSchema(ti.src, t) {
			ti.src = t
			return ti, nil
		}
	}
	tgt, ok := m.sel.Match(t.DB, t.Name)
	if !ok {
		m.tables[k] = nil
		return nil, nil
	}
	if m.unsettled && m.settle != nil {
		if err := m.settle(ctx); err != nil {
			return nil, err
		}
		m.unsettled = false
	}
	defs, err := m.defsOf(ctx, tgt.DB, tgt.Table)
	if err != nil {
		return nil, err
	}
	ti, err := buildTableInfo(t, tgt, defs.computed, defs.typed)
	if err != nil {
		return nil, err
	}
	ti.fk = defs.fk
	m.tables[k] = ti
	return ti, nil
}

// invalidate forgets cached mappings (after DDL the Store sends new schemas anyway) and the
// target definitions read ahead (the DDL may have changed them).
func (m *mapper) invalidate() {
	m.tables, m.unsettled, m.ahead = map[string]*tableInfo{}, true, nil
}

func sameSchema(a, b *changelog.Table) bool {
	if a == nil || b == nil || len(a.Columns) != len(b.Columns) || len(a.PrimaryKey) != len(b.PrimaryKey) || len(a.UniqueKeys) != len(b.UniqueKeys) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || a.Columns[i].Nullable != b.Columns[i].Nullable {
			return false
		}
	}
	for i := range a.PrimaryKey {
		if a.PrimaryKey[i] != b.PrimaryKey[i] {
			return false
		}
	}
	for i := range a.UniqueKeys {
		if len(a.UniqueKeys[i]) != len(b.UniqueKeys[i]) {
			return false
		}
		for j := range a.UniqueKeys[i] {
			if a.UniqueKeys[i][j] != b.UniqueKeys[i][j] {
				return false
			}
		}
	}
	return true
}

// buildTableInfo maps a source table onto its target; computed names the target's columns the
// server computes (never written), typed the target's UUID/INET4/INET6 columns (written as text).
func buildTableInfo(t *changelog.Table, tgt selection.Target, computed map[string]computedKind, typed map[string]string) (*tableInfo, error) {
	ti := &tableInfo{src: t, tgtDB: tgt.DB, tgtTable: tgt.Table, quoted: sqlgen.Table(tgt.DB, tgt.Table), dml: tgt.DML, rowEnd: -1, rowStart: -1}
	for i, c := range t.Columns {
		switch computed[strings.ToLower(c.Name)] {
		case versionEndCol:
			ti.rowEnd = i
		case versioningCol:
			ti.rowStart = i
		}
	}
	if tgt.Filter != nil {
		names := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			names[i] = c.Name
		}
		var err error
		if ti.where, err = tgt.Filter.Bind(t.DB+"."+t.Name, names); err != nil {
			return nil, err
		}
	}
	pos := map[int]int{} // source index -> projected index
	if len(tgt.Columns) == 0 {
		for i, c := range t.Columns {
			if computed[strings.ToLower(c.Name)] != 0 {
				continue
			}
			pos[i] = len(ti.cols)
			ti.cols = append(ti.cols, i)
			ti.names = append(ti.names, c.Name)
		}
	} else {
		want := map[string]bool{}
		for _, c := range tgt.Columns {
			want[c] = true
		}
		for i, c := range t.Columns {
			if want[c.Name] && computed[strings.ToLower(c.Name)] != 0 {
				delete(want, c.Name) // selected, but the target computes it
				continue
			}
			if want[c.Name] {
				pos[i] = len(ti.cols)
				ti.cols = append(ti.cols, i)
				ti.names = append(ti.names, c.Name)
				delete(want, c.Name)
			}
		}
		for c := range want {
			return nil, omserr.New(omserr.IncrColumnUnknown, fmt.Sprintf("selected column %q does not exist in source table %s.%s", c, t.DB, t.Name), "fix the columns list of the selection rule")
		}
	}
	for i, c := range ti.cols {
		ty := strings.ToLower(t.Columns[c].Type)
		ti.approx = append(ti.approx, strings.HasPrefix(ty, "float") || strings.HasPrefix(ty, "double") || strings.HasPrefix(ty, "real"))
		if f := binaryText(typed[strings.ToLower(t.Columns[c].Name)]); f != nil {
			if ti.conv == nil {
				ti.conv = make([]func([]byte) (string, bool), len(ti.cols))
			}
			ti.conv[i] = f
		}
	}
	// project maps a key onto the written columns. row_end, which MariaDB adds to every unique
	// key of a system-versioned table, is left out: among current rows (all DML sees) the rest
	// of the key is unique.
	project := func(key []int) ([]int, bool) {
		out := make([]int, 0, len(key))
		for _, k := range key {
			p, ok := pos[k]
			if !ok {
				if computed[strings.ToLower(t.Columns[k].Name)] >= versioningCol {
					continue
				}
				return nil, false
			}
			out = append(out, p)
		}
		return out, len(out) > 0
	}
	if len(t.PrimaryKey) > 0 {
		k, ok := project(t.PrimaryKey)
		if !ok {
			return nil, omserr.New(omserr.IncrColumnsMissingKey, fmt.Sprintf("the column subset of %s.%s leaves out primary key columns", t.DB, t.Name), "add every primary key column to the columns list")
		}
		ti.ident = k
		ti.keys = append(ti.keys, k)
	}
	for _, uk := range t.UniqueKeys {
		k, ok := project(uk)
		if !ok {
			continue // a UK not written to the target cannot conflict there
		}
		ti.keys = append(ti.keys, k)
		if ti.ident == nil && allNotNull(t, uk) {
			ti.ident = k
		}
	}
	return ti, nil
}

func allNotNull(t *changelog.Table, key []int) bool {
	for _, k := range key {
		if t.Columns[k].Nullable {
			return false
		}
	}
	return true
}

func (ti *tableInfo) project(img []any) []any {
	return textImage(ti.projectCols(img), ti.conv)
}

func (ti *tableInfo) projectCols(img []any) []any {
	if img == nil {
		return nil
	}
	if len(ti.cols) == len(img) {
		return img
	}
	out := make([]any, len(ti.cols))
	for i, c := range ti.cols {
		if c < len(img) {
			out[i] = img[c]
		}
	}
	return out
}

// mapTxn applies selection to one source transaction. DDL is planned by planDDL.
func (m *mapper) mapTxn(ctx context.Context, t *changelog.Txn) (*mtxn, error) {
	out := &mtxn{gtid: t.GTID, commit: t.CommitTime, seq: t.Seq}
	var filtered []int // indexes into out.rows whose table has a row filter
	var filterRows []changelog.Row
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Table == nil {
			return nil, fmt.Errorf("map transaction %s: row %d has no table schema", t.GTID, i)
		}
		ti, err := m.table(ctx, r.Table)
		if err != nil {
			return nil, err
		}
		if ti == nil {
			continue
		}
		mr := mrow{t: ti, op: r.Op, before: r.Before, after: r.After}
		if ti.rowEnd >= 0 && !versionedCurrent(ti, &mr) {
			continue
		}
		if ti.where != "" {
			filtered = append(filtered, len(out.rows))
			filterRows = append(filterRows, *r)
		}
		out.rows = append(out.rows, mr)
	}
	if len(filtered) > 0 {
		if err := m.applyRowFilter(ctx, out, filtered, filterRows); err != nil {
			return nil, err
		}
	}
	// DML kinds, then projection.
	kept := out.rows[:0]
	for _, r := range out.rows {
		if r.op == 0 {
			continue // dropped by the row filter
		}
		if !r.t.dml.Has(opBit(r.op)) {
			continue
		}
		r.before = r.t.project(r.before)
		r.after = r.t.project(r.after)
		kept = append(kept, r)
	}
	out.rows = kept
	return out, nil
}

func opBit(op changelog.Op) selection.DMLOps {
	switch op {
	case changelog.OpInsert:
		return selection.OpInsert
	case changelog.OpUpdate:
		return selection.OpUpdate
	case changelog.OpDelete:
		return selection.OpDelete
	}
	return 0
}

// applyRowFilter evaluates the rules' WHERE expressions on the target server (same SQL
// semantics as Full-Import and Verify use) and rewrites each row: an UPDATE whose before-image
// matches and after-image does not becomes a DELETE, the reverse an INSERT; a row matching
// neither way is dropped (op 0).
func (m *mapper) applyRowFilter(ctx context.Context, out *mtxn, idx []int, src []changelog.Row) error {
	for n, i := range idx {
		r := &out.rows[i]
		var mb, ma bool
		var err error
		if r.before != nil {
			if mb, err = m.matches(ctx, r.t, src[n].Table, r.before); err != nil {
				return err
			}
		}
		if r.after != nil {
			if ma, err = m.matches(ctx, r.t, src[n].Table, r.after); err != nil {
				return err
			}
		}
		switch r.op {
		case changelog.OpInsert:
			if !ma {
				r.op = 0
			}
		case changelog.OpDelete:
			if !mb {
				r.op = 0
			}
		case changelog.OpUpdate:
			switch {
			case mb && ma:
			case mb:
				r.op, r.after = changelog.OpDelete, nil
			case ma:
				r.op, r.before = changelog.OpInsert, nil
			default:
				r.op = 0
			}
		}
	}
	return nil
}

// matches evaluates ti.where over one full source image: SELECT (<where>) FROM (SELECT ? AS c1,
// ...) AS t. One round trip per image; only rows of tables with a filter pay it.
func (m *mapper) matches(ctx context.Context, ti *tableInfo, src *changelog.Table, img []any) (bool, error) {
	var b strings.Builder
	b.WriteString("SELECT COALESCE((")
	b.WriteString(ti.where)
	b.WriteString("), 0) <> 0 FROM (SELECT ")
	for i, c := range src.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("? AS ")
		b.WriteString(sqlgen.QuoteIdent(c.Name))
	}
	b.WriteString(") AS `__row`")
	args := make([]any, len(src.Columns))
	copy(args, img)
	var ok bool
	if err := m.filter.QueryRowContext(ctx, b.String(), args...).Scan(&ok); err != nil {
		return false, omserr.Wrap(err, omserr.IncrRowFilter, fmt.Sprintf("cannot evaluate the row filter %s of %s.%s", ti.where, src.DB, src.Name), "fix the where expression of the selection rule (it must be valid SQL over the source columns)")
	}
	return ok, nil
}

// conflictKeys returns the keys a row change touches: every unique key of its before and after
// images, qualified by target table; a table without keys has one table-wide key, which puts
// all its changes in order.
func conflictKeys(r *mrow, dst []string) []string {
	ti := r.t
	if ti.fk {
		// the target's cascades change rows the binlog does not name: every change of a table
		// with foreign keys is applied in source order
		dst = append(dst, fkKey)
	}
	if ti.ident == nil {
		return append(dst, "T\x00"+ti.quoted)
	}
	for ki, key := range ti.keys {
		for _, img := range [2][]any{r.before, r.after} {
			if img == nil {
				continue
			}
			if k, ok := keyString(ti, ki, key, img); ok {
				dst = append(dst, k)
			}
		}
	}
	return dst
}

// keyString encodes one key value. Text is lower-cased and right-trimmed so that values equal
// under case-insensitive PAD SPACE collations conflict (over-conflicting is safe, missing a
// conflict is not). A key with a NULL part identifies nothing and returns false.
func keyString(ti *tableInfo, ki int, key []int, img []any) (string, bool) {
	var b strings.Builder
	b.WriteString(ti.quoted)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(ki))
	for _, c := range key {
		b.WriteByte(0)
		switch v := img[c].(type) {
		case nil:
			return "", false
		case []byte:
			b.WriteString(strings.ToLower(strings.TrimRight(string(v), " ")))
		case string:
			b.WriteString(strings.ToLower(strings.TrimRight(v, " ")))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case uint64:
			b.WriteString(strconv.FormatUint(v, 10))
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String(), true
}

// fkKey is the conflict key every row of a table with foreign keys has.
const fkKey = "F\x00foreign keys"

// identString is the exact identity key of an image, for compaction within a batch.
func identString(ti *tableInfo, img []any) string {
	var b strings.Builder
	for _, c := range ti.ident {
		switch v := img[c].(type) {
		case []byte:
			b.Write(v)
		case string:
			b.WriteString(v)
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case uint64:
			b.WriteString(strconv.FormatUint(v, 10))
		default:
			fmt.Fprint(&b, v)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// versionedCurrent turns a row change of a system-versioned table into what it does to the
// current rows, which is all a replica writes (the target versions them itself): an UPDATE that
// ends a row's life (the source's UPDATE and DELETE both log one) is a DELETE; changes of
// history rows are dropped (false). It sets the change's source time (r.at) from the image: the
// new row's row_start, or the ended row's row_end; the target, applying the change at that
// time, writes the same row_start and row_end as the source (TIMESTAMP versioning; transaction-
// id versioning has no time to give).
func versionedCurrent(ti *tableInfo, r *mrow) bool {
	if r.before != nil && !isMaxRowEnd(r.before[ti.rowEnd]) {
		return false
	}
	if r.after != nil && !isMaxRowEnd(r.after[ti.rowEnd]) {
		if r.op != changelog.OpUpdate {
			return false
		}
		r.at = versionTime(r.after[ti.rowEnd])
		r.op, r.after = changelog.OpDelete, nil
		return true
	}
	if r.after != nil && ti.rowStart >= 0 {
		r.at = versionTime(r.after[ti.rowStart])
	}
	return true
}

// versionTime is a TIMESTAMP versioning column's value (as the binlog decodes it: UTC text) in
// Unix microseconds; 0 for anything else.
func versionTime(v any) int64 {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	if err != nil || t.Unix() <= 0 {
		return 0
	}
	return t.UnixMicro()
}

// isMaxRowEnd reports whether a row_end value is the "still current" maximum: a TIMESTAMP of
// 2038-01-19 03:14:07.999999 (2106-02-07 06:28:15.999999 from MariaDB 11.5) UTC, or the largest
// transaction id for transaction-precise versioning.
func isMaxRowEnd(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.HasPrefix(x, "2038-01-19 03:14:07") || strings.HasPrefix(x, "2106-02-07 06:28:15")
	case []byte:
		return isMaxRowEnd(string(x))
	case uint64:
		return x == math.MaxUint64
	}
	return false
}

package incrsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/changelog"
	cfl "github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// conflictTable is where a two-way Incr-Sync records every conflict, in the same target
// transaction as the decision it took (so each is recorded exactly once, also across crashes);
// a conflict under the policy stop is recorded on its own before the task stops (the retry after
// a restart finds the same one and leaves it; a resumed direction that decides it otherwise
// replaces the stop with its decision: record). The control plane copies the rows to the MetaDB.
const conflictTable = "incr_conflict"

// ConflictTableDDL creates the conflict table in schema (Incr-Sync does at Init; tests that
// play its part too).
func ConflictTableDDL(schema string) string {
	return "CREATE TABLE IF NOT EXISTS " + sqlgen.QuoteIdent(schema) + ".`" + conflictTable + "` (" +
		" task_id VARCHAR(191) NOT NULL, gtid VARCHAR(191) NOT NULL, row_no INT NOT NULL," +
		" table_name VARCHAR(400) NOT NULL, kind VARCHAR(32) NOT NULL, row_key TEXT NOT NULL," +
		" source_image MEDIUMTEXT NULL, target_image MEDIUMTEXT NULL," +
		" source_region VARCHAR(64) NOT NULL, target_region VARCHAR(64) NOT NULL," +
		" source_commit_ts BIGINT NOT NULL, target_version VARCHAR(191) NULL," +
		" policy VARCHAR(16) NOT NULL, decision VARCHAR(16) NOT NULL," +
		" detected_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)," +
		" PRIMARY KEY (task_id, gtid, row_no), KEY (detected_at)) ENGINE=InnoDB"
}

// conflictRec is one detected conflict and what was done.
type conflictRec struct {
	gtid     string
	rowNo    int
	table    string // source db.table
	kind     cfl.Kind
	key      string
	source   string // JSON object of the source's image (after; before for a delete)
	target   string // JSON object of the target's row ("" = none)
	commit   time.Time
	version  sql.NullString
	policy   string
	decision cfl.Decision
	// skew is the clock skew that made last-writer-wins refuse (decision stop), else "".
	skew string
}

// targetRow is the target's current row for a key, compared with the source's images in SQL
// (the server compares its own types): whether it equals the before and the after image, and
// the LWW column's order against the source's (+1 source greater, 0, -1; NULL unknown).
type targetRow struct {
	found      bool
	vals       []sql.NullString
	sameBefore bool
	sameAfter  bool
	cmp        sql.NullInt64
	version    sql.NullString
}

// twoWayApplier applies one source transaction's rows with conflict detection.
type twoWayApplier struct {
	cfg    *TwoWayConfig
	task   string
	schema string // oms's schema on the target (the clock skew recorded there)
}

// sameImage is "(`a` <=> ? AND ...)" over the columns compared exactly (not FLOAT/DOUBLE).
func sameImage(ti *tableInfo, img []any) (string, []any) {
	if img == nil {
		return "0", nil
	}
	var parts []string
	var args []any
	for i, n := range ti.names {
		if ti.approx[i] {
			continue
		}
		parts = append(parts, sqlgen.QuoteIdent(n)+" <=> ?")
		args = append(args, img[i])
	}
	if len(parts) == 0 {
		return "1", nil
	}
	return "(" + strings.Join(parts, " AND ") + ")", args
}

// read locks and reads the target row whose key columns (idx) equal img's.
func (a *twoWayApplier) read(ctx context.Context, tx *sql.Tx, r *mrow, idx []int, img []any, vcol int, vimg []any) (targetRow, error) {
	ti := r.t
	var out targetRow
	sb, sbArgs := sameImage(ti, r.before)
	sa, saArgs := sameImage(ti, r.after)
	cmp, ver := "NULL", "NULL"
	var cmpArgs []any
	if vcol >= 0 && vimg != nil {
		c := sqlgen.QuoteIdent(ti.names[vcol])
		cmp, ver = "(? > "+c+") - (? < "+c+")", "CAST("+c+" AS CHAR)"
		cmpArgs = []any{vimg[vcol], vimg[vcol]}
	}
	conds := make([]string, len(idx))
	for i, c := range idx {
		conds[i] = sqlgen.QuoteIdent(ti.names[c]) + " = ?"
	}
	q := "SELECT " + sqlgen.ColumnList(ti.names) + ", " + sb + ", " + sa + ", " + cmp + ", " + ver + " FROM " + ti.quoted +
		" WHERE " + strings.Join(conds, " AND ") + " LIMIT 1 FOR UPDATE"
	args := append(append(append(append([]any{}, sbArgs...), saArgs...), cmpArgs...), pick(img, idx)...)
	out.vals = make([]sql.NullString, len(ti.names))
	dest := make([]any, 0, len(ti.names)+4)
	for i := range out.vals {
		dest = append(dest, &out.vals[i])
	}
	var sameB, sameA sql.NullBool
	dest = append(dest, &sameB, &sameA, &out.cmp, &out.version)
	err := tx.QueryRowContext(ctx, q, args...).Scan(dest...)
	if err == sql.ErrNoRows {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read the target row of %s for conflict detection: %w", ti.quoted, err)
	}
	out.found, out.sameBefore, out.sameAfter = true, sameB.Bool, sameA.Bool
	return out, nil
}

// collision finds the target row that the source's after image collides with on a unique key
// other than the identity.
func (a *twoWayApplier) collision(ctx context.Context, tx *sql.Tx, r *mrow, vcol int) (targetRow, []int, error) {
	for _, key := range r.t.keys {
		if slices.Equal(key, r.t.ident) {
			continue
		}
		null := false
		for _, c := range key {
			null = null || r.after[c] == nil
		}
		if null {
			continue
		}
		row, err := a.read(ctx, tx, r, key, r.after, vcol, r.after)
		if err != nil || row.found {
			return row, key, err
		}
	}
	return targetRow{}, nil, nil
}

// apply applies row rowNo of transaction t: without conflict as the source says; with one, as
// the table's policy decides. It returns the conflict (nil: none).
func (a *twoWayApplier) apply(ctx context.Context, tx *sql.Tx, r *mrow, t *mtxn, rowNo int) (*conflictRec, error) {
	ti := r.t
	if ti.ident == nil {
		return nil, applyRow(ctx, tx, r, t.gtid, false) // no key: no identity to detect conflicts on
	}
	rule := a.cfg.Conflicts.RuleFor(ti.src.DB, ti.src.Name)
	vcol := -1
	if rule.Policy == cfl.LWW {
		if vcol = slices.Index(ti.names, rule.Column); vcol < 0 {
			return nil, omserr.New(omserr.TwoWayConfigInvalid, fmt.Sprintf("last-writer-wins column %s is not a column of %s", rule.Column, ti.quoted),
				"name an existing version or timestamp column in the table's conflict rule")
		}
	}
	keyImg, vimg := r.before, r.after
	switch r.op {
	case changelog.OpInsert:
		keyImg = r.after
	case changelog.OpDelete:
		vimg = r.before
	}
	cur, err := a.read(ctx, tx, r, ti.ident, keyImg, vcol, vimg)
	if err != nil {
		return nil, err
	}
	var kind cfl.Kind
	switch {
	case r.op == changelog.OpInsert && !cur.found, r.op == changelog.OpUpdate && cur.found && cur.sameBefore,
		r.op == changelog.OpDelete && cur.found && cur.sameBefore:
		// as the source expects: apply; only a unique key of the new image can still collide
		err := a.write(ctx, tx, r, cur)
		if mysqlconn.ErrNumber(err) != 1062 {
			return nil, wrapRowErr(err, r, t.gtid)
		}
		coll, key, cerr := a.collision(ctx, tx, r, vcol)
		if cerr != nil {
			return nil, cerr
		}
		if !coll.found {
			return nil, wrapRowErr(err, r, t.gtid)
		}
		return a.decide(ctx, tx, r, t, rowNo, rule, cfl.UniqueCollision, coll, func() error {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+ti.quoted+" WHERE "+keyCond(ti, key), pick(r.after, key)...); err != nil {
				return err
			}
			return a.write(ctx, tx, r, cur)
		})
	case r.op != changelog.OpDelete && cur.found && cur.sameAfter:
		return nil, nil // the target already is what the source says
	case r.op == changelog.OpInsert:
		kind = cfl.InsertExists
	case r.op == changelog.OpUpdate && !cur.found:
		kind = cfl.UpdateMissing
	case r.op == changelog.OpUpdate:
		kind = cfl.UpdateDiffers
	case !cur.found:
		kind = cfl.DeleteMissing
	default:
		kind = cfl.DeleteDiffers
	}
	return a.decide(ctx, tx, r, t, rowNo, rule, kind, cur, func() error { return a.take(ctx, tx, r) })
}

// write applies the row change when the target is as the source expects.
func (a *twoWayApplier) write(ctx context.Context, tx *sql.Tx, r *mrow, cur targetRow) error {
	ti := r.t
	switch r.op {
	case changelog.OpInsert:
		q, args := insertRows("INSERT", ti, [][]any{r.after})
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	case changelog.OpUpdate:
		q := "UPDATE " + ti.quoted + " SET " + setList(ti) + " WHERE " + identCond(ti)
		_, err := tx.ExecContext(ctx, q, append(append([]any{}, r.after...), pick(r.before, ti.ident)...)...)
		return err
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM "+ti.quoted+" WHERE "+identCond(ti), pick(r.before, ti.ident)...)
	return err
}

// take makes the target what the source's change says, whatever the target had: the key of
// the before image (update, delete) and of the after image (insert, update) are cleared, then
// the after image is written.
func (a *twoWayApplier) take(ctx context.Context, tx *sql.Tx, r *mrow) error {
	ti := r.t
	for _, img := range [][]any{r.before, r.after} {
		if img == nil {
			continue
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+ti.quoted+" WHERE "+identCond(ti), pick(img, ti.ident)...); err != nil {
			return err
		}
	}
	if r.after == nil {
		return nil
	}
	q, args := insertRows("INSERT", ti, [][]any{r.after})
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// decide applies the policy to a conflict: take runs when the source's change wins; a stop
// records the conflict on its own and returns TWOWAY_CONFLICT.
func (a *twoWayApplier) decide(ctx context.Context, tx *sql.Tx, r *mrow, t *mtxn, rowNo int, rule cfl.Rule, kind cfl.Kind, cur targetRow, take func() error) (*conflictRec, error) {
	c := cfl.Case{Kind: kind, SourceRegion: a.cfg.SourceRegion, TargetRegion: a.cfg.TargetRegion, Cmp: int(cur.cmp.Int64), CmpKnown: cur.cmp.Valid}
	var sk bidir.Skew
	var measured time.Time
	if rule.Policy == cfl.LWW && rule.MaxSkewMs > 0 {
		var err error
		if sk, measured, c.SkewKnown, err = bidir.ReadSkew(ctx, tx, a.schema, a.cfg.SourceRegion, a.cfg.TargetRegion); err != nil {
			return nil, err
		}
		c.Skew = sk.Abs()
	}
	d := cfl.Decide(rule, a.cfg.Conflicts.Priority, c)
	rec := &conflictRec{gtid: t.gtid, rowNo: rowNo, table: r.t.src.DB + "." + r.t.src.Name, kind: kind, key: keyText(r),
		commit: t.commit, version: cur.version, policy: rule.Policy, decision: d}
	if cfl.SkewRefused(rule, c) {
		rec.skew = fmt.Sprintf("the clocks of %s and %s differ by %.3f s (%s minus %s, ±%.3f s, measured %s), more than max_skew_ms %d",
			a.cfg.TargetRegion, a.cfg.SourceRegion, sk.Seconds, a.cfg.TargetRegion, a.cfg.SourceRegion, sk.Uncertainty, measured.Format(time.DateTime), rule.MaxSkewMs)
	}
	if rec.gtid == "" {
		rec.gtid = fmt.Sprintf("seq:%d", t.seq)
	}
	src := r.after
	if r.op == changelog.OpDelete {
		src = r.before
	}
	rec.source = imageJSON(r.t, src)
	if cur.found {
		vals := make([]any, len(cur.vals))
		for i, v := range cur.vals {
			if v.Valid {
				vals[i] = v.String
			}
		}
		rec.target = imageJSON(r.t, vals)
	}
	if d == cfl.DecideTakeSource {
		if err := take(); err != nil {
			return nil, wrapRowErr(err, r, t.gtid)
		}
	}
	return rec, nil
}

// imageJSON renders a projected row image as a JSON object of column -> value (text, or hex for
// bytes that are not readable text; null for NULL).
func imageJSON(ti *tableInfo, img []any) string {
	if img == nil {
		return ""
	}
	m := make(map[string]any, len(img))
	for i, v := range img {
		switch x := v.(type) {
		case nil:
			m[ti.names[i]] = nil
		case []byte:
			m[ti.names[i]] = bytesText(x, ti.src.Columns[ti.cols[i]].Charset)
		case string:
			m[ti.names[i]] = x
		default:
			m[ti.names[i]] = fmt.Sprint(x)
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// keyCond is "(`a` = ? AND ...)" over the columns of key.
func keyCond(ti *tableInfo, key []int) string {
	parts := make([]string, len(key))
	for i, c := range key {
		parts[i] = sqlgen.QuoteIdent(ti.names[c]) + " = ?"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// record writes conflicts once each: a conflict already recorded stays as it was, except one
// recorded as a stop, which a resumed direction decided (the operator changed the policy, the
// clock skew came within the bound): its record takes the decision, the target row it saw and
// the time of the decision. A transaction commits once, so a decision is recorded once.
func (a *twoWayApplier) record(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, schema string, recs []*conflictRec) error {
	if len(recs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + sqlgen.QuoteIdent(schema) + ".`" + conflictTable + "` (task_id, gtid, row_no, table_name, kind, row_key," +
		" source_image, target_image, source_region, target_region, source_commit_ts, target_version, policy, decision) VALUES ")
	args := make([]any, 0, 14*len(recs))
	for i, c := range recs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + sqlgen.Placeholders(14) + ")")
		args = append(args, a.task, c.gtid, c.rowNo, c.table, string(c.kind), c.key, nullIfEmpty(c.source), nullIfEmpty(c.target),
			a.cfg.SourceRegion, a.cfg.TargetRegion, c.commit.Unix(), c.version, c.policy, string(c.decision))
	}
	// MariaDB assigns left to right and later terms see earlier assignments: decision goes last
	resolved := "decision = 'stop' AND VALUES(decision) <> 'stop'"
	b.WriteString(" ON DUPLICATE KEY UPDATE")
	for _, col := range []string{"kind", "target_image", "target_version", "policy"} {
		b.WriteString(" " + col + " = IF(" + resolved + ", VALUES(" + col + "), " + col + "),")
	}
	b.WriteString(" detected_at = IF(" + resolved + ", CURRENT_TIMESTAMP(6), detected_at), decision = IF(" + resolved + ", VALUES(decision), decision)")
	if _, err := ex.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("record %d conflicts: %w", len(recs), err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stopError is the error of a conflict under the policy stop, or of one last-writer-wins
// refused for the clock skew.
func (c *conflictRec) stopError(cfg *TwoWayConfig) error {
	if c.skew != "" {
		return omserr.New(omserr.TwoWayClockSkew,
			fmt.Sprintf("conflict %s on %s key %s at source GTID %s (from region %s into %s): last-writer-wins refused to decide: %s",
				c.kind, c.table, c.key, c.gtid, cfg.SourceRegion, cfg.TargetRegion, c.skew),
			"synchronise the clocks of both regions' database servers (NTP) and resume once the project shows a smaller skew (measured every 30 s); or raise maxSkewMs of the table's rule, or skip the transaction (oms project skip <project> --gtid "+c.gtid+")")
	}
	return omserr.New(omserr.TwoWayConflict,
		fmt.Sprintf("conflict %s on %s key %s at source GTID %s (from region %s into %s): the policy of the table is stop",
			c.kind, c.table, c.key, c.gtid, cfg.SourceRegion, cfg.TargetRegion),
		"see the conflict (oms project conflicts <project>), make the row right in both regions, then skip the transaction (oms project skip <project> --gtid "+c.gtid+
			") or set another conflict policy for the table, and resume")
}

// applyTwoWay applies a batch (consecutive whole source transactions, atomic_txns) with
// conflict detection per source transaction and records its conflicts in the same target
// transaction. A stop records on its own and fails; in a batch of several transactions it first
// has the batch redone one transaction at a time (errStrictMismatch), so every transaction
// before the conflicting one is applied when the task stops.
func (w *worker) applyTwoWay(ctx context.Context, tx *sql.Tx, b *batch, nodes []*node) ([]*conflictRec, error) {
	a := &twoWayApplier{cfg: w.twoWay, task: w.cp.task, schema: w.cp.schema}
	var recs []*conflictRec
	for _, n := range nodes {
		for i := range n.t.rows {
			if n.t.idempotent {
				if err := applyRow(ctx, tx, &n.t.rows[i], n.t.gtid, true); err != nil {
					return nil, err
				}
				continue
			}
			c, err := a.apply(ctx, tx, &n.t.rows[i], n.t, i)
			if err != nil {
				return nil, err
			}
			if c == nil {
				continue
			}
			if c.decision == cfl.DecideStop {
				if len(b.nodes) > 1 {
					return nil, errStrictMismatch
				}
				if err := a.record(ctx, w.db, w.cp.schema, []*conflictRec{c}); err != nil {
					return nil, err
				}
				w.ins.conflict(c)
				return nil, c.stopError(w.twoWay)
			}
			recs = append(recs, c)
		}
	}
	return recs, a.record(ctx, tx, w.cp.schema, recs)
}

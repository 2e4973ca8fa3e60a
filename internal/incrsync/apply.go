package incrsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Statement size limits of the compacted path: rows per multi-row statement and an estimate of
// its bytes, well under max_allowed_packet and small enough to keep lock hold times short.
const (
	stmtMaxRows  = 500
	stmtMaxBytes = 4 << 20
)

var (
	// errStrictMismatch: the compacted path saw a strict-mode conflict; the batch is redone row by
	// row to name the row (or to succeed, when the conflict was in compaction's reckoning).
	errStrictMismatch = errors.New("strict mode mismatch in compacted batch")
	// errCommitUnknown wraps an error of COMMIT itself: the transaction may or may not be durable.
	errCommitUnknown = errors.New("commit outcome unknown")
)

// worker applies batches on its own target connection (one at a time, from the pool).
type worker struct {
	id      int
	db      *sql.DB
	cp      *checkpointStore
	sched   *scheduler
	log     *slog.Logger
	audit   bool
	retry   time.Duration
	pending map[string]bool // DDL GTIDs that a crash may have left half-done
	ins     *instruments
	seq     uint64
	// twoWay is set for one direction of an active-active pair: DDL carries the echo marker and
	// rows are applied with conflict detection.
	twoWay *TwoWayConfig
}

// run applies batches until ctx ends or the scheduler is drained after a failure. A failed
// batch is reported to the scheduler, not returned: the other workers (and this one) still
// apply everything that arrived before it, so a stop leaves the target at a clean prefix.
func (w *worker) run(ctx context.Context) error {
	for {
		b, err := w.sched.take(ctx, w.id)
		if err != nil {
			return err
		}
		start := time.Now()
		err = w.applyWithRetry(ctx, b, false)
		if errors.Is(err, errStrictMismatch) {
			// a strict conflict in a merged batch: apply its source transactions one by one, row
			// by row, so every transaction before the conflicting one is applied and the error
			// names the exact row
			for i, n := range b.nodes {
				// ordered mode: a part of the group may depend on uncommitted groups; one at a
				// time, in its turn
				sub := &batch{worker: b.worker, nodes: []*node{n}, rows: n.rows, serial: w.sched.ordered}
				if err = w.applyWithRetry(ctx, sub, true); err != nil {
					b.nodes = b.nodes[i:]
					break
				}
				w.ins.applied(sub, time.Since(start))
				w.sched.commit(sub)
			}
			if err == nil {
				continue
			}
		}
		if errors.Is(err, errAbandoned) {
			continue // never applied: the task stops at the earlier failure (take returns it)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.ins.failed(false)
			w.sched.fail(minIdx(b.nodes), err)
			continue
		}
		w.ins.applied(b, time.Since(start))
		w.sched.commit(b)
	}
}

// hasFK reports whether a batch changes a table with foreign keys.
func hasFK(b *batch) bool {
	for _, n := range b.nodes {
		for i := range n.t.rows {
			if n.t.rows[i].t.fk {
				return true
			}
		}
	}
	return false
}

func minIdx(nodes []*node) uint64 {
	m := nodes[0].idx
	for _, n := range nodes[1:] {
		m = min(m, n.idx)
	}
	return m
}

// applyWithRetry applies a batch, retrying retryable target errors with exponential backoff
// for up to the configured time. After an error in COMMIT it asks the checkpoint row whether
// the transaction made it, so an ambiguous commit is never applied twice.
// A strict-mode mismatch or a fatal target error in a batch of several transactions returns
// errStrictMismatch for the caller to split it.
func (w *worker) applyWithRetry(ctx context.Context, b *batch, rowMode bool) error {
	start := time.Now()
	backoff := 100 * time.Millisecond
	var token string
	for attempt := 0; ; attempt++ {
		var err error
		if token != "" {
			// the previous attempt failed in COMMIT: did it commit?
			var ok bool
			ok, err = w.cp.batchCommitted(ctx, w.db, w.id, token)
			if err == nil && ok {
				return nil
			}
			if err == nil {
				token = ""
			}
		}
		if err == nil {
			w.seq++
			tok := fmt.Sprintf("%d.%d.%d", w.id, time.Now().UnixNano(), w.seq)
			if b.nodes[0].t.ddl != nil {
				err = w.applyDDL(ctx, b, tok)
			} else {
				err = w.apply(ctx, b, tok, rowMode)
			}
			if err == nil || errors.Is(err, errAbandoned) {
				return err
			}
			if errors.Is(err, errYield) {
				// rolled back for the head group: execute again once this group is the head
				b.serial = true
				w.log.Debug("yielded to the head group", "worker", w.id, "gtid", b.nodes[0].t.gtid)
				continue
			}
			if errors.Is(err, errCommitUnknown) {
				token = tok
			}
		}
		if !rowMode && (errors.Is(err, errStrictMismatch) || omserr.CodeOf(err) == "" && !mysqlconn.Retryable(err) && !errors.Is(err, errCommitUnknown) && ctx.Err() == nil) {
			// a conflict or a fatal target error in the compacted statements: redo row by row
			// (transaction by transaction for a merged batch) to apply what precedes it and
			// name the row, table and GTID that fail
			if len(b.nodes) > 1 {
				return errStrictMismatch
			}
			rowMode = true
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !mysqlconn.Retryable(err) {
			if len(b.nodes) == 1 && b.nodes[0].t.gtid != "" {
				return &stopAt{gtid: b.nodes[0].t.gtid, err: err}
			}
			return err
		}
		if time.Since(start) > w.retry {
			return omserr.Wrap(err, omserr.IncrTargetUnavailable, fmt.Sprintf("target kept failing for %s while applying source GTID %s", time.Since(start).Round(time.Second), b.nodes[0].t.gtid),
				"check the target database and the network to it, then resume the task")
		}
		w.ins.failed(true)
		w.log.Warn("retrying after a target error", "worker", w.id, "attempt", attempt+1, "gtid", b.nodes[0].t.gtid, "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// apply writes one batch and its checkpoint in one target transaction. In ordered mode
// (atomic_txns, sched_ordered.go) it writes the group's transactions that need no earlier
// group's commit first, then, once those commits are done, the rest, and commits only in its
// turn; in READ COMMITTED, so searches take no gap locks that a waiting group would hold.
func (w *worker) apply(ctx context.Context, b *batch, token string, rowMode bool) (err error) {
	var opts *sql.TxOptions
	parts := [][]*node{b.nodes}
	if w.sched.ordered {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
		if b.serial {
			if err := w.sched.waitTurn(ctx, b, false); err != nil {
				return err
			}
		}
		early, late := w.sched.splitLate(b)
		parts = [][]*node{early, late}
	}
	tx, err := w.cp.fence.BeginTx(ctx, w.db, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	idem := false
	for _, n := range b.nodes {
		idem = idem || n.t.idempotent
	}
	if hasFK(b) {
		// foreign keys: the target's checks on, so its cascades happen; row by row in source
		// order (real UPDATEs and DELETEs, not compacted DELETE + INSERT, which would cascade
		// a delete where the source cascaded an update)
		if _, err := tx.ExecContext(ctx, "SET foreign_key_checks = 1"); err != nil {
			return err
		}
		defer func() { _, _ = tx.ExecContext(context.WithoutCancel(ctx), "SET foreign_key_checks = 0") }()
		rowMode = true
	}
	var conflicts []*conflictRec
	for i, part := range parts {
		if i > 0 {
			if err := w.sched.waitDeps(ctx, b, !b.serial); err != nil {
				return err
			}
		}
		if len(part) == 0 {
			continue
		}
		c, err := w.applyNodes(ctx, tx.Tx, b, part, rowMode, idem)
		if err != nil {
			return err
		}
		conflicts = append(conflicts, c...)
	}
	if err := w.writeCheckpoint(ctx, tx.Tx, b, token, "", true); err != nil {
		return err
	}
	if w.sched.ordered {
		if err := w.sched.waitTurn(ctx, b, !b.serial); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit batch at GTID %s: %w: %w", b.nodes[len(b.nodes)-1].t.gtid, errCommitUnknown, err)
	}
	for _, c := range conflicts {
		w.ins.conflict(c)
	}
	return nil
}

// applyNodes writes nodes (all of batch b, or a part of it in ordered mode) in tx.
func (w *worker) applyNodes(ctx context.Context, tx *sql.Tx, b *batch, nodes []*node, rowMode, idem bool) ([]*conflictRec, error) {
	if w.twoWay != nil {
		return w.applyTwoWay(ctx, tx, b, nodes)
	}
	if rowMode {
		for _, n := range nodes {
			for i := range n.t.rows {
				if err := applyRow(ctx, tx, &n.t.rows[i], n.t.gtid, n.t.idempotent); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	}
	return nil, applyCompacted(ctx, tx, nodes, idem)
}

func (w *worker) writeCheckpoint(ctx context.Context, tx *sql.Tx, b *batch, token, pendingDDL string, includeBatch bool) error {
	c := w.sched.checkpointFor(b, includeBatch)
	last := b.nodes[len(b.nodes)-1].t
	row := cpRow{worker: w.id, lw: c.lw, applied: encodeGTIDList(c.applied), lastGTID: last.gtid,
		lastCommit: last.commit.Unix(), pendingDDL: pendingDDL, token: token}
	if includeBatch {
		row.txns = len(b.nodes)
	}
	if err := w.cp.write(ctx, tx, row); err != nil {
		return err
	}
	if w.audit && includeBatch {
		gtids := make([]string, 0, len(b.nodes))
		for _, n := range b.nodes {
			if n.t.gtid != "" {
				gtids = append(gtids, n.t.gtid)
			}
		}
		return w.cp.writeAudit(ctx, tx, w.id, gtids)
	}
	return nil
}

// tableChanges are the compacted changes of one table in a batch.
type tableChanges struct {
	ti     *tableInfo
	states map[string]*keyState
	order  []*keyState
	plain  []rowRef // tables without identity: rows in order
}

type rowRef struct {
	r    *mrow
	gtid string
	idem bool
}

// keyState is one identity key's fate in a batch: whether the row existed before the batch (as
// its first change says) and its final image (nil: deleted).
type keyState struct {
	pre   bool
	ident []any
	final []any
}

// applyCompacted folds the batch per identity key and writes, per table, one DELETE of every
// key that existed before and one INSERT (REPLACE when idempotent) of the final rows, as
// multi-row statements. Deleting first makes unique-key swaps and primary key changes safe.
func applyCompacted(ctx context.Context, tx *sql.Tx, nodes []*node, idem bool) error {
	var tables []*tableChanges
	byTable := map[*tableInfo]*tableChanges{}
	for _, n := range nodes {
		for i := range n.t.rows {
			r := &n.t.rows[i]
			tc := byTable[r.t]
			if tc == nil {
				tc = &tableChanges{ti: r.t, states: map[string]*keyState{}}
				byTable[r.t] = tc
				tables = append(tables, tc)
			}
			if r.t.ident == nil || r.t.rowStart >= 0 {
				// no key, or system-versioned (each change at its own time): row by row in order
				tc.plain = append(tc.plain, rowRef{r, n.t.gtid, n.t.idempotent})
				continue
			}
			tc.fold(r)
		}
	}
	for _, tc := range tables {
		for _, p := range tc.plain {
			if err := applyRow(ctx, tx, p.r, p.gtid, p.idem); err != nil {
				return err
			}
		}
		if err := tc.write(ctx, tx, idem); err != nil {
			return err
		}
	}
	return nil
}

func (tc *tableChanges) get(img []any, existed bool) *keyState {
	k := identString(tc.ti, img)
	st := tc.states[k]
	if st == nil {
		st = &keyState{pre: existed, ident: pick(img, tc.ti.ident)}
		tc.states[k] = st
		tc.order = append(tc.order, st)
	}
	return st
}

func (tc *tableChanges) fold(r *mrow) {
	switch r.op {
	case changelog.OpInsert:
		tc.get(r.after, false).final = r.after
	case changelog.OpDelete:
		tc.get(r.before, true).final = nil
	case changelog.OpUpdate:
		if identString(tc.ti, r.before) == identString(tc.ti, r.after) {
			tc.get(r.before, true).final = r.after
			return
		}
		tc.get(r.before, true).final = nil
		tc.get(r.after, false).final = r.after
	}
}

func pick(img []any, idx []int) []any {
	out := make([]any, len(idx))
	for i, c := range idx {
		out[i] = img[c]
	}
	return out
}

func (tc *tableChanges) write(ctx context.Context, tx *sql.Tx, idem bool) error {
	if len(tc.order) == 0 {
		return nil
	}
	ti := tc.ti
	var del [][]any
	var ins [][]any
	for _, st := range tc.order {
		if idem || st.pre {
			del = append(del, st.ident)
		}
		if st.final != nil {
			ins = append(ins, st.final)
		}
	}
	for start := 0; start < len(del); start += stmtMaxRows {
		chunk := del[start:min(start+stmtMaxRows, len(del))]
		q, args := deleteByKeys(ti, chunk)
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("delete %d rows of %s: %w", len(chunk), ti.quoted, err)
		}
		if !idem {
			if n, _ := res.RowsAffected(); n != int64(len(chunk)) {
				return errStrictMismatch
			}
		}
	}
	verb := "INSERT"
	if idem {
		verb = "REPLACE"
	}
	for start := 0; start < len(ins); {
		end, size := start, 0
		for end < len(ins) && end-start < stmtMaxRows && size < stmtMaxBytes {
			size += approxSize(ins[end])
			end++
		}
		chunk := ins[start:end]
		q, args := insertRows(verb, ti, chunk)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			if mysqlconn.ErrNumber(err) == 1062 && !idem {
				return errStrictMismatch
			}
			return fmt.Errorf("%s %d rows into %s: %w", strings.ToLower(verb), len(chunk), ti.quoted, err)
		}
		start = end
	}
	return nil
}

func approxSize(img []any) int {
	n := 0
	for _, v := range img {
		switch x := v.(type) {
		case []byte:
			n += len(x) + 4
		case string:
			n += len(x) + 4
		default:
			n += 12
		}
	}
	return n
}

func insertRows(verb string, ti *tableInfo, rows [][]any) (string, []any) {
	var b strings.Builder
	b.WriteString(verb)
	b.WriteString(" INTO ")
	b.WriteString(ti.quoted)
	b.WriteString(" (")
	b.WriteString(sqlgen.ColumnList(ti.names))
	b.WriteString(") VALUES ")
	one := "(" + sqlgen.Placeholders(len(ti.names)) + ")"
	args := make([]any, 0, len(rows)*len(ti.names))
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
		args = append(args, r...)
	}
	return b.String(), args
}

func deleteByKeys(ti *tableInfo, keys [][]any) (string, []any) {
	var b strings.Builder
	b.WriteString("DELETE FROM ")
	b.WriteString(ti.quoted)
	b.WriteString(" WHERE ")
	args := make([]any, 0, len(keys)*len(ti.ident))
	if len(ti.ident) == 1 {
		b.WriteString(sqlgen.QuoteIdent(ti.names[ti.ident[0]]))
		b.WriteString(" IN (")
		b.WriteString(sqlgen.Placeholders(len(keys)))
		b.WriteString(")")
		for _, k := range keys {
			args = append(args, k[0])
		}
		return b.String(), args
	}
	cond := identCond(ti)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(cond)
		args = append(args, k...)
	}
	return b.String(), args
}

// identCond is "(`a` = ? AND `b` = ?)" over the identity key.
func identCond(ti *tableInfo) string {
	parts := make([]string, len(ti.ident))
	for i, c := range ti.ident {
		parts[i] = sqlgen.QuoteIdent(ti.names[c]) + " = ?"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// applyRow applies one row change with its own statement: the path of tables without a key,
// of strict-mode diagnosis and of atomic single-row checks. Strict mode fails on an INSERT of an
// existing row and an UPDATE or DELETE of a missing one; idempotent mode repairs.
func applyRow(ctx context.Context, tx *sql.Tx, r *mrow, gtid string, idem bool) error {
	ti := r.t
	if r.at > 0 {
		// a system-versioned table's change at the source's time (our own integer, not data)
		if _, err := tx.ExecContext(ctx, "SET "+timestampSet(r.at)); err != nil {
			return wrapRowErr(err, r, gtid)
		}
		defer func() { _, _ = tx.ExecContext(context.WithoutCancel(ctx), "SET timestamp = DEFAULT") }()
	}
	exec := func(q string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if n := mysqlconn.ErrNumber(err); ti.fk && (n == 1451 || n == 1452) {
			// the source allowed it, so it ran with foreign_key_checks=0 there (which also
			// cascades nothing): the same here, for this statement
			res, err = execNoFKChecks(ctx, tx, q, args...)
		}
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		return n, nil
	}
	switch r.op {
	case changelog.OpInsert:
		q, args := insertRows("INSERT", ti, [][]any{r.after})
		if idem && ti.ident != nil {
			q, args = repairRow(ti, r.after)
		}
		if _, err := exec(q, args...); err != nil {
			if mysqlconn.ErrNumber(err) == 1062 && !idem {
				return conflict(r, gtid, "the row already exists")
			}
			return wrapRowErr(err, r, gtid)
		}
	case changelog.OpUpdate:
		where, wargs := rowWhere(ti, r.before, true)
		q := "UPDATE " + ti.quoted + " SET " + setList(ti) + " WHERE " + where
		args := append(append([]any{}, r.after...), wargs...)
		n, err := exec(q, args...)
		if err == nil && n == 0 && ti.hasApprox() {
			where, wargs = rowWhere(ti, r.before, false)
			n, err = exec("UPDATE "+ti.quoted+" SET "+setList(ti)+" WHERE "+where, append(append([]any{}, r.after...), wargs...)...)
		}
		if err != nil && !(idem && mysqlconn.ErrNumber(err) == 1062) {
			return wrapRowErr(err, r, gtid)
		}
		if err == nil && n > 0 {
			return nil
		}
		if !idem {
			return conflict(r, gtid, "the row to update does not exist")
		}
		if ti.ident == nil {
			q, args := insertRows("INSERT", ti, [][]any{r.after})
			_, err = exec(q, args...)
			return wrapRowErr(err, r, gtid)
		}
		// idempotent: make the row what the source says
		if _, err := exec("DELETE FROM "+ti.quoted+" WHERE "+where, wargs...); err != nil {
			return wrapRowErr(err, r, gtid)
		}
		q, args = repairRow(ti, r.after)
		_, err = exec(q, args...)
		return wrapRowErr(err, r, gtid)
	case changelog.OpDelete:
		where, wargs := rowWhere(ti, r.before, true)
		n, err := exec("DELETE FROM "+ti.quoted+" WHERE "+where, wargs...)
		if err == nil && n == 0 && ti.hasApprox() {
			where, wargs = rowWhere(ti, r.before, false)
			n, err = exec("DELETE FROM "+ti.quoted+" WHERE "+where, wargs...)
		}
		if err != nil {
			return wrapRowErr(err, r, gtid)
		}
		if n == 0 && !idem {
			return conflict(r, gtid, "the row to delete does not exist")
		}
	}
	return nil
}

// repairRow is the idempotent write of a row: REPLACE, or for a table with foreign keys INSERT
// ... ON DUPLICATE KEY UPDATE, since REPLACE deletes the old row first, which would cascade to
// its children on the target.
func repairRow(ti *tableInfo, img []any) (string, []any) {
	if !ti.fk {
		return insertRows("REPLACE", ti, [][]any{img})
	}
	q, args := insertRows("INSERT", ti, [][]any{img})
	set := make([]string, len(ti.names))
	for i, n := range ti.names {
		set[i] = sqlgen.QuoteIdent(n) + " = VALUES(" + sqlgen.QuoteIdent(n) + ")"
	}
	return q + " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", "), args
}

// execNoFKChecks runs one statement with foreign_key_checks=0 in a transaction that has them on.
func execNoFKChecks(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if _, err := tx.ExecContext(ctx, "SET foreign_key_checks = 0"); err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if _, err2 := tx.ExecContext(ctx, "SET foreign_key_checks = 1"); err == nil && err2 != nil {
		return nil, err2
	}
	return res, err
}

func wrapRowErr(err error, r *mrow, gtid string) error {
	if err == nil {
		return nil
	}
	if mysqlconn.Retryable(err) {
		return err
	}
	return fatalRow(err, r, gtid)
}

// hasApprox reports whether a keyless table's row match has FLOAT/DOUBLE columns to leave out
// on a second try.
func (ti *tableInfo) hasApprox() bool {
	if ti.ident != nil {
		return false
	}
	for _, a := range ti.approx {
		if a {
			return true
		}
	}
	return false
}

func setList(ti *tableInfo) string {
	parts := make([]string, len(ti.names))
	for i, n := range ti.names {
		parts[i] = sqlgen.QuoteIdent(n) + " = ?"
	}
	return strings.Join(parts, ", ")
}

// rowWhere identifies a row by its identity key, or for tables without one by every column of
// the before-image (NULL-safe) with LIMIT 1. FLOAT/DOUBLE columns are matched by their exact
// binlog value when withApprox (the target stores the same bits), else left out: the fallback
// when a value does not compare exactly (a FLOAT(M,D) rounded differently), which may match
// another row that differs only there.
func rowWhere(ti *tableInfo, img []any, withApprox bool) (string, []any) {
	if ti.ident != nil {
		return identCond(ti), pick(img, ti.ident)
	}
	var parts []string
	var args []any
	for i, n := range ti.names {
		if ti.approx[i] && !withApprox {
			continue
		}
		parts = append(parts, sqlgen.QuoteIdent(n)+" <=> ?")
		args = append(args, img[i])
	}
	if len(parts) == 0 {
		parts = append(parts, "1=1")
	}
	return strings.Join(parts, " AND ") + " LIMIT 1", args
}

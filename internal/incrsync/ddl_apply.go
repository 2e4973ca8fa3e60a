package incrsync

import (
	"context"
	"fmt"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
)

// ddlRedoTolerated are errors of a DDL that a crash may have left already applied: when the
// checkpoint says the DDL was pending, they mean "done before" and are not failures.
var ddlRedoTolerated = map[uint16]bool{
	1050: true, // table already exists
	1051: true, // unknown table
	1054: true, // unknown column
	1060: true, // duplicate column name
	1061: true, // duplicate key name
	1068: true, // multiple primary key
	1091: true, // can't drop; check that it exists
	1146: true, // table doesn't exist
	1176: true, // key doesn't exist
}

// applyDDL runs a DDL barrier: a checkpoint row marks it pending (fenced), the statements run
// (DDL commits implicitly, it cannot share a transaction with the checkpoint), then a second
// checkpoint row marks it applied. A crash between the two redoes the DDL on restart,
// tolerating the errors that mean it was already done.
func (w *worker) applyDDL(ctx context.Context, b *batch, token string) error {
	n := b.nodes[0]
	plan := n.t.ddl
	if plan.fail != nil {
		if plan.noop == nil {
			return plan.fail
		}
		noop, err := plan.noop(ctx, w.db)
		if err != nil {
			return err
		}
		if !noop {
			return plan.fail
		}
		w.log.Info("DDL not applied: IF [NOT] EXISTS makes it a no-op on the target", "gtid", n.t.gtid)
		plan = &ddlPlan{}
	}
	mark := func(pending string, include bool, tok string) error {
		tx, err := w.cp.fence.Begin(ctx, w.db)
		if err != nil {
			return err
		}
		if include {
			// the rows of a CREATE TABLE ... SELECT commit with the mark that says "applied":
			// exactly once, also when a crash makes the DDL run again
			for i := range n.t.rows {
				if err := applyRow(ctx, tx.Tx, &n.t.rows[i], n.t.gtid, n.t.idempotent); err != nil {
					_ = tx.Rollback()
					return err
				}
			}
		}
		if err := w.writeCheckpoint(ctx, tx.Tx, b, tok, pending, include); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit DDL checkpoint at GTID %s: %w: %w", n.t.gtid, errCommitUnknown, err)
		}
		return nil
	}
	if len(plan.stmts) > 0 {
		// an unknown outcome of this pending mark is harmless: a retry writes it again
		if err := mark(n.t.gtid, false, ""); err != nil {
			return err
		}
		conn, err := w.cp.fence.Conn(ctx, w.db) // recorded: a successor can end a frozen DDL too
		if err != nil {
			return fmt.Errorf("connect for DDL: %w", err)
		}
		defer conn.Close()
		redo := w.pending[n.t.gtid]
		for _, stmt := range plan.stmts {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				if redo && ddlRedoTolerated[mysqlconn.ErrNumber(err)] {
					w.log.Warn("DDL was already applied before a restart", "gtid", n.t.gtid, "stmt", stmt, "err", err)
					continue
				}
				if mysqlconn.Retryable(err) {
					// the pending mark is written: a retry redoes the DDL tolerantly
					w.pending[n.t.gtid] = true
					return err
				}
				return omserr.Wrap(err, omserr.IncrDDLFailed, fmt.Sprintf("DDL at source GTID %s failed on the target (error %d): %s", n.t.gtid, mysqlconn.ErrNumber(err), stmt),
					fmt.Sprintf("fix the target so the statement can run and retry (oms project retry <project>), or apply the change by hand and skip it: oms project skip <project> --gtid %s", n.t.gtid))
			}
		}
		w.pending[n.t.gtid] = true // from here a retry of the final mark must not fail on redo
		w.log.Info("DDL applied", "gtid", n.t.gtid, "kind", plan.kind)
	}
	return mark("", true, token)
}

package incrsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/changelog"

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
		if ss := n.t.ddlSession; ss != nil {
			restore, err := sourceSession(ctx, conn, ss)
			if err != nil {
				return err
			}
			defer restore()
		}
		redo := w.pending[n.t.gtid]
		for _, stmt := range plan.stmts {
			if w.twoWay != nil {
				stmt = bidir.DDLMarker(stmt, w.cp.task) // the opposite Store drops its echo
			}
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				if redo && ddlRedoTolerated[mysqlconn.ErrNumber(err)] {
					w.log.Warn("DDL was already applied before a restart", "gtid", n.t.gtid, "stmt", stmt, "err", err)
					continue
				}
				if mysqlconn.Retryable(err) || ctx.Err() != nil {
					// cut short, it may have run: the pending mark is written, a retry (or the
					// next start) redoes the DDL tolerantly
					w.pending[n.t.gtid] = true
					return err
				}
				// the statement failed, it was not cut short: clear the pending mark, or the next
				// start would take this same error as "done before a crash" (a CREATE TABLE over a
				// stale table, error 1050, passed as applied and the stale table stayed)
				if err := mark("", false, ""); err != nil {
					return fmt.Errorf("clear the pending mark of the failed DDL at GTID %s: %w", n.t.gtid, err)
				}
				delete(w.pending, n.t.gtid)
				return omserr.Wrap(err, omserr.IncrDDLFailed, fmt.Sprintf("DDL at source GTID %s failed on the target (error %d): %s", n.t.gtid, mysqlconn.ErrNumber(err), stmt),
					fmt.Sprintf("fix the target so the statement can run and retry (oms project retry <project>), or apply the change by hand and skip it: oms project skip <project> --gtid %s", n.t.gtid))
			}
		}
		w.pending[n.t.gtid] = true // from here a retry of the final mark must not fail on redo
		w.log.Info("DDL applied", "gtid", n.t.gtid, "kind", plan.kind)
	}
	return mark("", true, token)
}

// sourceSession makes a DDL run on the target in the source session's context from the binlog
// (sql_mode, charsets and collations, time_zone, foreign_key_checks,
// explicit_defaults_for_timestamp, and the statement's time: what CURRENT_TIMESTAMP defaults and
// ADD SYSTEM VERSIONING give existing rows), so defaults resolve as they did on the source.
// restore puts the pooled connection's own settings back.
func sourceSession(ctx context.Context, conn *sql.Conn, ss *changelog.Session) (restore func(), err error) {
	var mode, tz, cs, coll, srv string
	var fk, edt int
	if err := conn.QueryRowContext(ctx, "SELECT @@session.sql_mode, @@session.time_zone, @@session.foreign_key_checks, @@session.character_set_client, @@session.collation_connection, @@session.collation_server, @@session.explicit_defaults_for_timestamp").
		Scan(&mode, &tz, &fk, &cs, &coll, &srv, &edt); err != nil {
		return nil, fmt.Errorf("read the DDL session settings: %w", err)
	}
	sets, args := sessionSets(ss)
	restore = func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_mode = ?, time_zone = ?, foreign_key_checks = ?, character_set_client = ?, collation_connection = ?, collation_server = ?, explicit_defaults_for_timestamp = ?, timestamp = DEFAULT",
			mode, tz, fk, cs, coll, srv, edt)
	}
	if len(sets) == 0 {
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION "+strings.Join(sets, ", "), args...); err != nil {
		return nil, fmt.Errorf("set the source's session for the DDL (%v): %w", args, err)
	}
	return restore, nil
}

// sessionSets are the assignments (with their arguments) that give a target session the source
// session's context.
func sessionSets(ss *changelog.Session) (sets []string, args []any) {
	bit := map[bool]int{false: 0, true: 1}
	if ss.HasSQLMode {
		sets, args = append(sets, "sql_mode = ?"), append(args, ss.SQLMode)
	}
	if ss.ClientCharset != 0 {
		sets, args = append(sets, "character_set_client = ?", "collation_connection = ?", "collation_server = ?"),
			append(args, ss.ClientCharset, ss.ConnectionCollation, ss.ServerCollation)
	}
	if ss.TimeZone != "" {
		sets, args = append(sets, "time_zone = ?"), append(args, ss.TimeZone)
	}
	if ss.HasFlags {
		sets, args = append(sets, "foreign_key_checks = ?"), append(args, bit[ss.FKChecks])
	}
	if ss.HasExplicitDefaults {
		sets, args = append(sets, "explicit_defaults_for_timestamp = ?"), append(args, bit[ss.ExplicitDefaults])
	}
	if ss.Timestamp > 0 {
		sets = append(sets, timestampSet(ss.Timestamp))
	}
	return sets, args
}

// timestampSet is the assignment of @@timestamp to a time in Unix microseconds: a decimal literal
// (our own integer, not data), as a float would round the microseconds and a string is refused
// (1232).
func timestampSet(us int64) string {
	return fmt.Sprintf("timestamp = %d.%06d", us/1_000_000, us%1_000_000)
}

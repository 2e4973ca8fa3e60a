// Package fence keeps every writer of an older epoch off a target database without waiting on
// it. A component that writes the target (Incr-Sync, Full-Import) claims its task there with the
// epoch the CM gave it; each of its transactions reads the claim under a shared lock first, so
// once a newer epoch is registered no older writer commits again.
//
// Registering the newer epoch needs the exclusive lock on the claim row, which an older writer's
// open transaction holds in share mode. A frozen writer (SIGSTOP, paused VM, hung host with its
// TCP connections open) would hold it until it wakes or the target drops the connection. So every
// connection a writer uses is recorded with its epoch (CONNECTION_ID()) before it writes, and a
// claim first KILLs the connections of older epochs (the target rolls their transactions back)
// and waits on the claim row only briefly (innodb_lock_wait_timeout), killing again when a
// predecessor opened another connection meanwhile. When the old writer wakes, its connection is
// gone and its next transaction reads the newer epoch: it gets the fenced error and exits.
//
// Tables (in the component's own schema on the target): <name> (task_id, epoch) and
// <name>_conn (task_id, conn_id, epoch, boot): boot is the target server's start time, so a
// connection id recorded before a target restart is never taken for a live one.
package fence

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Tuning of a claim.
const (
	// LockWait bounds each wait on the claim row: a live predecessor commits well within it, a
	// frozen one is killed and the claim retried.
	LockWait = 2 * time.Second
	// ClaimTimeout bounds the whole claim; after it the component fails and its supervisor
	// restarts it.
	ClaimTimeout = 2 * time.Minute
	// bootSkew is how far two readings of the server's start time may differ (seconds).
	bootSkew = 2
	// maxKnown bounds the memory of registered connections (registering again is harmless).
	maxKnown = 4096
)

// Fence is one writer's claim on a target: task at epoch.
type Fence struct {
	code, what   string // the fenced error's code; the writer's kind for messages
	schema, name string
	claim, conns string // quoted tables
	task         string
	epoch        int64
	log          *slog.Logger

	mu    sync.Mutex
	known map[any]bool // driver connections already registered
}

// New returns the fence of task at epoch kept in table name of schema on the target; code is the
// error code a writer gets when a newer epoch owns the task (e.g. INCR_FENCED), what names the
// writer in messages.
func New(schema, name, code, what, task string, epoch int64, log *slog.Logger) *Fence {
	return &Fence{code: code, what: what, schema: schema, name: name, claim: sqlgen.Table(schema, name), conns: sqlgen.Table(schema, name+"_conn"),
		task: task, epoch: epoch, log: log, known: map[any]bool{}}
}

// Epoch is the writer's epoch.
func (f *Fence) Epoch() int64 { return f.epoch }

// Fenced is the error of a writer whose epoch cur has been passed.
func (f *Fence) Fenced(cur int64) error {
	return omserr.New(f.code, fmt.Sprintf("task %s: this %s has epoch %d but epoch %d owns the target now", f.task, f.what, f.epoch, cur),
		"nothing to do here: a newer assignment of the task runs elsewhere; this process stops without writing")
}

// Tables returns the statements creating the fence's tables (CREATE TABLE IF NOT EXISTS).
func (f *Fence) Tables() []string {
	return []string{
		"CREATE TABLE IF NOT EXISTS " + f.claim + " (task_id VARCHAR(191) NOT NULL PRIMARY KEY, epoch BIGINT NOT NULL," +
			" updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
		"CREATE TABLE IF NOT EXISTS " + f.conns + " (task_id VARCHAR(191) NOT NULL, conn_id BIGINT UNSIGNED NOT NULL, epoch BIGINT NOT NULL," +
			" boot BIGINT NOT NULL, PRIMARY KEY (task_id, conn_id)) ENGINE=InnoDB",
	}
}

// bootExpr is the target server's start time in unix seconds.
const bootExpr = "CAST(UNIX_TIMESTAMP() - (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME') AS SIGNED)"

// Claim registers this epoch on the target (the tables must exist, see Tables). Connections of
// older epochs are killed first, so an older writer's open transaction is rolled back instead of
// waited for. It fails with the fenced error when a newer epoch already claimed the task.
func (f *Fence) Claim(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, ClaimTimeout)
	defer cancel()
	conn, err := f.Conn(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %d", int(LockWait.Seconds()))); err != nil {
		return fmt.Errorf("claim task %s: bound the lock wait: %w", f.task, err)
	}
	// The connection goes back to the pool: give it the server's lock wait again.
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION innodb_lock_wait_timeout = DEFAULT") //nolint:errcheck // best effort; a failed reset only shortens waits
	for attempt := 1; ; attempt++ {
		killed, err := f.killPredecessors(ctx, conn)
		if err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, "INSERT INTO "+f.claim+" (task_id, epoch) VALUES (?, ?) ON DUPLICATE KEY UPDATE epoch = GREATEST(epoch, VALUES(epoch))", f.task, f.epoch)
		if err == nil {
			break
		}
		if !lockWait(err) {
			return fmt.Errorf("register epoch %d of task %s: %w", f.epoch, f.task, err)
		}
		if ctx.Err() != nil {
			return omserr.Wrap(err, omserr.FenceClaimTimeout, fmt.Sprintf("task %s: epoch %d could not take over the target in %s: the claim row stays locked", f.task, f.epoch, ClaimTimeout),
				"another session holds "+f.claim+" for task "+f.task+"; find it in information_schema.innodb_trx on the target and end it")
		}
		f.log.Warn("fence: the claim row is still locked; killing the predecessor's connections again", "task", f.task, "epoch", f.epoch, "attempt", attempt, "killed", killed)
	}
	var cur int64
	if err := conn.QueryRowContext(ctx, "SELECT epoch FROM "+f.claim+" WHERE task_id = ?", f.task).Scan(&cur); err != nil {
		return fmt.Errorf("read epoch of task %s: %w", f.task, err)
	}
	if cur != f.epoch {
		return f.Fenced(cur)
	}
	return nil
}

// killPredecessors kills the recorded connections of older epochs of the task (those of the
// current server life) and forgets them.
func (f *Fence) killPredecessors(ctx context.Context, conn *sql.Conn) (int, error) {
	rows, err := conn.QueryContext(ctx, "SELECT conn_id, boot, "+bootExpr+" FROM "+f.conns+" WHERE task_id = ? AND epoch < ?", f.task, f.epoch)
	if err != nil {
		return 0, fmt.Errorf("read the connections of older writers of task %s: %w", f.task, err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		var boot, now int64
		if err := rows.Scan(&id, &boot, &now); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read the connections of older writers of task %s: %w", f.task, err)
		}
		if d := boot - now; d >= -bootSkew && d <= bootSkew {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read the connections of older writers of task %s: %w", f.task, err)
	}
	killed := 0
	for _, id := range ids {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
		switch {
		case err == nil:
			killed++
			f.log.Warn("fence: killed a connection of an older writer (its open transaction rolls back)", "task", f.task, "epoch", f.epoch, "connection", id)
		case mysqlconn.ErrNumber(err) == errUnknownThread:
		case mysqlconn.ErrNumber(err) == errNotOwner:
			return killed, omserr.Wrap(err, omserr.FenceKillDenied, fmt.Sprintf("task %s: cannot end connection %d of an older writer on the target", f.task, id),
				"let every oms component use the same target user, or grant that user CONNECTION ADMIN (MySQL 8) / CONNECTION ADMIN or SUPER (MariaDB)")
		default:
			return killed, fmt.Errorf("end connection %d of an older writer of task %s: %w", id, f.task, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+f.conns+" WHERE task_id = ? AND epoch < ?", f.task, f.epoch); err != nil && !lockWait(err) {
		return killed, fmt.Errorf("forget the connections of older writers of task %s: %w", f.task, err)
	}
	return killed, nil
}

// MySQL error numbers.
const (
	errUnknownThread = 1094
	errNotOwner      = 1095
	errLockWait      = 1205
	errDeadlock      = 1213
)

func lockWait(err error) bool {
	n := mysqlconn.ErrNumber(err)
	return n == errLockWait || n == errDeadlock
}

// Conn takes a connection from db and records it as this epoch's (once per connection), so a
// successor can end it. Close it to give it back to the pool.
func (f *Fence) Conn(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	var key any
	_ = conn.Raw(func(dc any) error { key = dc; return nil })
	f.mu.Lock()
	known := f.known[key]
	f.mu.Unlock()
	if known {
		return conn, nil
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+f.conns+" (task_id, conn_id, epoch, boot) VALUES (?, CONNECTION_ID(), ?, "+bootExpr+")"+
		" ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), boot = VALUES(boot)", f.task, f.epoch); err != nil {
		conn.Close()
		return nil, fmt.Errorf("record the target connection of task %s: %w", f.task, err)
	}
	f.mu.Lock()
	if len(f.known) >= maxKnown {
		f.known = map[any]bool{}
	}
	f.known[key] = true
	f.mu.Unlock()
	return conn, nil
}

// Check reads the claim under a shared lock in tx (first statement of every writing
// transaction): it fails with the fenced error when a newer epoch owns the task, and keeps a
// successor's claim waiting until tx ends (or a successor kills the connection).
func (f *Fence) Check(ctx context.Context, tx *sql.Tx) error {
	var cur int64
	if err := tx.QueryRowContext(ctx, "SELECT epoch FROM "+f.claim+" WHERE task_id = ? LOCK IN SHARE MODE", f.task).Scan(&cur); err != nil {
		return fmt.Errorf("check fence of task %s: %w", f.task, err)
	}
	if cur != f.epoch {
		return f.Fenced(cur)
	}
	return nil
}

// Tx is a fenced transaction on a recorded connection.
type Tx struct {
	*sql.Tx
	conn *sql.Conn
}

// Begin starts a transaction on a recorded connection and checks the claim in it.
func (f *Fence) Begin(ctx context.Context, db *sql.DB) (*Tx, error) {
	return f.BeginTx(ctx, db, nil)
}

// BeginTx is Begin with transaction options (an isolation level).
func (f *Fence) BeginTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions) (*Tx, error) {
	conn, err := f.Conn(ctx, db)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	if err := f.Check(ctx, tx); err != nil {
		_ = tx.Rollback()
		conn.Close()
		return nil, err
	}
	return &Tx{Tx: tx, conn: conn}, nil
}

// Commit commits and gives the connection back.
func (t *Tx) Commit() error {
	defer t.conn.Close()
	return t.Tx.Commit()
}

// Rollback rolls back (a no-op after Commit) and gives the connection back.
func (t *Tx) Rollback() error {
	defer t.conn.Close()
	return t.Tx.Rollback()
}

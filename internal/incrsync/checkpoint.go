package incrsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/fence"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// checkpointStore reads and writes oms's own tables on the target:
//
//	incr_fence       (task_id, epoch): the highest epoch that ever started the task (package fence)
//	incr_fence_conn  (task_id, conn_id, epoch, boot): the target connections of each epoch, which
//	                 a newer epoch kills instead of waiting for their transactions (package fence)
//	incr_checkpoint  (task_id, worker): per worker, the global low watermark it knew (GTID set),
//	                 the GTIDs above it that this worker applied, a pending DDL, a batch token
//	incr_applied     (task_id, gtid): optional audit of every applied transaction
type checkpointStore struct {
	schema string
	task   string
	epoch  int64
	fence  *fence.Fence
	upsert string
	audit  string
}

func newCheckpointStore(schema, task string, epoch int64, log *slog.Logger) *checkpointStore {
	q := sqlgen.QuoteIdent(schema)
	return &checkpointStore{
		schema: schema, task: task, epoch: epoch,
		fence: fence.New(schema, "incr_fence", omserr.IncrFenced, "incr-sync", task, epoch, log),
		upsert: "INSERT INTO " + q + ".`incr_checkpoint` (task_id, worker, epoch, low_watermark, applied, last_gtid, last_commit_ts, pending_ddl, batch_token, txns)" +
			" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), low_watermark = VALUES(low_watermark)," +
			" applied = VALUES(applied), last_gtid = VALUES(last_gtid), last_commit_ts = VALUES(last_commit_ts)," +
			" pending_ddl = VALUES(pending_ddl), batch_token = VALUES(batch_token), txns = txns + VALUES(txns)",
		audit: "INSERT INTO " + q + ".`incr_applied` (task_id, gtid, worker) VALUES ",
	}
}

// setup creates the schema and tables and registers this epoch; it fails with INCR_FENCED when
// a newer epoch already started the task. Registering kills an older writer's connections (its
// in-flight transactions roll back) instead of waiting for them, so after it returns no older
// writer can commit any more, even one that is frozen.
func (c *checkpointStore) setup(ctx context.Context, db *sql.DB) error {
	q := sqlgen.QuoteIdent(c.schema)
	stmts := append([]string{"CREATE DATABASE IF NOT EXISTS " + q}, c.fence.Tables()...)
	stmts = append(stmts,
		"CREATE TABLE IF NOT EXISTS "+q+".`incr_checkpoint` (task_id VARCHAR(191) NOT NULL, worker INT NOT NULL,"+
			" epoch BIGINT NOT NULL, low_watermark TEXT NOT NULL, applied MEDIUMTEXT NOT NULL,"+
			" last_gtid VARCHAR(191) NOT NULL DEFAULT '', last_commit_ts BIGINT NOT NULL DEFAULT 0,"+
			" pending_ddl VARCHAR(191) NOT NULL DEFAULT '', batch_token VARCHAR(64) NOT NULL DEFAULT '',"+
			" txns BIGINT NOT NULL DEFAULT 0,"+
			" updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),"+
			" PRIMARY KEY (task_id, worker)) ENGINE=InnoDB",
		"CREATE TABLE IF NOT EXISTS "+q+".`incr_applied` (task_id VARCHAR(191) NOT NULL, gtid VARCHAR(191) NOT NULL,"+
			" worker INT NOT NULL, applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"+
			" PRIMARY KEY (task_id, gtid)) ENGINE=InnoDB",
	)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return omserr.Wrap(err, omserr.IncrCheckpointSetup, "cannot create the checkpoint tables in target schema "+c.schema, "grant the target user CREATE on "+c.schema+" and check the target is writable")
		}
	}
	return c.fence.Claim(ctx, db)
}

// cpRow is one worker's checkpoint row.
type cpRow struct {
	worker     int
	lw         string // GTID set
	applied    string // encodeGTIDList
	lastGTID   string
	lastCommit int64 // unix seconds
	pendingDDL string
	token      string
	txns       int
}

func (c *checkpointStore) write(ctx context.Context, tx *sql.Tx, r cpRow) error {
	if _, err := tx.ExecContext(ctx, c.upsert, c.task, r.worker, c.epoch, r.lw, r.applied, r.lastGTID, r.lastCommit, r.pendingDDL, r.token, r.txns); err != nil {
		return fmt.Errorf("write checkpoint of worker %d: %w", r.worker, err)
	}
	return nil
}

func (c *checkpointStore) writeAudit(ctx context.Context, tx *sql.Tx, worker int, gtids []string) error {
	if len(gtids) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(c.audit)
	args := make([]any, 0, 3*len(gtids))
	for i, g := range gtids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		args = append(args, c.task, g, worker)
	}
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("record applied transactions: %w", err)
	}
	return nil
}

// recovered is the state a restart resumes from.
type recovered struct {
	lw         binlog.GTIDSet      // the highest low watermark of all workers
	applied    map[string]struct{} // GTIDs above lw applied by some worker
	pendingDDL map[string]bool
	lastCommit int64
	found      bool
}

// load reads every worker row of the task.
func (c *checkpointStore) load(ctx context.Context, db *sql.DB, flavor string) (*recovered, error) {
	rows, err := db.QueryContext(ctx, "SELECT worker, low_watermark, applied, pending_ddl, last_commit_ts FROM "+
		sqlgen.QuoteIdent(c.schema)+".`incr_checkpoint` WHERE task_id = ?", c.task)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint of task %s: %w", c.task, err)
	}
	defer rows.Close()
	rec := &recovered{applied: map[string]struct{}{}, pendingDDL: map[string]bool{}}
	rec.lw, _ = binlog.NewGTIDSet(flavor)
	var sets []binlog.GTIDSet
	for rows.Next() {
		var w int
		var lw, applied, pending string
		var last int64
		if err := rows.Scan(&w, &lw, &applied, &pending, &last); err != nil {
			return nil, fmt.Errorf("read checkpoint of task %s: %w", c.task, err)
		}
		rec.found = true
		set, err := binlog.ParseGTIDSet(flavor, lw)
		if err != nil {
			return nil, omserr.Wrap(err, omserr.IncrCheckpointCorrupt, fmt.Sprintf("checkpoint of task %s worker %d has a bad low watermark %q", c.task, w, lw), "restore the checkpoint table or restart the task from a full copy")
		}
		sets = append(sets, set)
		list, err := decodeGTIDList(applied)
		if err != nil {
			return nil, omserr.Wrap(err, omserr.IncrCheckpointCorrupt, fmt.Sprintf("checkpoint of task %s worker %d has a bad applied list", c.task, w), "restore the checkpoint table or restart the task from a full copy")
		}
		for _, g := range list {
			rec.applied[g] = struct{}{}
		}
		if pending != "" {
			rec.pendingDDL[pending] = true
		}
		rec.lastCommit = max(rec.lastCommit, last)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoint of task %s: %w", c.task, err)
	}
	// The highest watermark: watermarks of one run only grow, and each is a prefix of the same
	// log, so the one containing the others is the latest.
	for _, s := range sets {
		if s.ContainsSet(rec.lw) {
			rec.lw = s
		}
	}
	for g := range rec.applied {
		if rec.lw.Contains(g) {
			delete(rec.applied, g)
		}
	}
	return rec, nil
}

// batchCommitted tells, after an error during COMMIT, whether the worker's last transaction
// (identified by its batch token) made it.
func (c *checkpointStore) batchCommitted(ctx context.Context, db *sql.DB, worker int, token string) (bool, error) {
	var got string
	err := db.QueryRowContext(ctx, "SELECT batch_token FROM "+sqlgen.QuoteIdent(c.schema)+".`incr_checkpoint` WHERE task_id = ? AND worker = ?", c.task, worker).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return got == token, nil
}

// encodeGTIDList writes GTIDs compactly: runs of consecutive sequence numbers with the same
// prefix ("0-1-" or "uuid:") become "prefix<a>..<b>"; entries are comma-separated and sorted.
func encodeGTIDList(gtids []string) string {
	type g struct {
		prefix string
		n      uint64
	}
	var parsed []g
	var other []string
	for _, s := range gtids {
		p, n, ok := splitGTID(s)
		if !ok {
			other = append(other, s)
			continue
		}
		parsed = append(parsed, g{p, n})
	}
	sort.Slice(parsed, func(i, j int) bool {
		if parsed[i].prefix != parsed[j].prefix {
			return parsed[i].prefix < parsed[j].prefix
		}
		return parsed[i].n < parsed[j].n
	})
	var b strings.Builder
	for i := 0; i < len(parsed); {
		j := i
		for j+1 < len(parsed) && parsed[j+1].prefix == parsed[i].prefix && parsed[j+1].n <= parsed[j].n+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(parsed[i].prefix)
		b.WriteString(strconv.FormatUint(parsed[i].n, 10))
		if parsed[j].n != parsed[i].n {
			b.WriteString("..")
			b.WriteString(strconv.FormatUint(parsed[j].n, 10))
		}
		i = j + 1
	}
	sort.Strings(other)
	for _, s := range other {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// maxListExpand bounds a decoded range (a corrupt row must not allocate without limit).
const maxListExpand = 10_000_000

// decodeGTIDList is the inverse of encodeGTIDList.
func decodeGTIDList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e == "" {
			return nil, fmt.Errorf("empty entry in GTID list")
		}
		lo, hi, isRange := strings.Cut(e, "..")
		if !isRange {
			out = append(out, e)
			continue
		}
		p, a, ok := splitGTID(lo)
		if !ok {
			return nil, fmt.Errorf("bad range start %q", lo)
		}
		b, err := strconv.ParseUint(hi, 10, 64)
		if err != nil || b < a || b-a > maxListExpand || len(out)+int(b-a) > maxListExpand {
			return nil, fmt.Errorf("bad range %q", e)
		}
		for n := a; ; n++ {
			out = append(out, p+strconv.FormatUint(n, 10))
			if n == b {
				break
			}
		}
	}
	return out, nil
}

// splitGTID splits "0-1-42" into "0-1-", 42 and "uuid:42" into "uuid:", 42.
func splitGTID(s string) (string, uint64, bool) {
	i := strings.LastIndexAny(s, "-:")
	if i < 0 || i == len(s)-1 {
		return "", 0, false
	}
	if strings.Contains(s, "..") || strings.Contains(s, ",") {
		return "", 0, false
	}
	digits := s[i+1:]
	if digits[0] == '+' || (len(digits) > 1 && digits[0] == '0') {
		return "", 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return s[:i+1], n, true
}

package fullimport

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/fence"
	"github.com/omsdev/oms/internal/sqlgen"
)

// The resume state lives in the TARGET database, in schema MetaSchema (default __oms):
//
//	full_import_runs    one row per task: the source binlog position taken before the first
//	                    chunk was read, and whether the run finished.
//	full_import_chunks  the plan, one row per chunk (table, key range); done=1 is written in
//	                    the same transaction as the chunk's rows.
//
// Keeping it next to the rows is what makes a chunk atomic: the commit that makes the rows
// visible also marks the chunk done, so after kill -9 a chunk is either fully copied and marked,
// or neither, and a restart on any node (it only needs the spec) redoes exactly the unmarked ones.

// position is the source binlog position before the copy.
type position struct {
	GTID string `json:"gtid"` // @@gtid_binlog_pos (MariaDB)
	File string `json:"file"` // SHOW MASTER STATUS
	Pos  uint64 `json:"pos"`
}

func (p position) String() string {
	s := "gtid=" + p.GTID
	if p.File != "" {
		s += fmt.Sprintf(" file=%s pos=%d", p.File, p.Pos)
	}
	return s
}

// readPosition reads the source's current binlog position. With the binlog off the file is empty
// (Incr-Sync's precheck refuses such a source; a one-off copy works).
func readPosition(ctx context.Context, db *sql.DB) (position, error) {
	var p position
	var gtid sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid); err != nil {
		return p, fmt.Errorf("read source gtid_binlog_pos: %w", err)
	}
	p.GTID = gtid.String
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("show master status: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return p, fmt.Errorf("show master status: %w", err)
		}
		p.File = string(vals[0])
		fmt.Sscan(string(vals[1]), &p.Pos)
	}
	return p, rows.Err()
}

type stateStore struct {
	db     *sql.DB // target
	schema string
	task   string
	// fence keeps an older assignment of the task (a frozen or partitioned full import) from
	// writing the target once this one claimed it; every writing transaction goes through it.
	fence *fence.Fence
}

// checkFence fails with FULL_FENCED when a newer epoch owns the task; it runs before each
// step that writes outside a fenced transaction (DDL).
func (s *stateStore) checkFence(ctx context.Context) error {
	tx, err := s.fence.Begin(ctx, s.db)
	if err != nil {
		return err
	}
	return tx.Rollback()
}

func (s *stateStore) tbl(name string) string { return sqlgen.Table(s.schema, name) }

func (s *stateStore) ensure(ctx context.Context) error {
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + sqlgen.QuoteIdent(s.schema) + " DEFAULT CHARACTER SET utf8mb4",
		"CREATE TABLE IF NOT EXISTS " + s.tbl("full_import_runs") + ` (
  task_id VARCHAR(191) NOT NULL PRIMARY KEY,
  position_json TEXT NOT NULL,
  planned_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL
) ENGINE=InnoDB`,
		"CREATE TABLE IF NOT EXISTS " + s.tbl("full_import_chunks") + ` (
  task_id VARCHAR(191) NOT NULL,
  chunk_id INT NOT NULL,
  src_db VARCHAR(64) NOT NULL,
  src_table VARCHAR(64) NOT NULL,
  bounds_json LONGTEXT NOT NULL,
  est_rows BIGINT NOT NULL,
  done TINYINT NOT NULL DEFAULT 0,
  rows_copied BIGINT NOT NULL DEFAULT 0,
  bytes_copied BIGINT NOT NULL DEFAULT 0,
  finished_at DATETIME(6) NULL,
  PRIMARY KEY (task_id, chunk_id)
) ENGINE=InnoDB`,
	}
	for _, q := range append(stmts, s.fence.Tables()...) {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create resume state tables in %s: %w", s.schema, err)
		}
	}
	return s.fence.Claim(ctx, s.db)
}

// loadRun returns the recorded position, or ok=false when this task has no plan yet.
func (s *stateStore) loadRun(ctx context.Context) (pos position, finished bool, ok bool, err error) {
	var pj string
	var fin sql.NullString
	err = s.db.QueryRowContext(ctx, "SELECT position_json, finished_at FROM "+s.tbl("full_import_runs")+" WHERE task_id=?", s.task).Scan(&pj, &fin)
	if errors.Is(err, sql.ErrNoRows) {
		return pos, false, false, nil
	}
	if err != nil {
		return pos, false, false, fmt.Errorf("read full-import run state: %w", err)
	}
	if err := json.Unmarshal([]byte(pj), &pos); err != nil {
		return pos, false, false, fmt.Errorf("decode recorded position %q: %w", pj, err)
	}
	return pos, fin.Valid, true, nil
}

// bounds is the persisted key range of a chunk; values are raw bytes (base64 in JSON).
type bounds struct {
	Lower [][]byte `json:"lower,omitempty"` // inclusive; nil: from the start
	Upper [][]byte `json:"upper,omitempty"` // exclusive; nil: to the end
}

// savePlan stores the position and every chunk in one transaction: a plan is either complete or
// absent.
func (s *stateStore) savePlan(ctx context.Context, pos position, chunks []*chunk) error {
	tx, err := s.fence.Begin(ctx, s.db)
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	pj, _ := json.Marshal(pos)
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.tbl("full_import_runs")+" (task_id, position_json, planned_at) VALUES (?, ?, NOW(6))", s.task, string(pj)); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	const batch = 500
	for i := 0; i < len(chunks); i += batch {
		end := min(i+batch, len(chunks))
		var sb strings.Builder
		args := make([]any, 0, (end-i)*6)
		sb.WriteString("INSERT INTO " + s.tbl("full_import_chunks") + " (task_id, chunk_id, src_db, src_table, bounds_json, est_rows) VALUES ")
		for j, c := range chunks[i:end] {
			if j > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?)")
			bj, _ := json.Marshal(bounds{Lower: c.Lower, Upper: c.Upper})
			args = append(args, s.task, c.ID, c.T.SrcDB, c.T.SrcTable, string(bj), c.EstRows)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("save plan chunks: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save plan: commit: %w", err)
	}
	return nil
}

// loadPlan reads the chunks of this task and binds them to the discovered tables. Chunks of
// tables no longer selected are returned as orphans (counted, not copied).
func (s *stateStore) loadPlan(ctx context.Context, tables []*table) (chunks []*chunk, orphans int, err error) {
	byName := map[string]*table{}
	for _, t := range tables {
		byName[t.src()] = t
	}
	rows, err := s.db.QueryContext(ctx, "SELECT chunk_id, src_db, src_table, bounds_json, est_rows, done, rows_copied, bytes_copied FROM "+
		s.tbl("full_import_chunks")+" WHERE task_id=? ORDER BY chunk_id", s.task)
	if err != nil {
		return nil, 0, fmt.Errorf("read plan: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c := &chunk{}
		var sdb, stbl, bj string
		var done int
		if err := rows.Scan(&c.ID, &sdb, &stbl, &bj, &c.EstRows, &done, &c.RowsDone, &c.BytesDone); err != nil {
			return nil, 0, fmt.Errorf("read plan: %w", err)
		}
		var b bounds
		if err := json.Unmarshal([]byte(bj), &b); err != nil {
			return nil, 0, fmt.Errorf("read plan chunk %d: %w", c.ID, err)
		}
		c.Lower, c.Upper, c.Done = b.Lower, b.Upper, done == 1
		if c.T = byName[sdb+"."+stbl]; c.T == nil {
			orphans++
			continue
		}
		chunks = append(chunks, c)
	}
	return chunks, orphans, rows.Err()
}

// markDone marks a chunk done inside the chunk's own transaction.
func (s *stateStore) markDone(ctx context.Context, tx *sql.Tx, c *chunk, rows, bytes int64) error {
	res, err := tx.ExecContext(ctx, "UPDATE "+s.tbl("full_import_chunks")+" SET done=1, rows_copied=?, bytes_copied=?, finished_at=NOW(6) WHERE task_id=? AND chunk_id=? AND done=0",
		rows, bytes, s.task, c.ID)
	if err != nil {
		return fmt.Errorf("mark chunk %d done: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("mark chunk %d done: it is already done (another process copies this task?)", c.ID)
	}
	return nil
}

func (s *stateStore) markFinished(ctx context.Context) error {
	tx, err := s.fence.Begin(ctx, s.db)
	if err != nil {
		return fmt.Errorf("mark full import finished: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, "UPDATE "+s.tbl("full_import_runs")+" SET finished_at=NOW(6) WHERE task_id=?", s.task); err != nil {
		return fmt.Errorf("mark full import finished: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mark full import finished: %w", err)
	}
	return nil
}

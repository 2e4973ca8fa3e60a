package project

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/component"
)

// Component kinds the orchestrator creates tasks for.
const (
	KindStore      = "store"
	KindIncrSync   = "incr-sync"
	KindFullImport = "full-import"
	KindFullVerify = "full-verify"
)

// TaskSpec is the cm.tasks.spec JSON: the kind-specific component config, with passwords sealed
// ("enc:v1:..." strings the supervisor opens when it writes the 0600 spec file).
type TaskSpec struct {
	Config json.RawMessage `json:"config"`
}

// Task is one row of cm.tasks.
type Task struct {
	ID, ProjectID, Kind, Region, Host string
	Epoch                             int64
	Desired, State                    string
	Spec                              TaskSpec
	// Addr is where the component serves (the Store's consumers connect there).
	Addr      string
	Status    *component.Status
	UpdatedAt time.Time
}

// API converts a task to its wire form.
func (t Task) API() api.Component {
	c := api.Component{ID: t.ID, ProjectID: t.ProjectID, Kind: t.Kind, Region: t.Region, Host: t.Host,
		Epoch: t.Epoch, DesiredState: t.Desired, State: t.State, UpdatedAt: t.UpdatedAt}
	if st := t.Status; st != nil {
		c.Position, c.LagSeconds, c.Metrics = st.Position, st.LagSeconds, st.Metrics
		if st.Error != nil {
			c.ErrorCode, c.ErrorMessage = st.Error.Code, st.Error.Message
		}
	}
	return c
}

const taskCols = "id, project_id, kind, region, host, epoch, desired_state, state, spec, status, addr, updated_at"

// ScanTask reads one row selected with taskCols.
func scanTask(sc interface{ Scan(...any) error }) (Task, error) {
	var t Task
	var spec, status []byte
	if err := sc.Scan(&t.ID, &t.ProjectID, &t.Kind, &t.Region, &t.Host, &t.Epoch, &t.Desired, &t.State, &spec, &status, &t.Addr, &t.UpdatedAt); err != nil {
		return t, err
	}
	_ = json.Unmarshal(spec, &t.Spec)
	if len(status) > 0 && string(status) != "null" {
		var st component.Status
		if json.Unmarshal(status, &st) == nil {
			t.Status = &st
		}
	}
	return t, nil
}

// ListTasks returns tasks of a project (every task when projectID is empty); cmDB is quoted.
func ListTasks(ctx context.Context, db *sql.DB, cmDB, projectID string) ([]Task, error) {
	q := "SELECT " + taskCols + " FROM " + cmDB + ".tasks"
	var args []any
	if projectID != "" {
		q += " WHERE project_id = ?"
		args = append(args, projectID)
	}
	return queryTasks(ctx, db, q+" ORDER BY project_id, id", args...)
}

// TasksOnHost returns the tasks assigned to host (the supervisor's view).
func TasksOnHost(ctx context.Context, db *sql.DB, cmDB, host string) ([]Task, error) {
	return queryTasks(ctx, db, "SELECT "+taskCols+" FROM "+cmDB+".tasks WHERE host = ? ORDER BY id", host)
}

func queryTasks(ctx context.Context, db *sql.DB, q string, args ...any) ([]Task, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("read tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ReportStatus records what a supervisor saw of its component (state, status, serving address;
// an empty addr keeps the recorded one); it changes nothing when the task was reassigned meanwhile
// (host or epoch differ): a stale supervisor cannot overwrite the new owner's report. It returns
// whether the row was still ours.
func ReportStatus(ctx context.Context, db *sql.DB, cmDB, id, host string, epoch int64, state, addr string, restarts int, st *component.Status) (bool, error) {
	var raw []byte
	if st != nil {
		raw, _ = json.Marshal(st)
	}
	res, err := db.ExecContext(ctx, "UPDATE "+cmDB+".tasks SET state = ?, status = COALESCE(?, status), addr = IF(? = '', addr, ?), restarts = ? WHERE id = ? AND host = ? AND epoch = ?",
		state, nullJSON(raw), addr, addr, restarts, id, host, epoch)
	if err != nil {
		return false, fmt.Errorf("report status of task %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		return true, nil
	}
	// Unchanged values also give 0 rows affected: check ownership explicitly.
	var cnt int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+cmDB+".tasks WHERE id = ? AND host = ? AND epoch = ?", id, host, epoch).Scan(&cnt); err != nil {
		return false, fmt.Errorf("check task %s ownership: %w", id, err)
	}
	return cnt == 1, nil
}

func nullJSON(raw []byte) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}

// ensureTask inserts a task (PENDING, unassigned) unless it exists.
func ensureTask(ctx context.Context, db *sql.DB, cmDB, id, projectID, kind, region string, config any) error {
	cfg, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("encode %s config: %w", kind, err)
	}
	spec, _ := json.Marshal(TaskSpec{Config: cfg})
	_, err = db.ExecContext(ctx, "INSERT IGNORE INTO "+cmDB+".tasks (id, project_id, kind, region, host, epoch, desired_state, state, spec) VALUES (?,?,?,?, '', 0, ?, ?, ?)",
		id, projectID, kind, region, DesiredRunning, TaskPending, spec)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	return nil
}

// taskByID reads one task; ok is false when it does not exist.
func taskByID(ctx context.Context, db *sql.DB, cmDB, id string) (Task, bool, error) {
	t, err := scanTask(db.QueryRowContext(ctx, "SELECT "+taskCols+" FROM "+cmDB+".tasks WHERE id = ?", id))
	if err == sql.ErrNoRows {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("read task %s: %w", id, err)
	}
	return t, true, nil
}

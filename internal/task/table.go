package task

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Table reads and writes the tasks table of one cm database. It holds no state of its own, so
// every role builds one over its MetaDB handle.
type Table struct {
	db  *sql.DB
	tbl string // quoted `cm`.tasks
}

// NewTable returns the tasks table of the cm database named cmDB (unquoted).
func NewTable(db *sql.DB, cmDB string) *Table {
	return &Table{db: db, tbl: sqlgen.QuoteIdent(cmDB) + ".tasks"}
}

const cols = "id, project_id, kind, region, host, epoch, desired_state, state, spec, status, addr, restarts, updated_at"

// scan reads one row selected with cols.
func scan(sc interface{ Scan(...any) error }) (Task, error) {
	var t Task
	var spec, status []byte
	if err := sc.Scan(&t.ID, &t.ProjectID, &t.Kind, &t.Region, &t.Host, &t.Epoch, &t.Desired, &t.State, &spec, &status, &t.Addr, &t.Restarts, &t.UpdatedAt); err != nil {
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

func (s *Table) query(ctx context.Context, where string, args ...any) ([]Task, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+cols+" FROM "+s.tbl+" "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read tasks: %w", err)
	}
	defer rows.Close()
	var out []Task
	for rows.Next() {
		t, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// List returns the tasks of a project (every task when projectID is empty).
func (s *Table) List(ctx context.Context, projectID string) ([]Task, error) {
	if projectID == "" {
		return s.query(ctx, "ORDER BY project_id, id")
	}
	return s.query(ctx, "WHERE project_id = ? ORDER BY project_id, id", projectID)
}

// OnHost returns the tasks assigned to host (the supervisor's view).
func (s *Table) OnHost(ctx context.Context, host string) ([]Task, error) {
	return s.query(ctx, "WHERE host = ? ORDER BY id", host)
}

// InRegion returns the tasks of a region (the CM's view for placement).
func (s *Table) InRegion(ctx context.Context, region string) ([]Task, error) {
	return s.query(ctx, "WHERE region = ? ORDER BY id", region)
}

// Get reads one task; ok is false when it does not exist.
func (s *Table) Get(ctx context.Context, id string) (Task, bool, error) {
	t, err := scan(s.db.QueryRowContext(ctx, "SELECT "+cols+" FROM "+s.tbl+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("read task %s: %w", id, err)
	}
	return t, true, nil
}

// Ensure creates a task (PENDING, unassigned, desired RUNNING) with config as its spec unless a
// task with that id exists; an existing task keeps its spec.
func (s *Table) Ensure(ctx context.Context, id, projectID, kind, region string, config any) error {
	cfg, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("encode %s config: %w", kind, err)
	}
	spec, _ := json.Marshal(Spec{Config: cfg})
	_, err = s.db.ExecContext(ctx, "INSERT IGNORE INTO "+s.tbl+" (id, project_id, kind, region, host, epoch, desired_state, state, spec) VALUES (?,?,?,?, '', 0, ?, ?, ?)",
		id, projectID, kind, region, DesiredRunning, Pending, spec)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	return nil
}

// SetSpec replaces a task's spec (its supervisor restarts the component when the spec changed).
func (s *Table) SetSpec(ctx context.Context, id string, spec Spec) error {
	raw, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode spec of task %s: %w", id, err)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" SET spec = ? WHERE id = ?", raw, id); err != nil {
		return fmt.Errorf("update spec of task %s: %w", id, err)
	}
	return nil
}

// SetDesired sets what every task of a project should do. A task already released on its own
// (Release: a direction a switchover retired) stays released: pausing and resuming the project
// never revives it.
func (s *Table) SetDesired(ctx context.Context, projectID string, desired Desired) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" SET desired_state = ? WHERE project_id = ? AND (desired_state <> ? OR ? = ?)",
		desired, projectID, DesiredReleased, desired, DesiredReleased); err != nil {
		return fmt.Errorf("set tasks of %s to %s: %w", projectID, desired, err)
	}
	return nil
}

// Release asks for one task to be stopped and removed (its supervisor reports RELEASED); the
// project's other tasks go on.
func (s *Table) Release(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" SET desired_state = ? WHERE id = ?", DesiredReleased, id); err != nil {
		return fmt.Errorf("release task %s: %w", id, err)
	}
	return nil
}

// Delete removes one task row (a released task nobody runs any more).
func (s *Table) Delete(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.tbl+" WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

// RetryFailed gives a project's FAILED tasks another round of restarts (back to ASSIGNED on the
// host they have).
func (s *Table) RetryFailed(ctx context.Context, projectID string) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" SET state = ? WHERE project_id = ? AND state = ?", Assigned, projectID, Failed); err != nil {
		return fmt.Errorf("reset failed tasks of %s: %w", projectID, err)
	}
	return nil
}

// CountPlacedUnreleased counts a project's tasks that a host still has to release: placed and
// neither RELEASED nor PENDING.
func (s *Table) CountPlacedUnreleased(ctx context.Context, projectID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.tbl+" WHERE project_id = ? AND host <> '' AND state NOT IN (?, ?)",
		projectID, Released, Pending).Scan(&n); err != nil {
		return 0, fmt.Errorf("count open tasks of %s: %w", projectID, err)
	}
	return n, nil
}

// DeleteProject removes every task of a project.
func (s *Table) DeleteProject(ctx context.Context, projectID string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.tbl+" WHERE project_id = ?", projectID); err != nil {
		return fmt.Errorf("delete tasks of %s: %w", projectID, err)
	}
	return nil
}

// CountByHost returns, per host, how many of its tasks are neither FINISHED nor RELEASED (the
// console's component count).
func (s *Table) CountByHost(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT host, COUNT(*) FROM "+s.tbl+" WHERE host <> '' AND state NOT IN (?, ?) GROUP BY host", Finished, Released)
	if err != nil {
		return nil, fmt.Errorf("count tasks per host: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var host string
		var n int
		if err := rows.Scan(&host, &n); err != nil {
			return nil, fmt.Errorf("count tasks per host: %w", err)
		}
		out[host] = n
	}
	return out, rows.Err()
}

// casEpoch applies set (a SET list with its args) to task id only while the task is still at
// (host, epoch): the fencing compare-and-set that every assignment goes through (an owner's
// reports, ReportAll, have the same condition). ok is false when the task has moved on (another
// host or a higher epoch) or is gone, and then nothing was written. Epochs only grow, so a writer
// holding a stale epoch can never win.
func (s *Table) casEpoch(ctx context.Context, id, host string, epoch int64, set string, args ...any) (bool, error) {
	args = append(args, id, host, epoch)
	res, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" SET "+set+" WHERE id = ? AND host = ? AND epoch = ?", args...)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	// An update that changes no value also affects 0 rows: check the owner explicitly.
	return s.owns(ctx, id, host, epoch)
}

// owns reports whether task id is at (host, epoch).
func (s *Table) owns(ctx context.Context, id, host string, epoch int64) (bool, error) {
	var cnt int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.tbl+" WHERE id = ? AND host = ? AND epoch = ?", id, host, epoch).Scan(&cnt); err != nil {
		return false, fmt.Errorf("check owner: %w", err)
	}
	return cnt == 1, nil
}

// Assign moves task t to host with the next epoch (ASSIGNED, serving address cleared), provided
// it is still on t.Host at t.Epoch: two CMs that both think they lead cannot give one task to two
// hosts. It returns the new epoch and whether this call won.
func (s *Table) Assign(ctx context.Context, t Task, host string) (int64, bool, error) {
	ok, err := s.casEpoch(ctx, t.ID, t.Host, t.Epoch, "host = ?, epoch = epoch + 1, state = ?, addr = ''", host, Assigned)
	if err != nil {
		return 0, false, fmt.Errorf("assign task %s to %s: %w", t.ID, host, err)
	}
	return t.Epoch + 1, ok, nil
}

// MarkReleased records that nobody runs t any more (its host is gone and it is to be released),
// provided it is still on t.Host at t.Epoch.
func (s *Table) MarkReleased(ctx context.Context, t Task) (bool, error) {
	ok, err := s.casEpoch(ctx, t.ID, t.Host, t.Epoch, "state = ?", Released)
	if err != nil {
		return false, fmt.Errorf("release task %s: %w", t.ID, err)
	}
	return ok, nil
}

// Report records what host's supervisor saw of task id at epoch: state, status (nil keeps the
// recorded one), serving address (empty keeps the recorded one) and restart count. It changes
// nothing and returns false when the task was reassigned meanwhile: a stale supervisor cannot
// overwrite the new owner's report.
func (s *Table) Report(ctx context.Context, id, host string, epoch int64, state State, addr string, restarts int, st *component.Status) (bool, error) {
	n, err := s.ReportAll(ctx, host, []Report{{ID: id, Epoch: epoch, State: state, Addr: addr, Restarts: restarts, Status: st}})
	if err != nil || n == 1 {
		return n == 1, err
	}
	// A report that changes no value also affects 0 rows: check the owner explicitly.
	return s.owns(ctx, id, host, epoch)
}

// Report is what a supervisor saw of one of its tasks (Table.ReportAll).
type Report struct {
	ID       string
	Epoch    int64
	State    State
	Addr     string // empty keeps the recorded one
	Restarts int
	Status   *component.Status // nil keeps the recorded one
}

// reportsPerStatement bounds one ReportAll statement (each report carries a status JSON).
const reportsPerStatement = 100

// ReportAll writes host's reports in one statement per reportsPerStatement reports, each only
// while its task is still at (host, the report's epoch): the fencing compare-and-set of Report
// for many tasks at once, so a node's news costs one statement per pass, not one per task. It
// returns how many rows changed; a report whose task moved on changes nothing (the supervisor's
// next pass finds the task gone from its host and stops its component).
func (s *Table) ReportAll(ctx context.Context, host string, reports []Report) (int64, error) {
	var changed int64
	for len(reports) > 0 {
		part := reports[:min(len(reports), reportsPerStatement)]
		reports = reports[len(part):]
		var rows []string
		args := make([]any, 0, 6*len(part)+1)
		for i, r := range part {
			var status any // NULL keeps the recorded status
			if r.Status != nil {
				raw, err := json.Marshal(r.Status)
				if err != nil {
					return changed, fmt.Errorf("encode status of task %s: %w", r.ID, err)
				}
				status = string(raw)
			}
			if i == 0 {
				rows = append(rows, "SELECT ? AS id, ? AS epoch, ? AS state, ? AS status, ? AS addr, ? AS restarts")
			} else {
				rows = append(rows, "SELECT ?, ?, ?, ?, ?, ?")
			}
			args = append(args, r.ID, r.Epoch, r.State, status, r.Addr, r.Restarts)
		}
		args = append(args, host)
		res, err := s.db.ExecContext(ctx, "UPDATE "+s.tbl+" t JOIN ("+strings.Join(rows, " UNION ALL ")+") r ON t.id = r.id AND t.epoch = r.epoch"+
			" SET t.state = r.state, t.status = COALESCE(r.status, t.status), t.addr = IF(r.addr = '', t.addr, r.addr), t.restarts = r.restarts"+
			" WHERE t.host = ?", args...)
		if err != nil {
			return changed, fmt.Errorf("report status of %d tasks: %w", len(part), err)
		}
		n, _ := res.RowsAffected()
		changed += n
	}
	return changed, nil
}

// ConsumerPositions returns the positions the consumers of a Store task last reported: the
// applied watermarks of the Incr-Sync tasks of the same project and direction, whose ids share
// the Store's prefix ("<p>-store" and "<p>-incr-sync"; none reported yet gives none). A Store
// that lost its local log starts from the oldest of them (component.Spec.ConsumerPositions).
// Another direction's consumers read another server and are never mixed in.
func (s *Table) ConsumerPositions(ctx context.Context, store Task) ([]string, error) {
	prefix := strings.TrimSuffix(store.ID, KindStore)
	tasks, err := s.query(ctx, "WHERE project_id = ? AND kind = ? AND id = ? ORDER BY id", store.ProjectID, KindIncrSync, prefix+KindIncrSync)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tasks {
		if t.Status != nil && t.Status.Position != "" {
			out = append(out, t.Status.Position)
		}
	}
	return out, nil
}

// Placements returns, per project, a digest of where and how each of its tasks runs (host,
// epoch, state, desired state, address, restarts; not the status, which moves with every
// position): it changes when a task is placed, moved, started, failed, finished or released.
// One statement for every project (the orchestrator's steady-state check).
func (s *Table) Placements(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT project_id, id, host, epoch, state, desired_state, addr, restarts FROM "+s.tbl+" ORDER BY project_id, id")
	if err != nil {
		return nil, fmt.Errorf("read task placements: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var pid, id, host, state, desired, addr string
		var epoch int64
		var restarts int
		if err := rows.Scan(&pid, &id, &host, &epoch, &state, &desired, &addr, &restarts); err != nil {
			return nil, fmt.Errorf("read task placements: %w", err)
		}
		out[pid] += fmt.Sprintf("%q %q %d %s %s %q %d;", id, host, epoch, state, desired, addr, restarts)
	}
	return out, rows.Err()
}

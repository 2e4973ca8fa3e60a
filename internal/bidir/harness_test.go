package bidir_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/store"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// proc is one data component as a real child process (killable with SIGKILL mid-transaction,
// restarted on the same work directory) with its task id.
type proc struct {
	*scenario.ComponentProcess
	task string
}

func newProc(t *testing.T, kind, task string, cfg any) *proc {
	return &proc{ComponentProcess: scenario.NewComponentProcess(t, kind, task, cfg), task: task}
}

// region is one side of a two-way pair: its database, and the Store and Incr-Sync of the
// direction that starts there (Store on this database, Incr-Sync into the other).
type region struct {
	name  string
	inst  *testenv.Instance
	store *proc
	incr  *proc
	// storeAddr is the Store's fixed consumer address (it keeps it across kills).
	storeAddr string
}

// twoWay is two regions "hz" and "hl" with database app on both, synced both ways.
type twoWay struct {
	t      *testing.T
	hz, hl *region
}

const appDB = "app"

// setup statements run on both sides before the Stores start (not replicated).
var appSchema = []string{
	"CREATE DATABASE " + appDB,
	"CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40), ver BIGINT NOT NULL DEFAULT 0, code VARCHAR(20) NULL, UNIQUE KEY uk_code (code)) ENGINE=InnoDB",
}

// newTwoWay starts two MariaDB servers with the app schema. tweaks may change each direction's
// two-way config before the components are written.
func newTwoWay(t *testing.T, conflicts conflict.Config, ddlRegion string, tweaks ...func(*incrsync.TwoWayConfig)) *twoWay {
	t.Helper()
	insts := testenv.StartN(t, 2)
	w := &twoWay{t: t, hz: &region{name: "hz", inst: insts[0]}, hl: &region{name: "hl", inst: insts[1]}}
	for _, r := range []*region{w.hz, w.hl} {
		for _, s := range appSchema {
			if _, err := r.inst.DB().Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		r.storeAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	}
	for _, d := range [][2]*region{{w.hz, w.hl}, {w.hl, w.hz}} {
		src, dst := d[0], d[1]
		var pos string
		if err := src.inst.DB().QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		src.store = newProc(t, store.Kind, "store-"+src.name, store.Config{
			Source: store.SourceConfig{Config: mysqlconn.Config{Host: "127.0.0.1", Port: src.inst.Port, User: "root"}},
			Start:  store.StartConfig{GTIDSet: pos}, Listen: src.storeAddr,
			EchoTasks: []string{incrTask(dst, src)},
		})
		tw := &incrsync.TwoWayConfig{SourceRegion: src.name, TargetRegion: dst.name, DDLRegion: ddlRegion, Conflicts: conflicts}
		for _, f := range tweaks {
			f(tw)
		}
		src.incr = newProc(t, incrsync.Kind, incrTask(src, dst), incrsync.Config{
			StoreAddr: src.storeAddr, StartGTID: pos, RecordApplied: true, Workers: 2,
			Target:    mysqlconn.Config{Host: "127.0.0.1", Port: dst.inst.Port, User: "root"},
			Selection: selection.Config{Tables: []selection.Rule{{DB: appDB}}},
			TwoWay:    tw,
		})
	}
	return w
}

// incrTask names the Incr-Sync of the direction src -> dst.
func incrTask(src, dst *region) string { return "incr-" + src.name + "-" + dst.name }

func (w *twoWay) regions() []*region { return []*region{w.hz, w.hl} }

// startAll starts both Stores, then (once they serve) both Incr-Syncs.
func (w *twoWay) startAll() {
	for _, r := range w.regions() {
		r.store.Start()
	}
	for _, r := range w.regions() {
		r.store.WaitStatus(60*time.Second, r.store.task+" running", func(st component.Status) bool { return st.State == component.StateRunning })
	}
	for _, r := range w.regions() {
		r.incr.Start()
	}
}

// revive does what a supervisor does: it starts again every component process that ended,
// unless it stopped with a two-way error an operator must act on (TWOWAY_*). An Incr-Sync ends
// when its Store goes away (STORE_UNAVAILABLE) and continues from its checkpoint when started.
func (w *twoWay) revive() {
	for _, r := range w.regions() {
		for _, p := range []*proc{r.store, r.incr} {
			if p.Running() {
				continue
			}
			if st, ok := p.Status(); ok && st.Error != nil && strings.HasPrefix(st.Error.Code, "TWOWAY_") {
				continue
			}
			w.t.Logf("restarting %s, which ended", p.task)
			p.Start()
		}
	}
}

// runFor revives ended components for d (the traffic meanwhile is the caller's).
func (w *twoWay) runFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		w.revive()
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// gtidPos is a server's @@gtid_binlog_pos.
func gtidPos(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// execTxn runs statements in one transaction and returns its GTID (@@last_gtid of the session),
// "" when it changed nothing (the server logs no transaction then).
func execTxn(ctx context.Context, db *sql.DB, stmts ...string) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var before string
	if err := conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&before); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return "", err
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			return "", err
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return "", err
	}
	var g string
	err = conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&g)
	if g == before {
		g = ""
	}
	return g, err
}

// waitConverged waits until app.t is the same on both sides and both Incr-Syncs have applied
// everything their source has (after writers stopped).
func (w *twoWay) waitConverged(within time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(within)
	for {
		w.revive()
		a := testenv.Rows(w.t, w.hz.inst.DB(), "SELECT * FROM app.t ORDER BY id")
		b := testenv.Rows(w.t, w.hl.inst.DB(), "SELECT * FROM app.t ORDER BY id")
		caught := true
		for _, d := range [][2]*region{{w.hz, w.hl}, {w.hl, w.hz}} {
			caught = caught && w.caughtUp(d[0], gtidPos(w.t, d[0].inst.DB()))
		}
		if caught && strings.Join(a, "\n") == strings.Join(b, "\n") {
			return
		}
		if time.Now().After(deadline) {
			for _, r := range w.regions() {
				st, _ := r.incr.Status()
				w.t.Logf("%s: %+v\nincr log:\n%s\nstore log:\n%s", r.incr.task, st, r.incr.LogTail(), r.store.LogTail())
			}
			w.t.Fatalf("the regions did not converge within %s:\n%s", within, testenv.RowDiff(a, b))
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// caughtUp reports whether src's Incr-Sync checkpoint contains pos (src's GTIDs; echoes
// included, the Store passes them on empty).
func (w *twoWay) caughtUp(src *region, pos string) bool {
	st, ok := src.incr.Status()
	if !ok || st.Error != nil || !src.incr.Running() {
		return false // revive starts it again unless an operator must act (then the deadline says so)
	}
	return st.Position != "" && containsGTIDs(st.Position, pos)
}

// appliedGTIDs lists what the Incr-Sync of src -> dst applied (its incr_applied audit on dst).
func appliedGTIDs(t *testing.T, src, dst *region) map[string]bool {
	t.Helper()
	rows, err := dst.inst.DB().Query("SELECT gtid FROM __oms.incr_applied WHERE task_id = ?", incrTask(src, dst))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		out[g] = true
	}
	return out
}

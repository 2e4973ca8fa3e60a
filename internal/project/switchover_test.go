package project

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv"
)

// TestReverseSelection: the way back selects the target's names and writes to the source's; what
// cannot be turned around is refused with the rule named.
func TestReverseSelection(t *testing.T) {
	got, err := reverseSelection(selection.Config{
		Tables:  []selection.Rule{{DB: "shop", Table: "*"}, {DB: "a", Table: "t", RenameDB: "b", RenameTable: "u"}, {DB: "c", RenameDB: "d"}},
		Exclude: []selection.Rule{{DB: "shop", Table: "tmp_*"}},
	})
	want := selection.Config{
		Tables:  []selection.Rule{{DB: "shop", Table: "*"}, {DB: "b", Table: "u", RenameDB: "a", RenameTable: "t"}, {DB: "d", RenameDB: "c"}},
		Exclude: []selection.Rule{{DB: "shop", Table: "tmp_*"}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("reverseSelection = %+v, %v; want %+v", got, err, want)
	}
	for _, c := range []struct {
		rule selection.Rule
		want string
	}{
		{selection.Rule{DB: "a", Table: "t", Where: "id > 5"}, "row filter"},
		{selection.Rule{DB: "a", Table: "t", Columns: []string{"id"}}, "subset of columns"},
		{selection.Rule{DB: "a", Table: "t", DML: []string{"INSERT"}}, "DML kinds"},
		{selection.Rule{DB: "a*", RenameDB: "b"}, "renames a pattern"},
		{selection.Rule{DB: "a", Table: "t*", RenameTable: "u"}, "renames a pattern"},
	} {
		if _, err := reverseSelection(selection.Config{Tables: []selection.Rule{c.rule}}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("reverseSelection(%+v) = %v, want an error naming %q", c.rule, err, c.want)
		}
	}
}

// switchFixture is a RUNNING project (no orchestrator) with its generation-0 tasks reported as
// the test says, between a shared source and a target whose binlog row metadata is NO_LOG.
type switchFixture struct {
	s        *Service
	tasks    *task.Table
	pid      string
	src, dst *testenv.Instance
}

func newSwitchFixture(t *testing.T) *switchFixture {
	t.Helper()
	m := metadbtest.Fresh(t)
	ctx := context.Background()
	keys, err := secret.Load(ctx, m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(m.DB, m.Names, keys, "r1", slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	src := testenv.Shared(t, "src")
	dst := testenv.StartMariaDB(t, testenv.Options{ExtraArgs: []string{"--binlog-row-metadata=NO_LOG"}})
	db := testenv.FreshDatabase(t, src, "sw")
	if _, err := src.DB().Exec("CREATE TABLE `" + db + "`.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inst := range []*testenv.Instance{src, dst} {
		ds, err := s.CreateDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "ds" + inst.Dir, Host: "127.0.0.1", Port: inst.Port, UserName: "root"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds.ID)
	}
	p, err := s.CreateProject(ctx, api.CreateProjectRequest{Name: "sw", SourceEndpointID: ids[0], SinkEndpointID: ids[1],
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: db, Table: "*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	f := &switchFixture{s: s, tasks: s.tasks, pid: p.ID, src: src, dst: dst}
	for _, kind := range []string{task.KindStore, task.KindIncrSync} {
		if err := s.tasks.Ensure(ctx, TaskID(p.ID, kind), p.ID, kind, "r1", map[string]string{}); err != nil {
			t.Fatal(err)
		}
		cur, _, _ := s.tasks.Get(ctx, TaskID(p.ID, kind))
		if _, ok, err := s.tasks.Assign(ctx, cur, "h1"); err != nil || !ok {
			t.Fatalf("assign: %v %v", ok, err)
		}
	}
	return f
}

// report sets what the supervisor reports of the project's gen-0 task of kind.
func (f *switchFixture) report(t *testing.T, kind string, state task.State, st *component.Status) {
	t.Helper()
	cur, _, err := f.tasks.Get(context.Background(), TaskID(f.pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.tasks.Report(context.Background(), cur.ID, cur.Host, cur.Epoch, state, "127.0.0.1:1", 0, st); err != nil || !ok {
		t.Fatalf("report: %v %v", ok, err)
	}
}

// refusal asks for a dry-run switchover and returns the refusal's message ("" when it passed).
func (f *switchFixture) refusal(t *testing.T) string {
	t.Helper()
	plan, err := f.s.Switchover(context.Background(), api.SwitchoverRequest{ID: f.pid, DryRun: true})
	if err == nil {
		if len(plan.Steps) != len(SwitchSteps) || len(plan.Checks) == 0 {
			t.Fatalf("plan without steps or checks: %+v", plan)
		}
		return ""
	}
	if omserr.CodeOf(err) != omserr.SwitchPrecheckFailed {
		t.Fatalf("switchover: %v, want %s", err, omserr.SwitchPrecheckFailed)
	}
	return err.Error()
}

// TestSwitchPrecheckRefusals: the switchover precheck refuses, naming each problem, while the
// Incr-Sync lags, a component failed, the verification found differences or never finished, or
// the target's binlog cannot feed a reverse Store; with all fixed the dry run passes and changes
// nothing; a real request needs a fence or the caller's confirmation.
func TestSwitchPrecheckRefusals(t *testing.T) {
	f := newSwitchFixture(t)
	ctx := context.Background()
	running := func(lag float64) *component.Status {
		return &component.Status{State: component.StateRunning, Position: "0-1-5", LagSeconds: lag}
	}
	f.report(t, task.KindStore, task.Running, running(0))
	f.report(t, task.KindIncrSync, task.Running, running(60))
	msg := f.refusal(t)
	for _, want := range []string{"LAG (oms): Incr-Sync lag 60.0s (threshold 15s)", "VERIFICATION (oms): no finished verification", "binlog_row_metadata"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}
	if st := stepNamed(mustSteps(t, f), api.StepSwitchPrecheck); st.Status != api.StepPending {
		t.Errorf("a dry run recorded the precheck: %+v", st)
	}

	// Differences in the last verification; a failed Incr-Sync.
	if err := f.s.stepUpdate(ctx, f.pid, api.StepFullVerifier, api.StepFinished, 100, map[string]float64{"differences": 3}, "3 rows differ"); err != nil {
		t.Fatal(err)
	}
	f.report(t, task.KindIncrSync, task.Failed, &component.Status{State: component.StateFailed, Position: "0-1-5",
		Error: omserr.New(omserr.IncrApplyFailed, "applying INSERT failed", "fix the target")})
	msg = f.refusal(t)
	for _, want := range []string{"found 3 differences", "COMPONENTS (oms): not healthy: " + TaskID(f.pid, task.KindIncrSync), "INCR_APPLY_FAILED"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}

	// Everything fixed but the target's binlog.
	if err := f.s.stepUpdate(ctx, f.pid, api.StepFullVerifier, api.StepFinished, 100, map[string]float64{"differences": 0}, "identical"); err != nil {
		t.Fatal(err)
	}
	f.report(t, task.KindIncrSync, task.Running, running(1))
	msg = f.refusal(t)
	if !strings.Contains(msg, "binlog_row_metadata") || strings.Contains(msg, "LAG") || strings.Contains(msg, "VERIFICATION") || strings.Contains(msg, "COMPONENTS") {
		t.Fatalf("only the target's binlog should be refused:\n%s", msg)
	}
	// A real request records the refusal in SWITCH_PRECHECK and changes nothing else.
	_, err := f.s.Switchover(ctx, api.SwitchoverRequest{ID: f.pid, Fence: true})
	if omserr.CodeOf(err) != omserr.SwitchPrecheckFailed {
		t.Fatalf("switchover with a refused precheck: %v", err)
	}
	if st := stepNamed(mustSteps(t, f), api.StepSwitchPrecheck); st.Status != api.StepFailed || !strings.Contains(st.Message, "binlog_row_metadata") {
		t.Fatalf("SWITCH_PRECHECK after a refusal: %+v", st)
	}
	if sw, err := f.s.loadSwitch(ctx, f.pid); err != nil || (sw != nil && sw.InProgress) {
		t.Fatalf("a refused switchover started: %+v %v", sw, err)
	}

	if _, err := f.dst.DB().Exec("SET GLOBAL binlog_row_metadata = FULL"); err != nil {
		t.Fatal(err)
	}
	if msg := f.refusal(t); msg != "" {
		t.Fatalf("precheck still refuses: %s", msg)
	}
	if _, err := f.s.Switchover(ctx, api.SwitchoverRequest{ID: f.pid}); omserr.CodeOf(err) != omserr.APIInvalidArgument {
		t.Fatalf("switchover without fence or confirmation: %v", err)
	}
	if _, err := f.s.Rollback(ctx, api.SwitchoverRequest{ID: f.pid, WritesStopped: true}); omserr.CodeOf(err) != omserr.APIStateConflict {
		t.Fatalf("rollback of a project that never switched: %v", err)
	}
	plan, err := f.s.Switchover(ctx, api.SwitchoverRequest{ID: f.pid, WritesStopped: true})
	if err != nil || plan.State == nil || !plan.State.InProgress || plan.State.Direction != api.DirectionForward {
		t.Fatalf("accepted switchover: %+v %v", plan, err)
	}
	if p, err := f.s.Describe(ctx, f.pid); err != nil || p.Switch == nil || !p.Switch.InProgress || p.Switch.Operation != api.OperationSwitchover {
		t.Fatalf("project after the request: %+v %v", p.Switch, err)
	}
	// Asking again while it runs answers its state; a rollback is refused.
	if again, err := f.s.Switchover(ctx, api.SwitchoverRequest{ID: f.pid, WritesStopped: true}); err != nil || again.State == nil || !again.State.InProgress {
		t.Fatalf("second request: %+v %v", again, err)
	}
	if _, err := f.s.Rollback(ctx, api.SwitchoverRequest{ID: f.pid, WritesStopped: true}); omserr.CodeOf(err) != omserr.APIStateConflict {
		t.Fatalf("rollback during a switchover: %v", err)
	}
}

func mustSteps(t *testing.T, f *switchFixture) []api.Step {
	t.Helper()
	steps, err := f.s.steps(context.Background(), f.pid)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestSwitchAbortUndoesFence: a switchover whose old Incr-Sync does not apply up to the fence
// within HandoverTimeout is aborted: read_only is cleared on the source (oms set it), the new
// direction's Store is released, the switch is no longer in progress and POSITION_HANDOVER says
// SWITCH_ABORTED; the old direction's tasks are untouched.
func TestSwitchAbortUndoesFence(t *testing.T) {
	f := newSwitchFixture(t)
	ctx := context.Background()
	f.report(t, task.KindStore, task.Running, &component.Status{State: component.StateRunning})
	f.report(t, task.KindIncrSync, task.Running, &component.Status{State: component.StateRunning, Position: "0-1-5"})
	p, err := f.s.Describe(ctx, f.pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.ensureSwitchSteps(ctx, f.pid); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{api.StepSwitchPrecheck, api.StepSwitchLogPull, api.StepWriteFence} {
		if err := f.s.stepUpdate(ctx, f.pid, st, api.StepFinished, 100, nil, "done"); err != nil {
			t.Fatal(err)
		}
	}
	newStore := TaskID(genPrefix(f.pid, 1), task.KindStore)
	if err := f.tasks.Ensure(ctx, newStore, f.pid, task.KindStore, "r1", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.src.DB().Exec("SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.src.DB().Exec("SET GLOBAL read_only = OFF") })
	fenced := time.Now().Add(-HandoverTimeout - time.Minute)
	sw := &switchState{SwitchState: api.SwitchState{Operation: api.OperationSwitchover, InProgress: true, Fence: true,
		FenceGTID: "0-1-10", StoreStartGTID: "0-2-1", FencedAt: &fenced}, Flavor: "mariadb", ReadOnly: []string{p.SourceEndpointID}}
	if err := f.s.saveSwitch(ctx, f.pid, sw); err != nil {
		t.Fatal(err)
	}
	if err := f.s.finishSwitch(ctx, p); err != nil { // the round of a FAILED project: the switch alone
		t.Fatal(err)
	}
	var ro int
	if err := f.src.DB().QueryRow("SELECT @@GLOBAL.read_only").Scan(&ro); err != nil || ro != 0 {
		t.Fatalf("source read_only=%d after the abort (%v)", ro, err)
	}
	got, err := f.s.loadSwitch(ctx, f.pid)
	if err != nil || got.InProgress || len(got.ReadOnly) != 0 || got.Generation != 0 || got.FenceGTID != "" {
		t.Fatalf("switch state after the abort: %+v %v", got, err)
	}
	if st := stepNamed(mustSteps(t, f), api.StepHandover); st.Status != api.StepFailed || !strings.Contains(st.Message, omserr.SwitchAborted) || !strings.Contains(st.Message, "did not apply up to the fence 0-1-10") {
		t.Fatalf("POSITION_HANDOVER after the abort: %+v", st)
	}
	if nt, _, _ := f.tasks.Get(ctx, newStore); nt.Desired != task.DesiredReleased {
		t.Fatalf("new store after the abort: %s", nt.Desired)
	}
	for _, kind := range []string{task.KindStore, task.KindIncrSync} {
		if old, _, _ := f.tasks.Get(ctx, TaskID(f.pid, kind)); old.Desired != task.DesiredRunning {
			t.Fatalf("old %s after the abort: %s", kind, old.Desired)
		}
	}
	// A new switchover may be asked for: the failed switch step does not block the precheck.
	if _, err := f.dst.DB().Exec("SET GLOBAL binlog_row_metadata = FULL"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.stepUpdate(ctx, f.pid, api.StepFullVerifier, api.StepFinished, 100, map[string]float64{"differences": 0}, "identical"); err != nil {
		t.Fatal(err)
	}
	if msg := f.refusal(t); msg != "" {
		t.Fatalf("precheck after an abort: %s", msg)
	}
}

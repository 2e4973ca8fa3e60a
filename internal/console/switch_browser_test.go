package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/chrome"
)

// browserAs opens the fixture's console in headless chromium, logged in as admin.
func (f *fixture) browserAs(t *testing.T) *chrome.Page {
	t.Helper()
	p := chrome.New(t, f.srv.URL)
	p.Login("admin", adminPW)
	return p
}

// reachableDataSources are two data sources on the test server that oms can log in to (the
// fixture's src has a wrong password), in two regions.
func (f *fixture) reachableDataSources(t *testing.T) (src, dst api.DataSource) {
	t.Helper()
	ctx := context.Background()
	var err error
	for _, ds := range []struct {
		out          *api.DataSource
		name, region string
	}{{&src, "src", "cn-hangzhou"}, {&dst, "dst", "cn-heilongjiang"}} {
		if *ds.out, err = f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: ds.name, Host: "127.0.0.1", Port: f.inst.Port, UserName: "root", Region: ds.region}); err != nil {
			t.Fatal(err)
		}
	}
	return src, dst
}

// runningTask records project id's component of kind as running on 127.0.0.1 at position 0-1-5
// with lag, as its supervisor reports it.
func (f *fixture) runningTask(t *testing.T, id, kind string, lag float64) {
	t.Helper()
	tid := id + "-" + kind
	if err := task.NewTable(f.db, f.names.CM).Ensure(context.Background(), tid, id, kind, "cn-hangzhou", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(map[string]any{"kind": kind, "task_id": tid, "state": "RUNNING", "position": "0-1-5", "lag_seconds": lag})
	if _, err := f.db.Exec("UPDATE `"+f.names.CM+"`.tasks SET state = 'RUNNING', host = '127.0.0.1', status = ? WHERE id = ?", status, tid); err != nil {
		t.Fatal(err)
	}
}

// setSwitch writes a project's switch state and the status of its switch steps as the
// orchestrator does (spec.switch, project_steps): what a switchover in progress or done looks
// like in the MetaDB.
func (f *fixture) setSwitch(t *testing.T, id string, sw map[string]any, steps map[string]string) {
	t.Helper()
	raw, _ := json.Marshal(sw)
	if _, err := f.db.Exec("UPDATE `"+f.names.RM+"`.projects SET spec = JSON_SET(spec, '$.switch', JSON_QUERY(?, '$')) WHERE id = ?", string(raw), id); err != nil {
		t.Fatal(err)
	}
	for name, status := range steps {
		if _, err := f.db.Exec("UPDATE `"+f.names.RM+"`.project_steps SET status = ?, message = ? WHERE project_id = ? AND step = ?", status, "test: "+name+" "+status, id, name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSwitchoverInBrowser: on the project page the Switchover dialog shows the dry run (the
// precheck's refusal with each failed check's message and advice, and every step of the plan),
// audited; Rollback is disabled with its reason; a switchover in progress shows its steps live
// and, once done, the measured write downtime, after which Switchover is disabled and Rollback
// runs its own dry run. A full switchover runs in test/e2e (TestSwitchoverAndRollback).
func TestSwitchoverInBrowser(t *testing.T) {
	chrome.ChromiumPath(t)
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.reachableDataSources(t)
	pr, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "mig", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cli.StartProject(ctx, pr.ID); err != nil {
		t.Fatal(err)
	}
	p := f.browserAs(t)
	p.Open("project/" + pr.ID)
	p.WaitText(10*time.Second, "#rollback-why", "not switched over: the source is the primary")
	if !chrome.Eval[bool](p, `document.querySelector('#act-rollback').disabled && !document.querySelector('#act-switchover').disabled`) {
		t.Fatalf("Rollback should be disabled and Switchover enabled: %s", p.Text("#switch-actions"))
	}

	// The dry run: the project has no running Store/Incr-Sync and no verification.
	p.Click("#act-switchover")
	p.WaitText(60*time.Second, "#switch-refused", "SWITCH_PRECHECK_FAILED")
	refused := p.Text("#switch-refused")
	for _, want := range []string{"switchover refused", "COMPONENTS", "VERIFICATION", "What to do: fix what the failed checks name"} {
		if !strings.Contains(refused, want) {
			t.Errorf("refusal %q lacks %q", refused, want)
		}
	}
	comp := p.Text(`tr.check.failed[data-check="COMPONENTS"]`)
	if !strings.Contains(comp, "not healthy") || !strings.Contains(comp, "resume or retry the project") {
		t.Errorf("COMPONENTS row: %q", comp)
	}
	if v := p.Text(`tr.check.failed[data-check="VERIFICATION"]`); !strings.Contains(v, "no finished verification") || !strings.Contains(v, "let full verification finish") {
		t.Errorf("VERIFICATION row: %q", v)
	}
	if b := p.Text(`tr.check[data-check="BINLOG"]`); !strings.Contains(b, "log_bin=") {
		t.Errorf("BINLOG row: %q", b)
	}
	if n := chrome.Eval[int](p, `document.querySelectorAll('#switch-preview tr.plan-step').length`); n != 7 {
		t.Fatalf("%d plan steps, want 7: %s", n, p.Text("#switch-preview"))
	}
	if s := p.Text("#switch-preview"); !strings.Contains(s, "start Store "+pr.ID+"-g1-store") || !strings.Contains(s, "SET GLOBAL read_only = ON") {
		t.Errorf("plan: %s", s)
	}
	if !chrome.Eval[bool](p, `document.querySelector('#sw-run').disabled`) {
		t.Fatal("Start switchover is enabled although the precheck refused")
	}
	// Without the fence the plan says the operator confirms.
	p.Click("#sw-confirm")
	p.WaitText(60*time.Second, "#switch-preview", "the caller confirmed that the application stopped writing")
	p.Screenshot("switchover-dry-run")
	if n := f.auditCount(t, "action = 'PreviewProjectSwitch' AND resource = ? AND username = 'admin' AND success = 1", pr.ID); n != 2 {
		t.Fatalf("%d audit rows of the dry runs, want 2", n)
	}
	p.Click("#sw-cancel")

	// A switchover in progress (as the orchestrator records it): its steps live, both actions
	// disabled; then done with its downtime, followed by the page's 1 s poll.
	f.setSwitch(t, pr.ID, map[string]any{"operation": "SWITCHOVER", "inProgress": true, "fence": true, "generation": 0, "fenceGtid": "0-1-42"},
		map[string]string{"SWITCH_PRECHECK": "FINISHED", "SWITCH_INCR_LOG_PULL": "FINISHED", "WRITE_FENCE": "RUNNING"})
	p.WaitText(10*time.Second, `#switch-live tr[data-step="WRITE_FENCE"]`, "RUNNING")
	p.WaitText(5*time.Second, "#switchover-why", "a switchover is in progress")
	if s := p.Text("#switch-live"); !strings.Contains(s, "fence GTID set 0-1-42") || !strings.Contains(s, "REVERSE_INCR_TRANSFER") {
		t.Errorf("live steps: %s", s)
	}
	// Aborted before the handover: the step that failed with its message, Switchover possible again.
	f.setSwitch(t, pr.ID, map[string]any{"operation": "SWITCHOVER", "inProgress": false, "fence": true, "generation": 0},
		map[string]string{"WRITE_FENCE": "FAILED"})
	p.WaitText(10*time.Second, "#switch-failed", "switchover stopped at WRITE_FENCE: test: WRITE_FENCE FAILED")
	p.WaitJS(5*time.Second, "Switchover enabled after the abort", `!document.querySelector('#act-switchover').disabled`)
	now := time.Now().UTC()
	f.setSwitch(t, pr.ID, map[string]any{"operation": "SWITCHOVER", "inProgress": false, "fence": true, "generation": 1, "fenceGtid": "0-1-42",
		"fencedAt": now.Add(-1250 * time.Millisecond), "writableAt": now, "downtimeSeconds": 1.25},
		map[string]string{"WRITE_FENCE": "FINISHED", "POSITION_HANDOVER": "FINISHED", "OBJECT_FIXUP": "FINISHED", "TRANSFER_APP_SWITCH": "FINISHED", "REVERSE_INCR_TRANSFER": "MONITORING"})
	p.WaitText(5*time.Second, "#switch-done", "measured write downtime 1.25 s")
	p.WaitText(5*time.Second, "#switchover-why", "already switched over")
	if s := p.Text("#switch-status"); !strings.Contains(s, dst.ID) || !strings.Contains(s, "REVERSE") {
		t.Errorf("status after the switchover: %s", s)
	}
	p.Screenshot("switchover-done")

	// Rollback is possible now: its dry run refuses for the same reasons, without VERIFICATION.
	p.Click("#act-rollback")
	p.WaitText(60*time.Second, "#switch-refused", "rollback refused")
	if s := p.Text("#switch-preview"); strings.Contains(s, "VERIFICATION") || !strings.Contains(s, "INCR_TRANSFER") {
		t.Errorf("rollback dry run: %s", s)
	}
}

// TestNewConsoleRoutesNeedAuth: the console's new actions answer 401 without credentials, and a
// viewer may read conflicts but not run a dry run.
func TestNewConsoleRoutesNeedAuth(t *testing.T) {
	f := newFixture(t)
	for _, action := range []string{api.ActionPreviewProjectSwitch, api.ActionSearchProjectConflicts, api.ActionDownloadProjectConflicts} {
		resp, err := http.Post(f.srv.URL+"/api/v2?Action="+action, "application/json", strings.NewReader(`{"id": "np_x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s without credentials: HTTP %d, want 401", action, resp.StatusCode)
		}
	}
	if _, err := f.cli.CreateUser(context.Background(), api.CreateUserRequest{UserName: "vera", Password: "viewer-pw-1", Role: api.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	viewer := api.NewClient(f.srv.URL, "vera", "viewer-pw-1", false)
	_, err := viewer.PreviewProjectSwitch(context.Background(), api.PreviewProjectSwitchRequest{SwitchoverRequest: api.SwitchoverRequest{ID: "np_x"}, Operation: api.OperationSwitchover})
	apiErr(t, err, 403, omserr.APIForbidden)
	_, _, err = viewer.SearchProjectConflicts(context.Background(), api.SearchProjectConflictsRequest{ID: "np_x"})
	apiErr(t, err, 404, omserr.APINotFound)
	_, err = f.cli.PreviewProjectSwitch(context.Background(), api.PreviewProjectSwitchRequest{SwitchoverRequest: api.SwitchoverRequest{ID: "np_x"}, Operation: "SIDEWAYS"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
}

// TestSwitchoverStartFromBrowser: a project whose precheck passes (its direction's Store and
// Incr-Sync running and caught up as their supervisors report them, a verification with 0
// differences just finished, a second server as the target) is switched over from the page in
// confirm mode: Start stays disabled until the operator confirms the writes stopped, then
// SwitchoverProject is sent (audited) and the page follows the switch steps.
func TestSwitchoverStartFromBrowser(t *testing.T) {
	chrome.ChromiumPath(t)
	f := newFixture(t)
	ctx := context.Background()
	tgt := testenv.Shared(t, "switch-target")
	src, err := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "src", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "dst", Host: "127.0.0.1", Port: tgt.Port, UserName: "root", Region: "cn-heilongjiang"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "mig", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cli.StartProject(ctx, pr.ID); err != nil {
		t.Fatal(err)
	}
	f.runningTask(t, pr.ID, task.KindStore, 0)
	f.runningTask(t, pr.ID, task.KindIncrSync, 0.4)
	if _, err := f.db.Exec("UPDATE `"+f.names.RM+"`.project_steps SET status = 'FINISHED', finished_at = NOW(6) WHERE project_id = ? AND step = 'FULL_VERIFIER'", pr.ID); err != nil {
		t.Fatal(err)
	}

	p := f.browserAs(t)
	p.Open("project/" + pr.ID)
	p.Click("#act-switchover")
	p.WaitText(60*time.Second, "#switch-preview", "The precheck passed")
	p.Click("#sw-confirm")
	p.WaitText(60*time.Second, "#switch-preview", "the caller confirmed that the application stopped writing")
	p.WaitText(60*time.Second, "#switch-preview", "The precheck passed")
	if !chrome.Eval[bool](p, `document.querySelector('#sw-run').disabled`) {
		t.Fatal("Start is enabled before the operator confirmed that the writes stopped")
	}
	p.Click("#sw-stopped")
	p.WaitJS(5*time.Second, "Start enabled", `!document.querySelector('#sw-run').disabled`)
	p.Click("#sw-run")
	p.WaitText(20*time.Second, "#switch-status", "switchover in progress")
	p.WaitText(10*time.Second, `#switch-live tr[data-step="SWITCH_PRECHECK"]`, "FINISHED")
	p.WaitText(10*time.Second, "#rollback-why", "a switchover is in progress")
	p.Screenshot("switchover-started")
	got, err := f.cli.DescribeProject(ctx, pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sw := got.Switch; sw == nil || !sw.InProgress || sw.Operation != api.OperationSwitchover || sw.Fence {
		t.Fatalf("switch state after Start: %+v", got.Switch)
	}
	if n := f.auditCount(t, "action = 'SwitchoverProject' AND resource = ? AND username = 'admin' AND success = 1", pr.ID); n != 1 {
		t.Fatalf("%d audit rows of the switchover, want 1", n)
	}
}

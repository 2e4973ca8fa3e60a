package console_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/console"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/project"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminPW = "s3cret-admin"

type fixture struct {
	srv   *httptest.Server
	cli   *api.Client
	db    *sql.DB
	names metadb.Names
	ps    *project.Service
	inst  *testenv.Instance
	con   *console.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := metadbtest.Fresh(t)
	db, names, inst, ctx := m.DB, m.Names, m.Inst, context.Background()
	keys, err := secret.Load(ctx, db, names.CM)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ps := project.NewService(db, names, keys, "cn-hangzhou", log)
	con := console.New(db, names, ps, "127.0.0.1", log)
	if _, err := con.EnsureAdmin(ctx, adminPW); err != nil {
		t.Fatal(err)
	}
	if created, err := con.EnsureAdmin(ctx, "another-password"); err != nil || created {
		t.Fatalf("second EnsureAdmin: created=%v err=%v, want false, nil", created, err)
	}
	srv := httptest.NewServer(con.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, cli: api.NewClient(srv.URL, "admin", adminPW, false), db: db, names: names, ps: ps, inst: inst, con: con}
}

func apiErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *api.Error (want HTTP %d %s)", err, status, code)
	}
	if ae.HTTPStatus != status || ae.Code != code {
		t.Fatalf("got HTTP %d %s (%s), want %d %s", ae.HTTPStatus, ae.Code, ae.Message, status, code)
	}
	if ae.Message == "" || ae.Advice == "" || ae.RequestID == "" {
		t.Fatalf("error lacks message/advice/requestId: %+v", ae)
	}
}

func (f *fixture) auditCount(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM `"+f.names.RM+"`.audit_log WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.srv.URL + "/oms/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
}

func TestAuthRequiredAndAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wrong := api.NewClient(f.srv.URL, "admin", "wrong-password", false)
	_, err := wrong.ListProjects(ctx, api.ListProjectsRequest{})
	apiErr(t, err, 401, omserr.APIUnauthorized)
	nobody := api.NewClient(f.srv.URL, "mallory", adminPW, false)
	_, err = nobody.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "x"})
	apiErr(t, err, 401, omserr.APIUnauthorized)
	// No credentials at all.
	resp, err := http.Post(f.srv.URL+"/api/v2?Action=ListProjects", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: HTTP %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if n := f.auditCount(t, "success = 0 AND detail = ?", omserr.APIUnauthorized); n != 3 {
		t.Fatalf("audit rows of refused logins: %d, want 3", n)
	}
	if n := f.auditCount(t, "username = 'mallory' AND action = 'CreateMysqlDataSource'"); n != 1 {
		t.Fatalf("audit row of mallory's attempt: %d, want 1", n)
	}
	// The right password works (and again from the cache).
	for range 2 {
		if _, err := f.cli.ListProjects(ctx, api.ListProjectsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	post := func(action, body string) (int, api.Envelope) {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v2?Action="+action, bytes.NewBufferString(body))
		req.SetBasicAuth("admin", adminPW)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env api.Envelope
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, env
	}
	cases := []struct {
		name, action, body string
		status             int
		code               string
	}{
		{"bad json", "CreateMysqlDataSource", `{"name": `, 400, omserr.APIBadRequest},
		{"unknown field", "CreateMysqlDataSource", `{"name":"a","hostt":"x"}`, 400, omserr.APIBadRequest},
		{"wrong type", "StartProject", `{"id": 5}`, 400, omserr.APIBadRequest},
		{"trailing data", "StartProject", `{"id":"a"} {}`, 400, omserr.APIBadRequest},
		{"body over 1 MiB", "StartProject", `{"id":"` + strings.Repeat("a", 1<<20) + `"}`, 413, omserr.APIBodyTooLarge},
		{"unknown action", "NoSuchAction", `{}`, 400, omserr.APIUnknownAction},
		{"missing id", "DescribeProject", `{}`, 400, omserr.APIInvalidArgument},
		{"unknown project", "DescribeProject", `{"id":"np_none"}`, 404, omserr.APINotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, env := post(c.action, c.body)
			if status != c.status || env.Code != c.code || env.Success || env.Message == "" || env.RequestID == "" || env.ErrorDetail == nil {
				t.Fatalf("got %d %+v, want %d %s", status, env, c.status, c.code)
			}
		})
	}
	if n := f.auditCount(t, "action = 'CreateMysqlDataSource' AND success = 0 AND detail = ?", omserr.APIBadRequest); n != 2 {
		t.Fatalf("audit rows of rejected CreateMysqlDataSource: %d, want 2", n)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/api/v2?Action=ListProjects", nil)
	req.SetBasicAuth("admin", adminPW)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("GET: %d, want 400", resp.StatusCode)
	}
}

func (f *fixture) dataSources(t *testing.T) (src, dst api.DataSource) {
	t.Helper()
	ctx := context.Background()
	var err error
	src, err = f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "src", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root", Password: "pw-src"})
	if err != nil {
		t.Fatal(err)
	}
	dst, err = f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "dst", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root", Region: "cn-heilongjiang"})
	if err != nil {
		t.Fatal(err)
	}
	return src, dst
}

func TestDataSources(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	if src.Region != "cn-hangzhou" || dst.Region != "cn-heilongjiang" || src.ID == "" {
		t.Fatalf("regions: %+v %+v", src, dst)
	}
	_, err := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "src", Host: "h", Port: 1, UserName: "u"})
	apiErr(t, err, 409, omserr.APIAlreadyExists)
	_, err = f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "x", Port: 1, UserName: "u"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	_, err = f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "x", Host: "h", Port: 70000, UserName: "u"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	list, err := f.cli.ListDataSource(ctx, api.ListDataSourceRequest{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}
	list, _ = f.cli.ListDataSource(ctx, api.ListDataSourceRequest{SearchKey: "zzz"})
	if len(list) != 0 {
		t.Fatalf("search: %+v", list)
	}
	// The password is stored sealed, never in clear.
	var sealed []byte
	if err := f.db.QueryRow("SELECT password_enc FROM `"+f.names.RM+"`.data_sources WHERE id = ?", src.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("pw-src")) || len(sealed) < 28 {
		t.Fatalf("password stored in clear or not sealed: %q", sealed)
	}
	if n := f.auditCount(t, "action = 'CreateMysqlDataSource' AND success = 1"); n != 2 {
		t.Fatalf("audit rows: %d, want 2", n)
	}
}

func TestProjectLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	mapping := api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}

	_, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	_, err = f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: "ds_none", SinkEndpointID: dst.ID, TransferMapping: mapping})
	apiErr(t, err, 404, omserr.APINotFound)
	_, err = f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: src.ID, TransferMapping: mapping})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	_, err = f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "t", Where: "1; DROP TABLE x"}}}})
	apiErr(t, err, 400, omserr.APIInvalidArgument)

	p, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p1", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, TransferMapping: mapping})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != api.StateInit || len(p.Steps) != 7 || p.Steps[0].Name != api.StepPrecheck || p.Steps[6].Name != api.StepFullVerifier {
		t.Fatalf("created: %+v", p)
	}
	steps, err := f.cli.DescribeProjectSteps(ctx, p.ID)
	if err != nil || len(steps) != 7 {
		t.Fatalf("steps: %v %+v", err, steps)
	}
	noVerify := false
	p2, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p2", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, TransferMapping: mapping, EnableFullVerify: &noVerify})
	if err != nil || p2.Steps[6].Status != api.StepSkipped {
		t.Fatalf("p2: %v %+v", err, p2.Steps)
	}

	// State machine.
	apiErr(t, f.cli.StopProject(ctx, p.ID), 409, omserr.APIStateConflict)
	apiErr(t, f.cli.ResumeProject(ctx, p.ID), 409, omserr.APIStateConflict)
	apiErr(t, f.cli.StartProject(ctx, "np_none"), 404, omserr.APINotFound)
	if err := f.cli.StartProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	apiErr(t, f.cli.StartProject(ctx, p.ID), 409, omserr.APIStateConflict)
	apiErr(t, f.cli.DeleteProject(ctx, p.ID), 409, omserr.APIStateConflict)
	if err := f.cli.StopProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.cli.DescribeProject(ctx, p.ID); got.Status != api.StateSuspend {
		t.Fatalf("after stop: %s", got.Status)
	}
	if err := f.cli.ResumeProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.cli.ReleaseProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	apiErr(t, f.cli.ReleaseProject(ctx, p.ID), 409, omserr.APIStateConflict)
	// The orchestrator finishes the release (no components were placed).
	if err := f.ps.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.cli.DescribeProject(ctx, p.ID); got.Status != api.StateReleased {
		t.Fatalf("after release: %s", got.Status)
	}
	if err := f.cli.DeleteProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.cli.DescribeProject(ctx, p.ID)
	apiErr(t, err, 404, omserr.APINotFound)

	list, err := f.cli.ListProjects(ctx, api.ListProjectsRequest{})
	if err != nil || len(list) != 1 || list[0].ID != p2.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	env, err := f.cli.Call(ctx, api.ActionListProjects, api.ListProjectsRequest{Status: []string{"INIT"}, PageSize: 10}, nil)
	if err != nil || env.TotalCount != 1 || env.PageNumber != 1 {
		t.Fatalf("paging: %v %+v", err, env)
	}
	prog, err := f.cli.DescribeProjectProgress(ctx, p2.ID)
	if err != nil || prog.Status != api.StateInit || prog.CurrentStep != api.StepPrecheck {
		t.Fatalf("progress: %v %+v", err, prog)
	}
	comps, err := f.cli.DescribeProjectComponents(ctx, p2.ID)
	if err != nil || len(comps) != 0 {
		t.Fatalf("components: %v %+v", err, comps)
	}
	_, err = f.cli.DescribeProjectComponents(ctx, p.ID)
	apiErr(t, err, 404, omserr.APINotFound)
	hosts, err := f.cli.ListHosts(ctx)
	if err != nil || len(hosts) != 0 {
		t.Fatalf("hosts: %v %+v", err, hosts)
	}
	for _, a := range []string{"StartProject", "StopProject", "ResumeProject", "ReleaseProject", "DeleteProject"} {
		if n := f.auditCount(t, "action = ? AND success = 1 AND resource = ?", a, p.ID); n != 1 {
			t.Errorf("audit rows of %s %s: %d, want 1", a, p.ID, n)
		}
	}
	if n := f.auditCount(t, "action = 'StopProject' AND success = 0 AND detail = ?", omserr.APIStateConflict); n != 1 {
		t.Errorf("audit row of refused StopProject: %d", n)
	}
	if n := f.auditCount(t, "action LIKE 'Describe%' OR action LIKE 'List%'"); n != 0 {
		t.Errorf("read-only calls audited: %d rows", n)
	}
}

// TestPrecheckFailsWithClearMessages runs the orchestrator's precheck against a real source with a
// table lacking a key and a non-empty target table.
func TestPrecheckFailsWithClearMessages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srcDB := testenv.FreshDatabase(t, f.inst, "pcsrc")
	dstDB := testenv.FreshDatabase(t, f.inst, "pcdst")
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE `%s`.ok (id INT PRIMARY KEY)", srcDB),
		fmt.Sprintf("CREATE TABLE `%s`.nokey (a INT)", srcDB),
		fmt.Sprintf("CREATE TABLE `%s`.ok (id INT PRIMARY KEY)", dstDB),
		fmt.Sprintf("INSERT INTO `%s`.ok VALUES (1)", dstDB),
	} {
		if _, err := f.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	src, dst := f.dataSources(t)
	p, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "pc", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, StartImmediately: true,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: srcDB, RenameDB: dstDB}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != api.StateRunning {
		t.Fatalf("startImmediately: %s", p.Status)
	}
	// The data sources' passwords are wrong for this server: connectivity fails first.
	if err := f.ps.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := f.cli.DescribeProject(ctx, p.ID)
	if got.Status != api.StateFailed || got.ErrorCode != "PRECHECK_FAILED" || !strings.Contains(got.ErrorMessage, "CONNECTIVITY (source)") {
		t.Fatalf("want connectivity failure, got %s %s %s", got.Status, got.ErrorCode, got.ErrorMessage)
	}
	// Fix the passwords (new data sources with the right one) and check the rest.
	s2, _ := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "src2", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"})
	d2, _ := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "dst2", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"})
	p2, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "pc2", SourceEndpointID: s2.ID, SinkEndpointID: d2.ID, StartImmediately: true,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: srcDB, RenameDB: dstDB}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ps.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = f.cli.DescribeProject(ctx, p2.ID)
	if got.Status != api.StateFailed || got.ErrorCode != "PRECHECK_FAILED" {
		t.Fatalf("want precheck failure, got %s %s", got.Status, got.ErrorMessage)
	}
	for _, want := range []string{"PRIMARY_KEY (source): tables without a primary or unique key: " + srcDB + ".nokey", "TARGET_EMPTY (target): target tables already hold rows: " + dstDB + ".ok"} {
		if !strings.Contains(got.ErrorMessage, want) {
			t.Errorf("precheck message lacks %q:\n%s", want, got.ErrorMessage)
		}
	}
	if strings.Contains(got.ErrorMessage, "BINLOG") || strings.Contains(got.ErrorMessage, "CONNECTIVITY") {
		t.Errorf("checks that should pass failed: %s", got.ErrorMessage)
	}
	if got.Steps[0].Status != api.StepFailed {
		t.Errorf("precheck step: %+v", got.Steps[0])
	}
	// Resume retries the failed step.
	if err := f.cli.ResumeProject(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = f.cli.DescribeProject(ctx, p2.ID)
	if got.Status != api.StateRunning || got.Steps[0].Status != api.StepPending {
		t.Fatalf("after resume: %s %+v", got.Status, got.Steps[0])
	}
}

// TestSkipProjectEvents: the operator's skip through the OpenAPI: bad GTIDs and empty requests
// refused, "the event it stopped at" refused while Incr-Sync is not stopped at one, GTIDs and
// ranges kept in the project (DescribeProject lists them, no duplicates) and audited; a bad
// ddlPolicy is refused at creation and a good one shown.
func TestSkipProjectEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	mapping := api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}
	_, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, TransferMapping: mapping,
		DDLPolicy: map[string]string{"views": "skip"}})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	p, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, TransferMapping: mapping,
		DDLPolicy: map[string]string{"trigger": "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.cli.SkipProjectEvents(ctx, api.SkipProjectEventsRequest{ID: p.ID, GTIDs: []string{"0-1"}})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	_, err = f.cli.SkipProjectEvents(ctx, api.SkipProjectEventsRequest{ID: p.ID})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	_, err = f.cli.SkipProjectEvents(ctx, api.SkipProjectEventsRequest{ID: p.ID, Event: true})
	apiErr(t, err, 409, omserr.APIStateConflict)
	_, err = f.cli.SkipProjectEvents(ctx, api.SkipProjectEventsRequest{ID: "np_none", GTIDs: []string{"0-1-5"}})
	apiErr(t, err, 404, omserr.APINotFound)
	for _, gs := range [][]string{{"0-1-123"}, {"0-1-200-210", "0-1-123"}} {
		if _, err := f.cli.SkipProjectEvents(ctx, api.SkipProjectEventsRequest{ID: p.ID, GTIDs: gs}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.cli.DescribeProject(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.SkipGTIDs) != "[0-1-123 0-1-200-210]" || got.DDLPolicy["trigger"] != "apply" {
		t.Fatalf("project skips %v, policy %v", got.SkipGTIDs, got.DDLPolicy)
	}
	if n := f.auditCount(t, "action = 'SkipProjectEvents' AND success = 1 AND resource = ?", p.ID); n != 2 {
		t.Fatalf("audit rows of SkipProjectEvents: %d, want 2", n)
	}
	apiErr(t, f.cli.RetryProject(ctx, p.ID), 409, omserr.APIStateConflict)
}

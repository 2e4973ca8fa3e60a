package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
)

// browser is a cookie session as the web console holds it.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.srv.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// call posts action with the session cookie and the CSRF header; it returns status, envelope and
// response headers.
func (b *browser) call(action string, body any) (int, api.Envelope, http.Header) {
	b.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, b.base+"/api/v2?Action="+action, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-OMS-Console", "1")
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env api.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		b.t.Fatalf("%s: HTTP %d, not an envelope: %v", action, resp.StatusCode, err)
	}
	return resp.StatusCode, env, resp.Header
}

func (b *browser) login(user, pw string) (int, api.Envelope) {
	b.t.Helper()
	status, env, hdr := b.call(api.ActionLogin, api.LoginRequest{UserName: user, Password: pw})
	if status == 200 {
		var s api.Session
		if err := json.Unmarshal(env.Data, &s); err != nil {
			b.t.Fatal(err)
		}
		b.csrf = s.CSRFToken
		ck := hdr.Get("Set-Cookie")
		for _, want := range []string{"oms_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(ck, want) {
				b.t.Fatalf("session cookie %q lacks %s", ck, want)
			}
		}
		if strings.Contains(ck, "Secure") {
			b.t.Fatalf("cookie over plain HTTP marked Secure: %q", ck)
		}
	}
	return status, env
}

func TestSessionLoginCSRFLogout(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	if st, env := b.login("admin", adminPW); st != 200 || b.csrf == "" {
		t.Fatalf("login: %d %+v", st, env)
	}
	if st, _, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{}); st != 200 {
		t.Fatalf("call with session: %d", st)
	}
	// A forged cross-site call carries the cookie but not the token.
	csrf := b.csrf
	b.csrf = ""
	st, env, hdr := b.call(api.ActionCreateMysqlDataSource, api.CreateMysqlDataSourceRequest{Name: "forged", Host: "h", Port: 1, UserName: "u"})
	if st != 403 || env.Code != omserr.APICSRFTokenInvalid {
		t.Fatalf("call without CSRF token: %d %s, want 403 %s", st, env.Code, omserr.APICSRFTokenInvalid)
	}
	if hdr.Get("WWW-Authenticate") != "" {
		t.Fatal("a console call's refusal asks the browser for Basic auth")
	}
	wrong := "0"
	if csrf[0] == '0' { // a random token starts with 0 one time in 16: then "0..." is the right one
		wrong = "1"
	}
	b.csrf = wrong + csrf[1:]
	if st, env, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{}); st != 403 || env.Code != omserr.APICSRFTokenInvalid {
		t.Fatalf("call with wrong CSRF token: %d %s", st, env.Code)
	}
	b.csrf = csrf
	if list, _ := f.ps.ListDataSources(context.Background(), "forged"); len(list) != 0 {
		t.Fatalf("forged call created %+v", list)
	}
	// A reload asks for the session's token again, without knowing it.
	b.csrf = ""
	st, env, _ = b.call(api.ActionDescribeSession, api.Empty{})
	b.csrf = csrf
	var sess api.Session
	_ = json.Unmarshal(env.Data, &sess)
	if st != 200 || sess.CSRFToken != csrf || sess.UserName != "admin" || sess.Role != api.RoleAdmin {
		t.Fatalf("DescribeSession: %d %+v", st, sess)
	}
	if st, _, _ := b.call(api.ActionLogout, api.Empty{}); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	if st, env, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{}); st != 401 || env.Code != omserr.APIUnauthorized {
		t.Fatalf("after logout: %d %s, want 401", st, env.Code)
	}
	if n := f.auditCount(t, "username = 'admin' AND action IN ('Login', 'Logout') AND success = 1"); n != 2 {
		t.Fatalf("audit rows of login and logout: %d, want 2", n)
	}
	if n := f.auditCount(t, "username = 'admin' AND detail = ?", omserr.APICSRFTokenInvalid); n != 2 {
		t.Fatalf("audit rows of refused CSRF: %d, want 2", n)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	f := newFixture(t)
	f.con.SetIdleTimeout(time.Second)
	b := f.browser(t)
	if st, _ := b.login("admin", adminPW); st != 200 {
		t.Fatalf("login: %d", st)
	}
	if st, _, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{}); st != 200 {
		t.Fatalf("fresh session: %d", st)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, env, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{})
		if st == 401 {
			if !strings.Contains(env.Message, "expired") {
				t.Fatalf("expired session's message: %q", env.Message)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle session never expired")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The row is gone: the same cookie stays refused.
	if st, env, _ := b.call(api.ActionListProjects, api.ListProjectsRequest{}); st != 401 || strings.Contains(env.Message, "expired") {
		t.Fatalf("after expiry: %d %q", st, env.Message)
	}
}

func TestRolesEnforcedByAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, u := range []api.CreateUserRequest{{UserName: "vera", Password: "viewer-pw-1", Role: api.RoleViewer}, {UserName: "otto", Password: "operator-pw-1", Role: api.RoleOperator}} {
		if _, err := f.cli.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	viewer := api.NewClient(f.srv.URL, "vera", "viewer-pw-1", false)
	operator := api.NewClient(f.srv.URL, "otto", "operator-pw-1", false)
	if _, err := viewer.ListProjects(ctx, api.ListProjectsRequest{}); err != nil {
		t.Fatalf("viewer reads: %v", err)
	}
	_, err := viewer.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "v", Host: "h", Port: 1, UserName: "u"})
	apiErr(t, err, 403, omserr.APIForbidden)
	apiErr(t, viewer.StopProject(ctx, "np_x"), 403, omserr.APIForbidden)
	if list, _ := f.cli.ListDataSource(ctx, api.ListDataSourceRequest{}); len(list) != 0 {
		t.Fatalf("viewer's refused call created %+v", list)
	}
	if _, err := operator.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "o", Host: "h", Port: 1, UserName: "u"}); err != nil {
		t.Fatalf("operator mutates: %v", err)
	}
	_, err = operator.CreateUser(ctx, api.CreateUserRequest{UserName: "eve", Password: "eve-pw-123", Role: api.RoleAdmin})
	apiErr(t, err, 403, omserr.APIForbidden)
	_, err = operator.ListUsers(ctx)
	apiErr(t, err, 403, omserr.APIForbidden)
	if n := f.auditCount(t, "username = 'vera' AND action = 'CreateMysqlDataSource' AND detail = ?", omserr.APIForbidden); n != 1 {
		t.Fatalf("audit row of the viewer's refused call: %d, want 1", n)
	}
	// Bad users are refused with the field named.
	for _, bad := range []api.CreateUserRequest{
		{UserName: "Vera", Password: "whatever-1", Role: api.RoleViewer},  // same name ignoring case
		{UserName: "ádmin", Password: "whatever-1", Role: api.RoleViewer}, // look-alike
		{UserName: "x", Password: "short", Role: api.RoleViewer},
		{UserName: "y", Password: "whatever-1", Role: "root"},
	} {
		if _, err := f.cli.CreateUser(ctx, bad); err == nil {
			t.Fatalf("CreateUser(%+v) succeeded", bad)
		}
	}
	// Demoting takes effect on the next call; the last admin cannot be demoted or deleted.
	if _, err := f.cli.UpdateUser(ctx, api.UpdateUserRequest{UserName: "otto", Role: api.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	_, err = operator.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "o2", Host: "h", Port: 1, UserName: "u"})
	apiErr(t, err, 403, omserr.APIForbidden)
	_, err = f.cli.UpdateUser(ctx, api.UpdateUserRequest{UserName: "admin", Role: api.RoleViewer})
	apiErr(t, err, 409, omserr.APIStateConflict)
	if err := f.cli.DeleteUser(ctx, "vera"); err != nil {
		t.Fatal(err)
	}
	_, err = viewer.ListProjects(ctx, api.ListProjectsRequest{})
	apiErr(t, err, 401, omserr.APIUnauthorized)
	users, err := f.cli.ListUsers(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("users: %+v %v", users, err)
	}
}

func TestUserNamesAreExact(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, name := range []string{"ADMIN", "admin   ", "ádmin", "Admin"} {
		_, err := api.NewClient(f.srv.URL, name, adminPW, false).ListProjects(ctx, api.ListProjectsRequest{})
		apiErr(t, err, 401, omserr.APIUnauthorized)
		// A success in between keeps the throttle out of this test.
		if _, err := f.cli.ListProjects(ctx, api.ListProjectsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := f.browser(t).login("ADMIN", adminPW)
	if st != 401 {
		t.Fatalf("session login as ADMIN: %d, want 401", st)
	}
}

func TestLoginThrottled(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	var status int
	var hdr http.Header
	var env api.Envelope
	for i := range 8 {
		status, env, hdr = b.call(api.ActionLogin, api.LoginRequest{UserName: "admin", Password: "guess-" + string(rune('a'+i))})
		if status == 429 {
			break
		}
		if status != 401 {
			t.Fatalf("wrong password %d: %d", i, status)
		}
	}
	if status != 429 || env.Code != omserr.APITooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("after repeated failures: %d %s Retry-After=%q, want 429 with Retry-After", status, env.Code, hdr.Get("Retry-After"))
	}
	// The right password is refused too while blocked, for the session and for Basic auth.
	if st, _ := b.login("admin", adminPW); st != 429 {
		t.Fatalf("right password while blocked: %d, want 429", st)
	}
	_, err := f.cli.ListProjects(context.Background(), api.ListProjectsRequest{})
	apiErr(t, err, 429, omserr.APITooManyRequests)
	if n := f.auditCount(t, "action = 'Login' AND detail = ?", omserr.APITooManyRequests); n < 1 {
		t.Fatal("throttled login not audited")
	}
	// It lifts after Retry-After.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, _ := b.login("admin", adminPW); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the block never lifted")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestUnknownUserTiming: an unknown user costs the same bcrypt work as a known one with a wrong
// password, so the answer time does not tell which user names exist.
func TestUnknownUserTiming(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	timeOf := func(user string) time.Duration {
		start := time.Now()
		_, err := api.NewClient(f.srv.URL, user, "wrong-password", false).ListProjects(ctx, api.ListProjectsRequest{})
		d := time.Since(start)
		apiErr(t, err, 401, omserr.APIUnauthorized)
		if _, err := f.cli.ListProjects(ctx, api.ListProjectsRequest{}); err != nil { // clears the client's failures
			t.Fatal(err)
		}
		return d
	}
	timeOf("nobody-warmup") // the dummy hash is made on first use
	var known, unknown []time.Duration
	for i := range 4 {
		known = append(known, timeOf("admin"))
		unknown = append(unknown, timeOf("nobody-"+string(rune('a'+i))))
	}
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	k, u := median(known), median(unknown)
	t.Logf("median refusal: known user %v, unknown user %v", k, u)
	if k > 3*u || u > 3*k {
		t.Fatalf("known %v vs unknown %v: not within 3x", k, u)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.cli.CreateUser(ctx, api.CreateUserRequest{UserName: "pat", Password: "first-pw-1", Role: api.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	other := f.browser(t)
	if st, _ := other.login("pat", "first-pw-1"); st != 200 {
		t.Fatal("login")
	}
	me := f.browser(t)
	me.login("pat", "first-pw-1")
	if st, env, _ := me.call(api.ActionChangePassword, api.ChangePasswordRequest{OldPassword: "nope", NewPassword: "second-pw-2"}); st != 400 || !strings.Contains(env.Message, "oldPassword") {
		t.Fatalf("wrong old password: %d %q", st, env.Message)
	}
	if st, env, _ := me.call(api.ActionChangePassword, api.ChangePasswordRequest{OldPassword: "first-pw-1", NewPassword: "short"}); st != 400 || !strings.Contains(env.Message, "newPassword") {
		t.Fatalf("short new password: %d %q", st, env.Message)
	}
	if st, env, _ := me.call(api.ActionChangePassword, api.ChangePasswordRequest{OldPassword: "first-pw-1", NewPassword: "second-pw-2"}); st != 200 {
		t.Fatalf("change: %d %+v", st, env)
	}
	if st, _, _ := me.call(api.ActionListProjects, api.Empty{}); st != 200 {
		t.Fatalf("own session after change: %d", st)
	}
	if st, _, _ := other.call(api.ActionListProjects, api.Empty{}); st != 401 {
		t.Fatalf("other session after change: %d, want 401", st)
	}
	_, err := api.NewClient(f.srv.URL, "pat", "first-pw-1", false).ListProjects(ctx, api.ListProjectsRequest{})
	apiErr(t, err, 401, omserr.APIUnauthorized)
	if _, err := api.NewClient(f.srv.URL, "pat", "second-pw-2", false).ListProjects(ctx, api.ListProjectsRequest{}); err != nil {
		t.Fatal(err)
	}
	if n := f.auditCount(t, "username = 'pat' AND action = 'ChangePassword'"); n != 3 {
		t.Fatalf("audit rows of ChangePassword: %d, want 3", n)
	}
}

func TestListAuditEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.dataSources(t)
	_, err := api.NewClient(f.srv.URL, "mallory", "x", false).ListProjects(ctx, api.ListProjectsRequest{})
	apiErr(t, err, 401, omserr.APIUnauthorized)
	// The row of a 256-byte UTF-8 name (the longest a data source name may be) is kept whole.
	long := strings.Repeat("é", 128)
	if _, err := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: long, Host: "h", Port: 1, UserName: "u"}); err != nil {
		t.Fatal(err)
	}
	events, env, err := f.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{UserName: "admin", Action: api.ActionCreateMysqlDataSource})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || env.TotalCount != 3 || events[0].ID < events[1].ID || events[0].Resource != long || !events[0].Success {
		t.Fatalf("admin's CreateMysqlDataSource events: %d (total %d) %+v", len(events), env.TotalCount, events)
	}
	no := false
	events, _, err = f.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{Success: &no, UserName: "mallory"})
	if err != nil || len(events) != 1 || events[0].Detail != omserr.APIUnauthorized {
		t.Fatalf("failed events of mallory: %+v %v", events, err)
	}
	events, env, err = f.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{PageSize: 2, PageNumber: 2})
	if err != nil || len(events) != 2 || env.TotalCount != 4 {
		t.Fatalf("page 2 of 2: %d events, total %d, %v", len(events), env.TotalCount, err)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if events, _, err = f.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{From: future}); err != nil || len(events) != 0 {
		t.Fatalf("events from the future: %+v %v", events, err)
	}
	_, _, err = f.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{From: "yesterday"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
}

func TestDataSourceEditTestAndValidate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	res, err := f.cli.TestDataSource(ctx, api.TestDataSourceRequest{Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"})
	if err != nil || !res.OK || res.Version == "" {
		t.Fatalf("test a reachable endpoint: %+v %v", res, err)
	}
	// The stored data source's password (pw-src) is not root's: refused, as a result.
	res, err = f.cli.TestDataSource(ctx, api.TestDataSourceRequest{ID: src.ID})
	if err != nil || res.OK || !strings.Contains(res.Message, "Access denied") {
		t.Fatalf("test stored data source with a wrong password: %+v %v", res, err)
	}
	res, err = f.cli.TestDataSource(ctx, api.TestDataSourceRequest{Host: "127.0.0.1", Port: 1, UserName: "root"})
	if err != nil || res.OK || !strings.Contains(res.Message, "127.0.0.1:1") {
		t.Fatalf("test closed port: %+v %v", res, err)
	}
	_, err = f.cli.TestDataSource(ctx, api.TestDataSourceRequest{Host: "h", Port: 70000, UserName: "u"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	desc := "the orders database"
	ds, err := f.cli.UpdateMysqlDataSource(ctx, api.UpdateMysqlDataSourceRequest{ID: src.ID, Port: 3307, Description: &desc})
	if err != nil || ds.Port != 3307 || ds.Host != src.Host || ds.Description != desc {
		t.Fatalf("update: %+v %v", ds, err)
	}
	_, err = f.cli.UpdateMysqlDataSource(ctx, api.UpdateMysqlDataSourceRequest{ID: "ds_none", Port: 1})
	apiErr(t, err, 404, omserr.APINotFound)
	ok := api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}}
	if err := f.cli.ValidateProject(ctx, ok); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Name = ""
	apiErr(t, f.cli.ValidateProject(ctx, bad), 400, omserr.APIInvalidArgument)
	if list, _ := f.cli.ListProjects(ctx, api.ListProjectsRequest{}); len(list) != 0 {
		t.Fatalf("ValidateProject created %+v", list)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/chrome"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// consolePages are the console's pages, each screenshotted and timed.
var consolePages = []string{"overview", "projects", "new-project", "datasources", "resources", "audit", "alerts", "users", "account"}

// docShots are the screenshots OMS_UPDATE_DOCS=1 copies to docs/img (README, docs/console.md).
var docShots = map[string]bool{"overview": true, "project": true, "new-project": true}

// startVIP runs haproxy on 127.0.0.1 in front of the nodes' console ports, as the deployment
// guide's region VIP: fast health checks drop a stopped node within a second, and redispatch
// retries a request that hit it on another node. It returns the VIP's console URL.
func startVIP(t *testing.T, dir string, nodes []*node) string {
	t.Helper()
	hp, err := exec.LookPath("haproxy")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/haproxy"); e != nil {
			testenv.SkipOrFail(t, "the console's VIP test needs haproxy (Debian package haproxy)")
		}
		hp = "/usr/sbin/haproxy"
	}
	port := testenv.FreePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  log stdout format raw local0\ndefaults\n  mode tcp\n  log global\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\n")
	fmt.Fprintf(&b, "listen console\n  bind 127.0.0.1:%d\n  balance roundrobin\n", port)
	for i, n := range nodes {
		fmt.Fprintf(&b, "  server n%d %s:%d check inter 300ms fall 1 rise 2\n", i+1, n.ip, n.consolePort)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(hp, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	scenario.WaitFor(t, 20*time.Second, "haproxy VIP answering", func() (bool, string) {
		resp, err := http.Get(url + "/oms/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return url
}

// page drives one browser tab of the console (internal/testenv/chrome) and records each page's
// render time.
type page struct {
	*chrome.Page
	t       *testing.T
	renders map[string]float64
}

func newBrowser(t *testing.T, base string) *page {
	t.Helper()
	return &page{Page: chrome.New(t, base), t: t, renders: map[string]float64{}}
}

// open shows a page by its hash route, waits until it rendered and records the render time.
func (p *page) open(route string) {
	p.t.Helper()
	p.renders[strings.SplitN(route, "/", 2)[0]] = p.Open(route)
}

// screenshot saves the page; with OMS_UPDATE_DOCS=1 the docShots also go to docs/img.
func (p *page) screenshot(name string) {
	buf := p.Screenshot(name)
	if buf != nil && os.Getenv("OMS_UPDATE_DOCS") == "1" && docShots[name] {
		_ = os.WriteFile(filepath.Join("..", "..", "docs", "img", "console-"+name+".png"), buf, 0o644)
	}
}

// apiStatus makes a call from the page with its session (as any script in it could) and returns
// the HTTP status: the API, not the UI, refuses what a role may not do.
func (p *page) apiStatus(action string, body any) int {
	p.t.Helper()
	raw, _ := json.Marshal(body)
	return chrome.Eval[int](p.Page, fmt.Sprintf(`(async () => {
		const s = await fetch('/api/v2?Action=DescribeSession', {method: 'POST', headers: {'X-OMS-Console': '1'}, body: '{}'});
		const token = s.ok ? (await s.json()).data.csrfToken : '';
		const r = await fetch('/api/v2?Action=%s', {method: 'POST', headers: {'X-OMS-Console': '1', 'X-CSRF-Token': token, 'Content-Type': 'application/json'}, body: %q});
		return r.status;
	})()`, action, string(raw)))
}

// TestConsoleInBrowser drives the web console in a real headless Chromium through an haproxy
// region VIP in front of two real nodes, with real MariaDB: log in, bad input refused inline, data
// sources and a project (with a column subset) created through the forms, the project reaches incremental MONITORING
// with the lag chart drawing; then one node is stopped and the same session goes on through the
// VIP: pause and resume from the UI, an Incr-Sync error skipped from the UI, the fix SQL of a verification with a difference downloaded,
// every page screenshotted and timed, log out, a viewer's
// mutation refused by the API.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	chrome.ChromiumPath(t)
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	shop.Seed(t, src.DB())
	c := startCluster(t, meta, "127.0.0.6", "127.0.0.7")
	vip := startVIP(t, c.dir, c.nodes)
	ctx := context.Background()
	if _, err := c.cli.CreateUser(ctx, api.CreateUserRequest{UserName: "vic", Password: "viewer-pw-1", Role: api.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	wl := shop.StartWorkload(src.DB(), 1, workloadPause)
	defer wl.Halt()

	p := newBrowser(t, vip)
	p.WaitJS(30*time.Second, "login form", `!!document.querySelector('#login-user')`)
	p.screenshot("login")
	// Bad input on the login form: named inline, nothing logged in.
	p.Click("#login-submit")
	p.WaitText(10*time.Second, "#login-error", "User name is required")
	p.Fill("#login-user", "admin")
	p.Fill("#login-password", "not-the-password")
	p.Click("#login-submit")
	p.WaitText(10*time.Second, "#login-error", "wrong user name or password")
	p.Login("admin", adminPassword)

	// Data sources through the form; bad input is refused field by field and creates nothing.
	p.open("datasources")
	p.Click("#ds-new")
	p.Fill("#ds-name", "src")
	p.Fill("#ds-port", "99999")
	p.Fill("#ds-tlsCa", "not a certificate")
	p.Click("#ds-save")
	p.WaitText(10*time.Second, "#err-ds-host", "Host is required")
	p.WaitText(10*time.Second, "#err-ds-port", "Port must be a number from 1 to 65535")
	p.WaitText(10*time.Second, "#err-ds-tlsCa", "CA certificate must be PEM text")
	chrome.Eval[bool](p.Page, `document.querySelector('#ds-tlsCa').value = ''; true`)
	if list, _ := c.cli.ListDataSource(ctx, api.ListDataSourceRequest{}); len(list) != 0 {
		t.Fatalf("a refused form created data sources: %+v", list)
	}
	for _, ds := range []struct {
		name string
		port int
	}{{"src", src.Port}, {"dst", dst.Port}} {
		if ds.name == "dst" {
			p.Click("#ds-new")
			p.Fill("#ds-name", ds.name)
			// The target's TLS mode from the form (the test servers have no TLS).
			p.Do("TLS disabled", chromedp.SetValue(chromedp.CSS("#ds-tlsMode"), "disabled"))
		}
		p.Fill("#ds-host", "127.0.0.1")
		p.Fill("#ds-port", fmt.Sprint(ds.port))
		p.Fill("#ds-userName", "root")
		p.Click("#ds-test")
		p.WaitText(20*time.Second, "#ds-test-result", "Connected")
		p.Click("#ds-save")
		p.WaitJS(20*time.Second, "data source "+ds.name+" listed", fmt.Sprintf(`!!document.querySelector('tr[data-ds=%q]')`, ds.name))
	}
	// The server's refusal (a duplicate name) shows in the form and names the data source.
	p.Click("#ds-new")
	p.Fill("#ds-name", "src")
	p.Fill("#ds-host", "127.0.0.1")
	p.Fill("#ds-port", "3306")
	p.Fill("#ds-userName", "root")
	p.Click("#ds-save")
	p.WaitText(20*time.Second, "#ds-error", `data source "src" already exists`)
	p.screenshot("datasources")
	sources, err := c.cli.ListDataSource(ctx, api.ListDataSourceRequest{})
	if err != nil || len(sources) != 2 {
		t.Fatalf("data sources after the forms: %+v %v", sources, err)
	}
	ids := map[string]string{}
	for _, d := range sources {
		ids[d.Name] = d.ID
		if want := map[string]string{"src": "preferred", "dst": "disabled"}[d.Name]; d.TLSMode != want || d.TLSCA != "" {
			t.Fatalf("data source %s: TLS %q CA %q, want %s without a CA", d.Name, d.TLSMode, d.TLSCA, want)
		}
	}

	// The wizard: an empty form is refused by field, then a valid project is created and started.
	p.open("new-project")
	p.Click("#wiz-create")
	p.WaitText(10*time.Second, "#err-name", "Name is required")
	p.WaitText(10*time.Second, "#err-source", "Source data source is required")
	if list, _ := c.cli.ListProjects(ctx, api.ListProjectsRequest{}); len(list) != 0 {
		t.Fatalf("a refused wizard created projects: %+v", list)
	}
	p.Fill("#wiz-name", "shop-to-dst")
	p.Do("choose data sources", chromedp.SetValue(chromedp.CSS("#wiz-source"), ids["src"]), chromedp.SetValue(chromedp.CSS("#wiz-target"), ids["dst"]))
	p.Click("#wiz-test-source")
	p.WaitText(20*time.Second, "#wiz-test-source-result", "OK")
	p.Fill("#wiz-rules .rule .db", "shop")
	p.Fill("#wiz-rules .rule .table", "sbtest*")
	// A column subset (pad stays on the source), refused inline while it has a stray comma.
	p.Fill("#wiz-rules .rule .columns", "id, k,, c")
	p.WaitText(10*time.Second, "#err-rules", "Columns has an empty name")
	p.Fill("#wiz-rules .rule .columns", "id, k, c")
	p.WaitText(20*time.Second, "#wiz-validation", "Valid.")
	p.screenshot("new-project")
	p.Click("#wiz-create")
	p.WaitJS(30*time.Second, "project page", `location.hash.startsWith('#/project/') && document.body.dataset.page === 'project'`)
	list, err := c.cli.ListProjects(ctx, api.ListProjectsRequest{})
	if err != nil || len(list) != 1 {
		t.Fatalf("projects after the wizard: %+v %v", list, err)
	}
	pid := list[0].ID
	// A second project (through the API) whose verification finds a difference.
	vid := startProjectWithDifference(t, c.cli, src.DB(), dst.DB(), ids["src"], ids["dst"])

	// Incremental MONITORING shows in the step timeline, and the lag chart draws.
	p.WaitJS(3*time.Minute, "INCR_TRANSFER MONITORING in the timeline",
		`[...document.querySelectorAll('#project-steps tr')].some((tr) => tr.textContent.includes('INCR_TRANSFER') && tr.textContent.includes('MONITORING'))`)
	p.WaitJS(90*time.Second, "lag and rows/s charts with points", `(() => {
		const ch = window.Chart && Chart.getChart('chart-lag');
		if (!ch || ch.data.datasets[0].data.length < 2) return false;
		const rows = Chart.getChart('chart-rows');
		if (!rows || rows.data.datasets[0].data.length < 2) return false;
		const c = document.getElementById('chart-lag');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		let painted = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
		return painted > 1000;
	})()`)
	p.screenshot("project")
	assertColumnSubset(t, dst.DB(), pid, c.cli)

	// One node of the region stops: the VIP sends everything to the other, and the session (kept
	// in the MetaDB) goes on there.
	c.nodes[1].stop()
	t.Logf("node %s stopped; the browser goes on through the VIP %s", c.nodes[1].ip, vip)
	p.open("overview")
	p.open("project/" + pid)

	// Pause and resume from the UI.
	p.Click("#act-pause")
	scenario.WaitFor(t, 30*time.Second, "project paused", func() (bool, string) {
		pr, err := c.cli.DescribeProject(ctx, pid)
		return err == nil && pr.Status == api.StateSuspend, fmt.Sprint(pr.Status, err)
	})
	p.WaitJS(20*time.Second, "resume button", `!!document.querySelector('#act-resume')`)
	p.Click("#act-resume")
	scenario.WaitFor(t, 30*time.Second, "project resumed", func() (bool, string) {
		pr, err := c.cli.DescribeProject(ctx, pid)
		return err == nil && pr.Status == api.StateRunning, fmt.Sprint(pr.Status, err)
	})

	// An error provoked on the target, shown with its advice and skipped from the UI.
	p.skipRefusedEvent(c.cli, src.DB(), dst.DB(), pid)

	// Every page renders; screenshots and render times.
	// Alert rules and channels through their forms; a host's history and a component's log.
	p.configureAlerts(c.cli, pid)
	p.hostHistoryAndLog(c.nodes[0].ip, pid)

	for _, name := range consolePages {
		p.open(name)
		if name != "new-project" && name != "datasources" && name != "alerts" {
			p.screenshot(name)
		}
	}
	p.open("project/" + pid)
	p.WaitJS(20*time.Second, "audit of the UI's actions", `true`)
	events, _, err := c.cli.ListAuditEvents(ctx, api.ListAuditEventsRequest{UserName: "admin", Action: api.ActionStopProject})
	if err != nil || len(events) != 1 || events[0].Resource != pid {
		t.Fatalf("audit of the UI's pause: %+v %v", events, err)
	}

	// The verification's per-table counts and its fix SQL, downloaded from the project page.
	assertFixSQL(t, p.downloadFixSQL(c.cli, vid))

	// Log out; the session is gone for the API too.
	p.Click("#logout")
	p.WaitJS(20*time.Second, "login form after logout", `!!document.querySelector('#login-user')`)
	if st := p.apiStatus(api.ActionListProjects, api.Empty{}); st != 401 {
		t.Fatalf("API call after logout: HTTP %d, want 401", st)
	}

	// A viewer sees the project but cannot change it: the API answers 403.
	p.Login("vic", "viewer-pw-1")
	p.open("project/" + pid)
	p.WaitJS(20*time.Second, "pause disabled for a viewer", `!!(document.querySelector('#act-pause') && document.querySelector('#act-pause').disabled)`)
	if st := p.apiStatus(api.ActionStopProject, api.ProjectIDRequest{ID: pid}); st != 403 {
		t.Fatalf("viewer's StopProject: HTTP %d, want 403", st)
	}
	// Logs can hold row values: a viewer cannot read them.
	if st := p.apiStatus(api.ActionDescribeComponentLog, api.DescribeComponentLogRequest{ID: pid + "-incr-sync"}); st != 403 {
		t.Fatalf("viewer's DescribeComponentLog: HTTP %d, want 403", st)
	}
	if pr, _ := c.cli.DescribeProject(ctx, pid); pr.Status != api.StateRunning {
		t.Fatalf("after the viewer's refused pause the project is %s", pr.Status)
	}
	p.Click("#logout")
	p.WaitJS(20*time.Second, "login form after logout", `!!document.querySelector('#login-user')`)

	names := make([]string, 0, len(p.renders))
	for n := range p.renders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("render %-12s %6.0f ms", n, p.renders[n])
	}
	t.Logf("screenshots in %s", p.Shots)
}

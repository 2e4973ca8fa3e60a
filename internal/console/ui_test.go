package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// actionCall is how the UI's JavaScript names an OpenAPI action: api('Name', ...), apiPage('Name', ...),
// apiAll('Name', ...) or apiDownload('Name', ...). The UI's only other way to reach the server, fetch(), lives in api.js.
var actionCall = regexp.MustCompile(`\bapi(?:All|Page|Download)?\(\s*['"]([A-Za-z]+)['"]`)

// TestUICallsOnlyOpenAPIActions: everything the UI does goes through a registered action.
func TestUICallsOnlyOpenAPIActions(t *testing.T) {
	s := &Server{}
	s.routes = s.allRoutes()
	s.SetAlerts(nil) // registers the alert actions (their handlers are not called here)
	routes := s.routes
	a := loadAssets()
	seen := map[string]bool{}
	for name, b := range a.files {
		if !strings.HasSuffix(name, ".js") || strings.HasPrefix(name, "vendor/") {
			continue
		}
		src := string(b)
		if strings.Contains(src, "fetch(") && name != "api.js" {
			t.Errorf("%s calls fetch() directly; go through api.js", name)
		}
		if strings.Contains(src, "XMLHttpRequest") || strings.Contains(src, "WebSocket") || strings.Contains(src, "EventSource") {
			t.Errorf("%s talks to the server outside the OpenAPI", name)
		}
		for _, m := range actionCall.FindAllStringSubmatch(src, -1) {
			seen[m[1]] = true
			if _, ok := routes[m[1]]; !ok {
				t.Errorf("%s calls %q, which is not an OpenAPI action", name, m[1])
			}
		}
	}
	for _, must := range []string{"Login", "Logout", "ListProjects", "CreateProject", "DescribeProjectMetrics", "ListAuditEvents", "DescribeVerificationResult", "DownloadVerificationFixSQL"} {
		if !seen[must] {
			t.Errorf("the UI never calls %s (the pattern may have missed the calls)", must)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d actions found in the UI: %v", len(seen), seen)
	}
}

func TestUIServedWithVersionedAssets(t *testing.T) {
	s := &Server{assets: loadAssets()}
	mux := http.NewServeMux()
	s.serveUI(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/")
	v := s.assets.version
	if resp.StatusCode != 200 || !strings.Contains(body, "/static/"+v+"/app.js") || strings.Contains(body, versionPlaceholder) {
		t.Fatalf("index: %d, version %s not filled in:\n%s", resp.StatusCode, v, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("index headers: %v", resp.Header)
	}
	resp, _ = get("/static/" + v + "/app.js")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("app.js: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = get("/static/old/app.js")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("old version's app.js: %d %v", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/static/" + v + "/nope.js", "/static/" + v + "/../console.go", "/nope"} {
		if resp, _ := get(p); resp.StatusCode != 404 {
			t.Fatalf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

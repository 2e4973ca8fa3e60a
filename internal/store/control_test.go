package store

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/omserr"
)

// TestControlEndpoints checks the Store's control endpoints answer through httpx: strict bodies,
// the 1 MiB limit, and errors as {"code","message","advice"} with the list's status.
func TestControlEndpoints(t *testing.T) {
	_, srv := newTestServer(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"ack", "POST", "/v1/ack", `{"consumer":"c1","gtid_set":"0-1-5"}`, 200, ""},
		{"ack unknown field", "POST", "/v1/ack", `{"consumer":"c1","gtid_set":"0-1-5","x":1}`, 400, omserr.StoreBadRequest},
		{"ack no body", "POST", "/v1/ack", ``, 400, omserr.StoreBadRequest},
		{"ack bad set", "POST", "/v1/ack", `{"consumer":"c1","gtid_set":"nonsense"}`, 400, omserr.StoreBadRequest},
		{"ack too large", "POST", "/v1/ack", `{"consumer":"` + strings.Repeat("c", httpx.MaxBody) + `"}`, 413, omserr.APIBodyTooLarge},
		{"unregister trailing data", "POST", "/v1/unregister", `{"consumer":"c1"}{}`, 400, omserr.StoreBadRequest},
		{"read without consumer", "GET", "/v1/read", ``, 400, omserr.StoreBadRequest},
		{"consumers", "GET", "/v1/consumers", ``, 200, ""},
		{"unregister", "POST", "/v1/unregister", `{"consumer":"c1"}`, 200, ""},
	} {
		w := httptest.NewRecorder()
		srv.handler.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if w.Code != tc.status {
			t.Errorf("%s: HTTP %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
			continue
		}
		if tc.code == "" {
			continue
		}
		var e struct{ Code, Message, Advice string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != tc.code || e.Message == "" || e.Advice == "" {
			t.Errorf("%s: body %s, want code %s with message and advice", tc.name, w.Body, tc.code)
		}
	}
	if got := srv.consumers.List(); len(got) != 0 {
		t.Errorf("consumers after unregister: %v", got)
	}
	w := httptest.NewRecorder()
	srv.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/consumers", nil))
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

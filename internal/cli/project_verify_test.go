package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
)

// `oms project verify-result` exits 0 only when the verification found source and target equal;
// differences (rows or definitions) exit 1 after the table is printed, so a script can tell.
func TestVerifyResultExitStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  api.VerificationResult
		code int
	}{
		{"equal", api.VerificationResult{Equal: true, Tables: []api.VerificationTable{{Table: "d.t", Target: "d.t", RowsCompared: 3}}}, 0},
		{"rows", api.VerificationResult{Different: 1, Tables: []api.VerificationTable{{Table: "d.t", Target: "d.t", RowsCompared: 3, Different: 1}}}, 1},
		{"schema", api.VerificationResult{SchemaDifferent: 1, Tables: []api.VerificationTable{{Table: "d.t", Target: "d.t", SchemaDifferences: []string{"column c: int vs bigint"}}}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("Action") != api.ActionDescribeVerificationResult {
					http.Error(w, "unexpected", http.StatusTeapot)
					return
				}
				data, _ := json.Marshal(tc.res)
				_ = json.NewEncoder(w).Encode(api.Envelope{Success: true, Data: data})
			}))
			defer srv.Close()
			out, code := run(t, "project", "verify-result", "p1", "--server", srv.URL)
			if code != tc.code || !strings.Contains(out, "d.t") {
				t.Fatalf("exit %d, want %d, and the table printed:\n%s", code, tc.code, out)
			}
		})
	}
}

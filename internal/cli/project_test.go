package cli_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A project file whose row filter smuggles a UNION or an INTO is refused with exit 3 before any
// call reaches the console: not even the inline data sources are created.
func TestProjectCreateRefusesInjectedFilter(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	for _, tc := range []struct{ where, names string }{
		{"1=0) UNION ALL SELECT User, Password FROM mysql.user WHERE (1=1", "FILTER_UNION"},
		{"1=1) INTO OUTFILE '/tmp/x' -- ", "FILTER_INTO"},
		{"(SELECT 1)", "FILTER_SUBQUERY"},
	} {
		file := filepath.Join(t.TempDir(), "project.yaml")
		body := "name: p\n" +
			"source: {name: s, host: 127.0.0.1, port: 3306, userName: root}\n" +
			"sink: {name: d, host: 127.0.0.1, port: 3307, userName: root}\n" +
			"transferMapping:\n  tables:\n    - db: shop\n      table: t\n      where: " + yamlQuote(tc.where) + "\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := run(t, "project", "create", "-f", file, "--server", srv.URL)
		if code != 3 || !strings.Contains(out, tc.names) {
			t.Errorf("where %q: exit %d, want 3 naming %s:\n%s", tc.where, code, tc.names, out)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls reached the console", n)
	}
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

package metrics

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

// shipped are the monitoring files `make dist` puts in the package for teams with their own
// Prometheus and Grafana.
var shipped = []string{"../../deploy/prometheus/oms-rules.yml", "../../deploy/grafana/oms-dashboard.json"}

// definedNames are the string constants of names.go that are metric names.
func definedNames(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "oms_") {
				out[v] = true
			}
		}
		return true
	})
	return out
}

// The shipped rules pass promtool, the dashboard is JSON, and both use only series oms exports.
func TestShippedRulesAndDashboard(t *testing.T) {
	names := definedNames(t)
	series := regexp.MustCompile(`oms_[a-z_]+`)
	for _, p := range shipped {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".json") {
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		for _, m := range series.FindAllString(string(raw), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
			if !names[base] {
				t.Errorf("%s uses %s, which oms does not export (internal/metrics/names.go)", filepath.Base(p), m)
			}
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.SkipOrFail(t, "promtool is not installed (Debian package prometheus; scripts/install-deps.sh installs it with OMS_DEPLOY_DEPS=1)")
	}
	if out, err := exec.Command(promtool, "check", "rules", shipped[0]).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

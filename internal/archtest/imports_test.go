package archtest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestImportRules(t *testing.T) {
	pkgs, err := listModule("")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations(rules, pkgs) {
		t.Error(v)
	}
}

// plant is a throwaway package the overlay adds to the module: its directory (module-relative)
// and the packages it imports.
type plant struct {
	dir     string
	imports []string
}

// TestRulesCatchPlantedViolations adds packages that break each rule (through an intermediate
// package where the rule is transitive) and packages that keep to them, with a `go list
// -overlay` on the real module, and checks that violations reports exactly the broken rules.
func TestRulesCatchPlantedViolations(t *testing.T) {
	plants := []plant{
		// Intermediate packages no rule applies to.
		{"internal/archplant/viametadb", []string{mod + "internal/metadb"}},
		{"internal/archplant/viaconsole", []string{mod + "internal/console"}},
		{"internal/archplant/viabinlog", []string{mod + "internal/binlog"}},
		// Violations.
		{"internal/verify/archplant", []string{mod + "internal/archplant/viametadb"}},
		{"internal/store/archplant", []string{mod + "internal/project"}},
		{"internal/deploy/archplant", []string{mod + "internal/archplant/viaconsole"}},
		{"api/archplant", []string{mod + "internal/omserr"}},
		{"internal/archplant/replication", []string{replication}},
		{"internal/archplant/gomysql", []string{goMySQL + "/mysql"}},
		// Allowed: binlog imports go-mysql; others reach it only through binlog.
		{"internal/binlog/archplant", []string{replication}},
		{"internal/incrsync/archplant", []string{mod + "internal/archplant/viabinlog"}},
	}
	want := map[string]string{ // planted package -> "rule name: a dependency it must be reported with"
		"internal/verify/archplant":      rules[0].name + ": " + mod + "internal/metadb",
		"internal/store/archplant":       rules[0].name + ": " + mod + "internal/project",
		"internal/deploy/archplant":      ruleFor(t, "internal/deploy").name + ": " + mod + "internal/console",
		"api/archplant":                  rules[1].name + ": " + mod + "internal/omserr",
		"internal/archplant/replication": rules[2].name + ": " + replication,
		"internal/archplant/gomysql":     rules[2].name + ": " + goMySQL + "/mysql",
	}

	pkgs, err := listModule(writeOverlay(t, plants))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // planted package -> "rule: dep" reported
	for _, v := range violations(rules, pkgs) {
		rel := strings.TrimPrefix(v.pkg, mod)
		if !slices.ContainsFunc(plants, func(p plant) bool { return p.dir == rel }) {
			t.Errorf("violation outside the planted packages: %s", v)
			continue
		}
		got[rel] = append(got[rel], v.rule+": "+v.dep)
	}
	for p, w := range want {
		if !slices.Contains(got[p], w) {
			t.Errorf("planted %s: want the violation %q, got %q", p, w, got[p])
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("planted %s keeps to the rules but was reported: %q", p, g)
		}
	}
}

// ruleFor returns the role rule that applies to the role package p.
func ruleFor(t *testing.T, p string) rule {
	for _, r := range rules {
		if slices.Equal(r.from, []string{mod + p}) {
			return r
		}
	}
	t.Fatalf("no rule for %s", p)
	return rule{}
}

// writeOverlay writes one Go file per plant and the overlay file that places them in the
// module, and returns the overlay's path.
func writeOverlay(t *testing.T, plants []plant) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	tmp := t.TempDir()
	replace := map[string]string{}
	for i, p := range plants {
		var src strings.Builder
		src.WriteString("package archplant\n\nimport (\n")
		for _, imp := range p.imports {
			src.WriteString("\t_ \"" + imp + "\"\n")
		}
		src.WriteString(")\n")
		file := filepath.Join(tmp, filepath.Base(p.dir)+"_"+string(rune('a'+i))+".go")
		if err := os.WriteFile(file, []byte(src.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		replace[filepath.Join(root, p.dir, "planted.go")] = file
	}
	raw, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return overlay
}

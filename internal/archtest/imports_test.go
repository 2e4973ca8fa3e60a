// Package archtest checks the import rules of docs/architecture.md §4 on the whole module, so a
// layering mistake fails CI instead of growing.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/omsdev/oms/"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps=false", "-json=ImportPath,Imports,Deps", "github.com/omsdev/oms/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// under reports whether import path p is the internal package name or below it.
func under(p, name string) bool {
	full := mod + "internal/" + name
	return p == full || strings.HasPrefix(p, full+"/")
}

func TestImportRules(t *testing.T) {
	dataPlane := []string{"store", "incrsync", "fullimport", "verify", "binlog", "schema", "changelog", "selection", "sqlgen", "heartbeat"}
	controlPlane := []string{"cm", "console", "supervisor", "deploy", "project"}
	roles := []string{"cm", "console", "supervisor", "deploy"}
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/go-mysql-org/go-mysql") && !under(p.ImportPath, "binlog") {
				t.Errorf("%s imports %s: only internal/binlog may import go-mysql", p.ImportPath, imp)
			}
			if strings.HasPrefix(p.ImportPath, mod+"api") && strings.HasPrefix(imp, mod+"internal/") {
				t.Errorf("%s imports %s: api/ imports nothing under internal/", p.ImportPath, imp)
			}
			for _, r := range roles {
				for _, other := range roles {
					if r != other && under(p.ImportPath, r) && under(imp, other) {
						t.Errorf("%s imports %s: role packages do not import each other", p.ImportPath, imp)
					}
				}
			}
		}
		for _, d := range dataPlane {
			if !under(p.ImportPath, d) {
				continue
			}
			for _, dep := range p.Deps {
				for _, c := range controlPlane {
					if under(dep, c) {
						t.Errorf("%s depends on %s: data-plane packages import no control-plane package", p.ImportPath, dep)
					}
				}
			}
		}
	}
}

func TestRulesCatchViolations(t *testing.T) {
	if !under(mod+"internal/store/segment", "store") || under(mod+"internal/storex", "store") {
		t.Fatal("under() is wrong, so TestImportRules could not fail")
	}
}

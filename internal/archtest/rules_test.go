// Package archtest checks the import rules of docs/architecture.md §4 on the whole module, so a
// layering mistake fails the tests instead of growing. The rules are data (the table rules); one
// function (violations) evaluates them over `go list` output, for the real tree and for a tree
// with planted violations alike.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

const mod = "github.com/omsdev/oms/"

// Layers of docs/architecture.md §4, as import paths (each covers its subpackages).
var (
	// dataPlane moves rows; it runs inside components and knows nothing of MetaDB or projects.
	dataPlane = internal("store", "incrsync", "fullimport", "verify", "binlog", "schema", "changelog",
		"selection", "sqlgen", "heartbeat", "ddl", "rowfilter", "keyset", "fence", "bidir", "conflict")
	// controlPlane decides what runs where (with the task records and the keyring in MetaDB) and
	// reports it (tsdb, alert, audit); roles are its parts that run as separate services.
	controlPlane = internal("cm", "console", "supervisor", "deploy", "project", "task", "secret", "clusterca", "verifyresult", "tsdb", "alert", "audit")
	roles        = internal("cm", "console", "supervisor", "deploy")
	metadb       = internal("metadb")
)

// goMySQL is the binlog client library: internal/binlog wraps it (replication is its binlog
// reader) into Position, GTIDSet and Capture so nothing else depends on its types.
const (
	goMySQL     = "github.com/go-mysql-org/go-mysql"
	replication = goMySQL + "/replication"
)

// rule forbids packages under one of from (but not under except) to depend on a package under
// one of to: through any chain of imports, or, when direct, by importing it themselves.
type rule struct {
	name   string
	from   []string
	except []string
	to     []string
	direct bool
}

// rules is the table the tests evaluate.
var rules = append([]rule{
	{name: "data-plane packages depend on no control-plane package and not on MetaDB",
		from: dataPlane, to: append(slices.Clone(controlPlane), metadb...)},
	{name: "api/ depends on nothing under internal/", from: []string{mod + "api"}, to: []string{mod + "internal"}},
	{name: "only internal/binlog imports go-mysql (its replication package above all)",
		from: []string{strings.TrimSuffix(mod, "/")}, except: internal("binlog"), to: []string{goMySQL}, direct: true},
}, append(roleRules(),
	rule{name: "the supervisor runs tasks from their records, not from the project orchestrator",
		from: internal("supervisor"), to: internal("project")})...)

// roleRules keeps each role independent of the others, also through intermediate packages.
func roleRules() []rule {
	var out []rule
	for _, r := range roles {
		others := slices.DeleteFunc(slices.Clone(roles), func(o string) bool { return o == r })
		out = append(out, rule{name: "role packages do not depend on each other (" + strings.TrimPrefix(r, mod) + ")",
			from: []string{r}, to: others})
	}
	return out
}

func internal(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = mod + "internal/" + n
	}
	return out
}

// under reports whether import path p is one of prefixes or below one of them.
func under(p string, prefixes []string) bool {
	for _, x := range prefixes {
		if p == x || strings.HasPrefix(p, x+"/") {
			return true
		}
	}
	return false
}

// pkg is the part of `go list -json` the rules read: Deps is every package ImportPath depends on,
// directly or not (what `go list -deps` walks).
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// violation is one package breaking one rule through one dependency.
type violation struct {
	rule, pkg, dep string
}

func (v violation) String() string { return fmt.Sprintf("%s depends on %s: %s", v.pkg, v.dep, v.rule) }

// violations evaluates rs over pkgs.
func violations(rs []rule, pkgs []pkg) []violation {
	var out []violation
	for _, p := range pkgs {
		for _, r := range rs {
			if !under(p.ImportPath, r.from) || under(p.ImportPath, r.except) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				if under(d, r.to) {
					out = append(out, violation{rule: r.name, pkg: p.ImportPath, dep: d})
				}
			}
		}
	}
	return out
}

// listModule runs `go list` over the module as the build sees it, with the files of an overlay
// (`go build -overlay`) when overlay is not "".
func listModule(overlay string) ([]pkg, error) {
	args := []string{"list", "-e", "-json=ImportPath,Imports,Deps,Error"}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.Command("go", append(args, mod+"...")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			pkg
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list: package %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p.pkg)
	}
	if len(pkgs) < 5 {
		return nil, fmt.Errorf("go list found only %d packages", len(pkgs))
	}
	return pkgs, nil
}

package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRequestFieldIsBounded walks every api type the console decodes a request into (`var
// req api.X` in its sources) and the api structs they contain: each string, *string, []string
// and map[string]string field must carry a `maxlen` tag that fieldLimit resolves, so a new
// request field cannot reach the MetaDB unbounded.
func TestEveryRequestFieldIsBounded(t *testing.T) {
	structs := apiStructs(t)
	var roots []string
	decl := regexp.MustCompile(`var req api\.(\w+)`)
	srcs, _ := filepath.Glob("*.go")
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			roots = append(roots, m[1])
		}
	}
	if len(roots) < 20 {
		t.Fatalf("found only %d request types: %v", len(roots), roots)
	}
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		st, ok := structs[name]
		if !ok {
			t.Errorf("api.%s: not a struct of package api", name)
			return
		}
		for _, fl := range st.Fields.List {
			tag := ""
			if fl.Tag != nil {
				tag, _ = strconv.Unquote(fl.Tag.Value)
			}
			ref, tagged := reflect.StructTag(tag).Lookup("maxlen")
			typ := typeString(fl.Type)
			for _, n := range fl.Names {
				switch {
				case typ == "string" || typ == "*string" || typ == "[]string" || typ == "map[string]string":
					if !tagged {
						t.Errorf("api.%s.%s (%s) has no maxlen tag", name, n.Name, typ)
					} else if _, _, ok := fieldLimit(ref); !ok {
						t.Errorf("api.%s.%s: maxlen %q resolves to no limit", name, n.Name, ref)
					}
				case structs[strings.TrimLeft(typ, "[]*")] != nil:
					walk(strings.TrimLeft(typ, "[]*"))
				}
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	for _, nested := range []string{"TransferMapping", "TableRule"} {
		if !seen[nested] {
			t.Errorf("api.%s was not walked", nested)
		}
	}
}

// apiStructs parses package api's struct types.
func apiStructs(t *testing.T) map[string]*ast.StructType {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), "../../api", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ast.StructType{}
	for _, p := range pkgs {
		for _, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok {
					if st, ok := ts.Type.(*ast.StructType); ok {
						out[ts.Name.Name] = st
					}
				}
				return true
			})
		}
	}
	return out
}

func typeString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return "*" + typeString(x.X)
	case *ast.ArrayType:
		return "[]" + typeString(x.Elt)
	case *ast.MapType:
		return "map[" + typeString(x.Key) + "]" + typeString(x.Value)
	case *ast.SelectorExpr:
		return typeString(x.X) + "." + x.Sel.Name
	}
	return "?"
}

package omserr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

func TestCodeList(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c.Code] {
			t.Errorf("%s is listed twice", c.Code)
		}
		seen[c.Code] = true
		if !upperSnake.MatchString(c.Code) {
			t.Errorf("%s is not UPPER_SNAKE", c.Code)
		}
		if _, ok := Areas[c.Area]; !ok {
			t.Errorf("%s: area %q is not one of Areas", c.Code, c.Area)
		}
		if !strings.HasPrefix(c.Code, c.Area+"_") {
			t.Errorf("%s does not start with its area %s_", c.Code, c.Area)
		}
		if c.Status < 400 || c.Status > 599 || http.StatusText(c.Status) == "" {
			t.Errorf("%s: HTTP status %d is not an error status", c.Code, c.Status)
		}
		if m := strings.TrimSpace(c.Meaning); m == "" || strings.Contains(m, "\n") || strings.HasSuffix(m, ".") {
			t.Errorf("%s: meaning %q must be one line without a final full stop", c.Code, c.Meaning)
		}
	}
	// Every constant of codes.go is in the list (a constant added without an entry has no status
	// and no documentation).
	for name, val := range codeConsts(t) {
		if !seen[val] {
			t.Errorf("constant %s = %q is not in the list", name, val)
		}
	}
	if HTTPStatus("NO_SUCH_CODE") != 500 || HTTPStatus("") != 500 || HTTPStatus(StorePositionPurged) != http.StatusGone {
		t.Error("HTTPStatus does not follow the list")
	}
}

// codeConsts returns the string constants declared in codes.go.
func codeConsts(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						out[n.Name] = v
					}
				}
			}
		}
	}
	if len(out) < len(codes) {
		t.Fatalf("found %d code constants in codes.go, the list has %d", len(out), len(codes))
	}
	return out
}

// TestNoCodeLiterals walks every Go source of the module outside this package (tests excepted:
// they may pin the wire strings) and fails on a code written as a string literal.
func TestNoCodeLiterals(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "omserr":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, p := range codeLiterals(t, path, src) {
			t.Errorf("%s: use the omserr constant, not a string literal", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("walked only %d Go files from %s: wrong root?", n, root)
	}
}

// TestCodeLiteralsFound plants each kind of violation and sees codeLiterals report it.
func TestCodeLiteralsFound(t *testing.T) {
	src := `package x
import "github.com/omsdev/oms/internal/omserr"
var a = omserr.New("X_NEW_CODE", "m", "a")
var b = omserr.Wrap(nil, "X_OTHER", "m", "a")
var c = &omserr.Error{Code: "Y_CODE"}
var d = "STORE_BINLOG_OFF"
var fine = omserr.New(omserr.StoreBinlogOff, "STORE", "FULL_TRANSFER")
`
	got := codeLiterals(t, "planted.go", []byte(src))
	want := []string{`"X_NEW_CODE"`, `"X_OTHER"`, `"Y_CODE"`, `"STORE_BINLOG_OFF"`}
	if len(got) != len(want) {
		t.Fatalf("found %q, want %d findings for %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("finding %d = %q, want it to name %s", i, got[i], w)
		}
	}
}

// codeLiterals returns "file:line: literal" for each string literal that is a listed code, or is
// the code argument of omserr.New/Wrap, or the Code field of an Error composite literal.
func codeLiterals(t *testing.T, path string, src []byte) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []string
	report := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			out = append(out, fset.Position(lit.Pos()).String()+": "+lit.Value)
		}
	}
	flagged := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok {
				break
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "omserr" {
				arg := -1
				switch sel.Sel.Name {
				case "New":
					arg = 0
				case "Wrap":
					arg = 1
				}
				if arg >= 0 && arg < len(x.Args) {
					flagged[x.Args[arg]] = true
					report(x.Args[arg])
				}
			}
		case *ast.CompositeLit:
			if !isErrorType(x.Type) {
				break
			}
			for _, el := range x.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
						flagged[kv.Value] = true
						report(kv.Value)
					}
				}
			}
		case *ast.BasicLit:
			if x.Kind != token.STRING || flagged[x] {
				break
			}
			if v, err := strconv.Unquote(x.Value); err == nil {
				if _, listed := byCode[v]; listed {
					report(x)
				}
			}
		}
		return true
	})
	return out
}

func isErrorType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.SelectorExpr:
		return x.Sel.Name == "Error"
	case *ast.Ident:
		return x.Name == "Error"
	}
	return false
}

// TestPermanent: the codes a restart cannot fix are known codes; an unreachable peer, an
// unknown failure and the fallbacks stay retryable.
func TestPermanent(t *testing.T) {
	for c := range permanent {
		if _, ok := Lookup(c); !ok {
			t.Errorf("permanent code %s is not in the list", c)
		}
	}
	for code, want := range map[string]bool{
		IncrRowConflict: true, StoreBinlogOff: true, FilterSyntax: true, IncrFenced: true,
		IncrTargetUnreachable: false, IncrTargetUnavailable: false, StoreSourceUnreachable: false, StoreDirLocked: false,
		IncrApplyFailed: false, ComponentFailed: false, FullFailed: false, "": false, "NO_SUCH_CODE": false,
	} {
		if Permanent(code) != want {
			t.Errorf("Permanent(%q) = %v, want %v", code, !want, want)
		}
	}
}

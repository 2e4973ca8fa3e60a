package safepath

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"orders", "orders"},
		{"order_items-2", "order_items-2"},
		{"x/../../../../tmp/y", "x%2F%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Ftmp%2Fy"},
		{"..", "%2E%2E"},
		{".", "%2E"},
		{"a b", "a%20b"},
		{`a\b`, "a%5Cb"},
		{"50%", "50%25"},
		{"db.table", "db%2Etable"},
		{"é", "%C3%A9"},
	} {
		if got := Name(tc.in); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Names that differ only by case, by length or by characters that get escaped never share a
// file, even on a case-insensitive file system; no name escapes its folder.
func TestNameDistinctAndContained(t *testing.T) {
	long := strings.Repeat("é", 64)
	names := []string{"orders", "Orders", "ORDERS", "oRders", "", " ", "..", ".", "/", "x/../../y", "a.b", "a%2Eb", "a~b",
		"Orders~" + Name("Orders")[7:], strings.Repeat("a", 64), strings.Repeat("A", 64), long, long[:len(long)-2] + "e",
		"日本語テーブル", "tab\tle", "nul\x00", `C:\x`}
	seen := map[string]string{}
	dir := t.TempDir()
	for _, n := range names {
		enc := Name(n)
		if prev, ok := seen[strings.ToLower(enc)]; ok {
			t.Errorf("Name(%q) = Name(%q) = %q (case-folded)", n, prev, enc)
		}
		seen[strings.ToLower(enc)] = n
		if enc == "" || enc == "." || enc == ".." || strings.ContainsAny(enc, `/\`) || len(enc)+5 > 255 {
			t.Errorf("Name(%q) = %q is not one safe path element", n, enc)
		}
		if Name(n) != enc {
			t.Errorf("Name(%q) is not stable", n)
		}
		p, err := File(dir, ".diff", n)
		if err != nil {
			t.Fatalf("File(%q): %v", n, err)
		}
		if filepath.Dir(p) != dir {
			t.Errorf("File(%q) = %s, not directly in %s", n, p, dir)
		}
		if err := os.WriteFile(p, []byte(n), 0o600); err != nil {
			t.Errorf("write %s: %v", p, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(names) {
		t.Errorf("%d files for %d names", len(ents), len(names))
	}
}

func TestInside(t *testing.T) {
	for _, tc := range []struct {
		dir, path string
		ok        bool
	}{
		{"/out", "/out/a.diff", true},
		{"/out", "/out", true},
		{"/out", "/out/../etc/passwd", false},
		{"/out", "/outside/x", false},
		{"/out", "/tmp/x", false},
		{"out", "out/sub/x", true},
		{"out", "out/../../x", false},
		{"/out", "/out/..x", true},
	} {
		if err := Inside(tc.dir, tc.path); (err == nil) != tc.ok {
			t.Errorf("Inside(%q, %q) = %v, want ok=%v", tc.dir, tc.path, err, tc.ok)
		}
	}
	if p, err := File("/out", ".sql", "a.b", "c"); err != nil || p != "/out/a%2Eb.c.sql" {
		t.Errorf("File = %q, %v", p, err)
	}
	if p, err := File("/out", ".sql", "a", "b.c"); err != nil || p != "/out/a.b%2Ec.sql" {
		t.Errorf("File = %q, %v", p, err)
	}
	p, err := Join("/run", "np_1", "../../etc")
	if err != nil || p != "/run/np_1/%2E%2E%2F%2E%2E%2Fetc" {
		t.Errorf("Join = %q, %v", p, err)
	}
}

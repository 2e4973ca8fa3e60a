package verifyresult

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/verify"
)

func TestTruncateSQL(t *testing.T) {
	for _, c := range []struct {
		name      string
		sql       string
		limit     int
		truncated bool
		keep      string
	}{
		{"fits", "DELETE 1;\nDELETE 2;\n", 100, false, "DELETE 1;\nDELETE 2;\n"},
		{"exactly at the limit", "DELETE 1;\n", 10, false, "DELETE 1;\n"},
		{"cut at a line end", strings.Repeat("DELETE 1;\n", 30), 200, true, "DELETE 1;\n"},
		{"one long line: nothing kept", strings.Repeat("x", 500), 200, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, truncated, err := truncateSQL([]byte(c.sql), c.limit, "10.0.0.1", "/data/run/x/output")
			if err != nil {
				t.Fatal(err)
			}
			if truncated != c.truncated {
				t.Fatalf("truncated = %v, want %v", truncated, c.truncated)
			}
			if !truncated {
				if string(out) != c.sql {
					t.Fatalf("out = %q, want the input", out)
				}
				return
			}
			if len(out) > c.limit {
				t.Fatalf("%d bytes out, limit %d", len(out), c.limit)
			}
			if !strings.HasPrefix(string(out), c.keep) || !strings.HasSuffix(string(out), "/data/run/x/output on 10.0.0.1\n") || !strings.Contains(string(out), "-- TRUNCATED") {
				t.Fatalf("out = %q", out)
			}
			body := strings.TrimSuffix(string(out), string(out[strings.Index(string(out), "-- TRUNCATED"):]))
			if body != "" && !strings.HasSuffix(body, "\n") {
				t.Fatalf("cut inside a statement: %q", body)
			}
		})
	}
}

func TestCollectFixSQL(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.t.sql"), []byte("DELETE FROM `a`.`t` WHERE `id` = 1 LIMIT 1;"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := verify.Report{Tables: []verify.TableResult{
		{Table: "a.t", Target: "b.t", SQLFile: "a.t.sql"},
		{Table: "a.equal", Target: "b.equal"},
	}}
	out, truncated, err := collectFixSQL(rep, dir, "h", 1<<20)
	if err != nil || truncated {
		t.Fatalf("collect: %v %v", truncated, err)
	}
	if want := "-- a.t -> b.t\nDELETE FROM `a`.`t` WHERE `id` = 1 LIMIT 1;\n"; string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// A report naming a file outside its dir is refused, not read.
	for _, bad := range []string{"../secret.sql", ".hidden", "/etc/passwd"} {
		rep.Tables[0].SQLFile = bad
		if _, _, err := collectFixSQL(rep, dir, "h", 1<<20); err == nil || !strings.Contains(err.Error(), "outside its dir") {
			t.Errorf("SQL file %q: err = %v", bad, err)
		}
	}
}

package metrics

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A trace line is "<unix ns> <hop> <gtid>", what bench/lagprobe parses.
func TestTraceLine(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "trace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := &tracer{f: f, w: bufio.NewWriter(f)}
	tr.mark(HopStoreDurable, "0-1-42", time.Unix(5, 7))
	tr.mark(HopIncrCommitted, "0-1-42", time.Unix(6, 0))
	if err := tr.w.Flush(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := "5000000007 store_durable 0-1-42\n6000000000 incr_commit 0-1-42\n"; string(b) != want {
		t.Fatalf("trace %q, want %q", b, want)
	}
	if Tracing() != (os.Getenv(TraceEnv) != "") {
		t.Fatal("Tracing does not follow " + TraceEnv)
	}
}

package component

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactLine(t *testing.T) {
	for in, want := range map[string]string{
		`{"msg":"connect","password":"hunter2","user":"root"}`:        `{"msg":"connect","password":"******","user":"root"}`,
		`{"source":{"addr":"h:3306","password":"******"}}`:            `{"source":{"addr":"h:3306","password":"******"}}`,
		`dsn user=root password=s3cr3t host=x`:                        `dsn user=root password="******" host=x`,
		`{"smtp_password":"a\"b","secret":"k","TOKEN": "t"}`:          `{"smtp_password":"******","secret":"******","TOKEN": "******"}`,
		`{"msg":"applying row","key":"(id=7)","table":"shop.orders"}`: `{"msg":"applying row","key":"(id=7)","table":"shop.orders"}`,
	} {
		if got := RedactLine(in); got != want {
			t.Errorf("RedactLine(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestReadLogTail: the last lines, bounded in count, bytes and line length, redacted.
func TestReadLogTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	var b strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&b, `{"n":%d,"password":"pw-%d"}`+"\n", i, i)
	}
	b.WriteString(strings.Repeat("x", 5000) + "\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, truncated, err := ReadLogTail(path, 3)
	if err != nil || !truncated || len(lines) != 3 {
		t.Fatalf("tail 3: %v %v %q", truncated, err, lines)
	}
	if lines[0] != `{"n":999,"password":"******"}` || !strings.HasSuffix(lines[2], " …") || len(lines[2]) > maxLogLineBytes+4 {
		t.Fatalf("tail 3: %q", lines)
	}
	all, _, _ := ReadLogTail(path, 1_000_000)
	if len(all) != MaxLogTailLines {
		t.Fatalf("asked for a million lines, got %d, want at most %d", len(all), MaxLogTailLines)
	}
	if strings.Contains(strings.Join(all, ""), "pw-") {
		t.Fatal("a password in the tail")
	}
	if lines, truncated, _ := ReadLogTail(path, 0); len(lines) != 1 || !truncated {
		t.Fatalf("lines 0 is one line: %d", len(lines))
	}
	big := filepath.Join(dir, "big.log")
	if err := os.WriteFile(big, []byte(strings.Repeat(strings.Repeat("y", 99)+"\n", 10000)), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, truncated, err = ReadLogTail(big, MaxLogTailLines)
	if err != nil || !truncated || len(lines) != MaxLogTailLines || lines[0] != strings.Repeat("y", 99) {
		t.Fatalf("big file: %d lines, truncated %v, %v", len(lines), truncated, err)
	}
	if _, _, err := ReadLogTail(filepath.Join(dir, "absent.log"), 10); !os.IsNotExist(err) {
		t.Fatalf("absent file: %v", err)
	}
}

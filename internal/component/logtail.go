package component

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// LogFile is the file in a component's work dir that its supervisor captures its output to.
const LogFile = "component.log"

// LogTailPath is where a node's supervisor serves the tail of one of its components' logs to
// the consoles of the cluster (GET ?task=<id>&lines=<n>, node certificates only).
const LogTailPath = "/supervisor/components/log"

// Bounds of a log tail: whatever is asked, at most MaxLogTailLines lines from the last
// maxLogTailBytes of the file, each cut at maxLogLineBytes.
const (
	MaxLogTailLines = 500
	maxLogTailBytes = 256 << 10
	maxLogLineBytes = 2 << 10
)

// LogTail is the end of a component's log as the console shows it.
type LogTail struct {
	TaskID string   `json:"taskId"`
	Host   string   `json:"host"`
	Lines  []string `json:"lines"`
	// Truncated: the file holds more than the lines returned.
	Truncated bool `json:"truncated"`
}

// secretValue finds the value of a key that names a secret (password, secret, token, ...) in a
// JSON or key=value log line, unless it is already masked.
var secretValue = regexp.MustCompile(`(?i)("?[a-z_]*(?:password|passwd|pwd|secret|token|authorization)[a-z_]*"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^\s,}]+)`)

// RedactLine masks secret values in one log line. Components never log a secret (their config
// types print ******); this is the second line of defence for what the console shows.
func RedactLine(line string) string {
	return secretValue.ReplaceAllStringFunc(line, func(m string) string {
		sub := secretValue.FindStringSubmatch(m)
		if strings.Trim(sub[2], `"`) == "******" {
			return m
		}
		return sub[1] + `"******"`
	})
}

// ReadLogTail returns the last n lines (1..MaxLogTailLines) of path, redacted and bounded.
func ReadLogTail(path string, n int) ([]string, bool, error) {
	n = max(1, min(n, MaxLogTailLines))
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	off := max(0, st.Size()-maxLogTailBytes)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	truncated := off > 0
	if truncated { // the first line is cut: drop it
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	if len(lines) > n {
		lines, truncated = lines[len(lines)-n:], true
	}
	for i, l := range lines {
		if len(l) > maxLogLineBytes {
			l = strings.ToValidUTF8(l[:maxLogLineBytes], "") + " …"
		}
		lines[i] = RedactLine(l)
	}
	return lines, truncated, nil
}

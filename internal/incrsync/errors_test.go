package incrsync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// TestTargetCrashIsRetried: the target is killed with SIGKILL while a backlog is applied and
// restarted a few seconds later. Lost connections are retried with backoff (a COMMIT whose
// outcome is unknown is settled by the checkpoint row), and the target ends identical.
func TestTargetCrashIsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("crash scenario")
	}
	p := newPair(t)
	p.dst = testenv.StartMariaDB(t) // a private target: this test kills it
	w := seedHot(t, p.src.DB(), p.db)
	w.run(t, 4, 400)
	cfg := p.config()
	cfg.MaxBatchTxns = 20 // many target commits, so the crash lands between and inside them
	r := start(t, cfg, fmt.Sprintf("crash-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	deadline := time.Now().Add(30 * time.Second)
	for r.s.Status().Metrics["target_commits_total"] < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", r.s.Status())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	p.dst.Kill9()
	time.Sleep(2 * time.Second) // the target stays down for a while: the syncer retries meanwhile
	if st := r.s.Status(); st.State != "RUNNING" {
		t.Fatalf("the syncer gave up while the target was down: %+v", st)
	}
	if err := p.dst.Restart(context.Background(), testenv.Options{}); err != nil {
		t.Fatal(err)
	}
	r.waitCaughtUp(t, p.src, 60*time.Second)
	for _, tb := range []string{"h1", "h2"} {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
}

// TestFatalTargetErrorNamesRow: a target error that retrying cannot fix (a value out of range
// for the target's narrower column) stops the task with the error number, table, key and GTID.
func TestFatalTargetErrorNamesRow(t *testing.T) {
	p := newPair(t)
	tb := q(p.db, "t")
	execAll(t, p.src.DB(), "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v INT)")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`", "CREATE TABLE "+tb+" (id INT PRIMARY KEY, v TINYINT)")
	cfg := p.config()
	cfg.StartGTID = gtidPos(t, p.src)
	execAll(t, p.src.DB(), "INSERT INTO "+tb+" VALUES (1, 1)", "INSERT INTO "+tb+" VALUES (2, 1000)")
	bad := gtidPos(t, p.src)
	r := start(t, cfg, fmt.Sprintf("fatal-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	err := r.waitFailed(t, 30*time.Second)
	var oe *omserr.Error
	if omserr.CodeOf(err) != omserr.IncrApplyFailed || !asErr(err, &oe) {
		t.Fatalf("want %s, got %v", omserr.IncrApplyFailed, err)
	}
	for _, want := range []string{tb, "id=2", bad, "1264"} {
		if !contains(oe.Message, want) {
			t.Fatalf("message %q does not name %q", oe.Message, want)
		}
	}
	if got := tableRows(t, p.dst.DB(), tb); fmt.Sprint(got) != fmt.Sprint([]string{`"1"|"1"`}) {
		t.Fatalf("target rows %q: the transaction before the failing one must be applied, the failing one not", got)
	}
}

// TestKeyTextReadable: keys in messages are text for readable charsets and hex for utf16,
// utf32, ucs2, binary and bytes that are not UTF-8.
func TestKeyTextReadable(t *testing.T) {
	cases := []struct {
		b       []byte
		charset string
		want    string
	}{
		{[]byte("abc"), "utf8mb4", "abc"},
		{[]byte("abc"), "latin1", "abc"},
		{[]byte{0, 'a'}, "utf16", "0x0061"},
		{[]byte{0, 0, 0, 'a'}, "utf32", "0x00000061"},
		{[]byte{0, 'a'}, "ucs2", "0x0061"},
		{[]byte{0xff, 0x01}, "", "0xff01"},
		{[]byte{0xe9}, "latin1", "0xe9"},
	}
	for _, c := range cases {
		if got := bytesText(c.b, c.charset); got != c.want {
			t.Errorf("%x in %s: %q, want %q", c.b, c.charset, got, c.want)
		}
	}
}

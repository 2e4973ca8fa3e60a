package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func counter(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"ééé", 2, "éé"},
		{"😀😀😀", 1, "😀"},
		{"a\xffb", 5, "a\uFFFDb"},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// Long and multi-byte text is cut by character to the columns: the row is never lost.
func TestWriteLongUTF8(t *testing.T) {
	m := metadbtest.Fresh(t)
	ctx := context.Background()
	name := strings.Repeat("数据", 128)  // 256 characters, 768 bytes
	user := strings.Repeat("😀", 70)    // 70 4-byte characters
	src := "10.0.0.1:5555\xff\xfe bad" // invalid UTF-8
	if err := Write(ctx, m.DB, m.Names.RM, Record{User: user, Source: src, Action: "CreateProject", Resource: name, Success: true}, quiet); err != nil {
		t.Fatal(err)
	}
	recs, err := Query(ctx, m.DB, m.Names.RM, Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %+v", err, recs)
	}
	r := recs[0]
	if utf8.RuneCountInString(r.Resource) != 255 || !strings.HasPrefix(name, r.Resource) || utf8.RuneCountInString(r.User) != 64 ||
		!utf8.ValidString(r.Source) || r.Origin != OriginAPI || !r.Success {
		t.Fatalf("row %+v", r)
	}
}

// A MetaDB that does not answer: Write retries, then returns the error and counts it.
func TestWriteFailureSurfaced(t *testing.T) {
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=1s", testenv.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := counter(WriteFailures)
	err = Write(context.Background(), db, "rm", Record{User: "u", Action: "StartProject"}, quiet)
	if err == nil || !strings.Contains(err.Error(), "write audit record of StartProject by u") {
		t.Fatalf("err %v", err)
	}
	if counter(WriteFailures) != before+1 {
		t.Fatal("failure not counted")
	}
}

// receiver is an HTTP sink endpoint that can be down.
type receiver struct {
	mu    sync.Mutex
	down  bool
	got   []Record
	posts int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.down {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	var body struct{ Records []Record }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Idempotency-Key") == "" {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, body.Records...)
}

func (rc *receiver) ids() []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []int64
	for _, r := range rc.got {
		out = append(out, r.ID)
	}
	return out
}

func writeN(t *testing.T, m metadbtest.MetaDB, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := Write(context.Background(), m.DB, m.Names.RM, Record{Origin: OriginCLI, User: "admin", Source: "h", Action: fmt.Sprintf("A%03d", i), Success: true}, quiet); err != nil {
			t.Fatal(err)
		}
	}
}

// exportAll runs ExportOnce until nothing is left or it fails.
func exportAll(e *Exporter) (int, error) {
	total := 0
	for {
		n, err := e.ExportOnce(context.Background())
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// The HTTP sink gets every record once, in order, in batches; while it is down nothing advances,
// the failure is counted and recorded for the alert, and it catches up when it is back. A second
// exporter (another node after a lease change) continues from the durable cursor.
func TestExportHTTPDownAndBack(t *testing.T) {
	m := metadbtest.Fresh(t)
	rc := &receiver{down: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sink := &HTTPSink{URL: srv.URL + "/audit"}
	e := NewExporter(m.DB, m.Names.RM, sink, time.Millisecond, quiet)
	e.settle = 0
	writeN(t, m, 0, 700)
	if n, err := exportAll(e); err == nil || n != 0 {
		t.Fatalf("down sink: n=%d err=%v", n, err)
	}
	var failing sql.NullTime
	var lastErr string
	if err := m.DB.QueryRow("SELECT failing_since, last_error FROM `"+m.Names.RM+"`.audit_sinks WHERE sink = ?", sink.Name()).Scan(&failing, &lastErr); err != nil ||
		!failing.Valid || !strings.Contains(lastErr, "503") {
		t.Fatalf("failure not recorded: %v %v %q", err, failing, lastErr)
	}
	if counter(e.failures) != 1 {
		t.Fatalf("failures %v", counter(e.failures))
	}
	rc.mu.Lock()
	rc.down = false
	rc.mu.Unlock()
	// deliver the first batch here, the rest from another exporter of the same sink
	if n, err := e.ExportOnce(context.Background()); err != nil || n != exportBatch {
		t.Fatalf("first batch: %d %v", n, err)
	}
	e2 := NewExporter(m.DB, m.Names.RM, sink, time.Millisecond, quiet)
	e2.settle = 0
	writeN(t, m, 700, 5)
	if n, err := exportAll(e2); err != nil || n != 205 {
		t.Fatalf("second exporter: %d %v", n, err)
	}
	ids := rc.ids()
	if len(ids) != 705 {
		t.Fatalf("delivered %d records, want 705", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("out of order or repeated at %d: %d after %d", i, ids[i], ids[i-1])
		}
	}
	if err := m.DB.QueryRow("SELECT failing_since FROM `"+m.Names.RM+"`.audit_sinks WHERE sink = ?", sink.Name()).Scan(&failing); err != nil || failing.Valid {
		t.Fatalf("failing_since not cleared: %v %v", err, failing)
	}
}

// The file sink appends JSON lines in order, rotating by size; the rotated files and the current
// one hold every record once, in order.
func TestExportFileRotates(t *testing.T) {
	m := metadbtest.Fresh(t)
	dir := t.TempDir()
	sink := &FileSink{Path: filepath.Join(dir, "audit", "audit.log"), MaxBytes: 4000, Keep: 50}
	e := NewExporter(m.DB, m.Names.RM, sink, time.Millisecond, quiet)
	e.settle = 0
	for round := 0; round < 10; round++ {
		writeN(t, m, round*10, 10)
		if _, err := exportAll(e); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(sink.Path + ".*")
	if len(files) < 2 {
		t.Fatalf("no rotation: %v", files)
	}
	var actions []string
	for i := len(files); i >= 1; i-- {
		actions = append(actions, readActions(t, fmt.Sprintf("%s.%d", sink.Path, i))...)
	}
	actions = append(actions, readActions(t, sink.Path)...)
	if len(actions) != 100 {
		t.Fatalf("%d records in the files, want 100", len(actions))
	}
	for i, a := range actions {
		if a != fmt.Sprintf("A%03d", i) {
			t.Fatalf("record %d is %s", i, a)
		}
	}
	// the settle delay holds back rows younger than it
	e.settle = time.Hour
	writeN(t, m, 100, 1)
	if n, err := e.ExportOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("unsettled row exported: %d %v", n, err)
	}
}

func readActions(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r.Action)
	}
	return out
}

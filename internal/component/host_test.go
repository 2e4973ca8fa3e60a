package component

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
)

// countingUnit is a test Unit that counts until cancelled or until limit.
type countingUnit struct {
	limit   int64
	n       atomic.Int64
	state   atomic.Value
	closed  atomic.Bool
	initErr error
}

func (u *countingUnit) Init(context.Context) error { return u.initErr }
func (u *countingUnit) Run(ctx context.Context) error {
	u.state.Store(StateRunning)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for u.n.Load() < u.limit {
		select {
		case <-ctx.Done():
			u.state.Store(StatePaused)
			return ctx.Err()
		case <-t.C:
			u.n.Add(1)
		}
	}
	u.state.Store(StateFinished)
	return nil
}
func (u *countingUnit) Status() Status {
	s, _ := u.state.Load().(string)
	return Status{Kind: "count", State: s, Metrics: map[string]float64{"records_total": float64(u.n.Load())}}
}
func (u *countingUnit) Close() error { u.closed.Store(true); return nil }

func writeSpec(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSpecErrors(t *testing.T) {
	for name, tc := range map[string]struct{ text, code string }{
		"unknown field": {`{"kind":"store","work_dir":"/tmp/x","bogus":1}`, "SPEC_INVALID"},
		"no kind":       {`{"work_dir":"/tmp/x"}`, "SPEC_INVALID"},
		"not json":      {`kind: store`, "SPEC_INVALID"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadSpec(writeSpec(t, tc.text))
			if omserr.CodeOf(err) != tc.code {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := ReadSpec("/nonexistent/spec.json"); omserr.CodeOf(err) != "SPEC_UNREADABLE" {
		t.Fatalf("got %v", err)
	}
	s, err := ReadSpec(writeSpec(t, `{"kind":"store","task_id":"t1","epoch":3,"work_dir":"/tmp/x","config":{"a":1}}`))
	if err != nil || s.Epoch != 3 {
		t.Fatalf("%+v %v", s, err)
	}
	var cfg struct{ A int }
	if err := s.DecodeConfig(&cfg); err != nil || cfg.A != 1 {
		t.Fatalf("decode %v %+v", err, cfg)
	}
	var strict struct{ B int }
	if err := s.DecodeConfig(&strict); omserr.CodeOf(err) != "SPEC_INVALID" {
		t.Fatalf("unknown config field accepted: %v", err)
	}
}

func TestHostServesStatusAndPausesOnCancel(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Kind: "count", TaskID: "t1", WorkDir: dir}
	u := &countingUnit{limit: 1 << 40}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Host(ctx, spec, u, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "status.addr"))
		addr = string(b)
		if addr == "" {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if addr == "" {
		t.Fatal("status.addr never written")
	}
	var st Status
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/status")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.State == StateRunning && st.Metrics["records_total"] > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.State != StateRunning {
		t.Fatalf("status %+v", st)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `oms_count_records_total{task="t1"}`) {
		t.Fatalf("metrics:\n%s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("paused host returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("host did not return after cancel")
	}
	if !u.closed.Load() {
		t.Fatal("Close not called")
	}
}

func TestHostInitErrorAndFinish(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bad := &countingUnit{initErr: errors.New("boom")}
	if err := Host(context.Background(), Spec{Kind: "count", WorkDir: t.TempDir()}, bad, log); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("init error lost: %v", err)
	}
	ok := &countingUnit{limit: 3}
	if err := Host(context.Background(), Spec{Kind: "count", WorkDir: t.TempDir()}, ok, log); err != nil || ok.Status().State != StateFinished {
		t.Fatalf("finish: %v %+v", err, ok.Status())
	}
}

func TestDurationJSON(t *testing.T) {
	for in, want := range map[string]time.Duration{`"90s"`: 90 * time.Second, `"1m30s"`: 90 * time.Second, `2`: 2 * time.Second, `0.5`: 500 * time.Millisecond} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("%s: %v %v, want %v", in, time.Duration(d), err, want)
		}
	}
	for _, bad := range []string{`"x"`, `true`, `"90"`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if b, _ := json.Marshal(Duration(90 * time.Second)); string(b) != `"1m30s"` {
		t.Errorf("marshal: %s", b)
	}
}

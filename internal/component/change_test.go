package component

import (
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
)

func TestNewsOver(t *testing.T) {
	base := func() *Status {
		return &Status{Kind: "incr-sync", TaskID: "p-incr-sync", Epoch: 3, State: StateRunning, Position: "0-1-10", LagSeconds: 0.4,
			Progress:  &Progress{RowsDone: 10, RowsTotal: 20, RowsPerSec: 5, Tables: map[string]*Progress{"d.t": {RowsDone: 10}}},
			Metrics:   map[string]float64{"applied_rows_total": 100, "checkpoint_age_seconds": 30, "rows_per_sec": 0, "received_bytes_total": 5 << 20},
			UpdatedAt: time.Unix(100, 0)}
	}
	for _, c := range []struct {
		name   string
		change func(s *Status) *Status
		news   bool
	}{
		{"identical", func(s *Status) *Status { return s }, false},
		{"only the report time", func(s *Status) *Status { s.UpdatedAt = s.UpdatedAt.Add(time.Hour); return s }, false},
		{"idle lag jitter", func(s *Status) *Status { s.LagSeconds = 1.9; return s }, false},
		{"lag grew", func(s *Status) *Status { s.LagSeconds = 2.5; return s }, true},
		{"age within 5 %", func(s *Status) *Status { s.Metrics["checkpoint_age_seconds"] = 31.4; return s }, false},
		{"age beyond 5 %", func(s *Status) *Status { s.Metrics["checkpoint_age_seconds"] = 33; return s }, true},
		{"heartbeat bytes", func(s *Status) *Status { s.Metrics["received_bytes_total"] += 4096; return s }, false},
		{"bulk bytes", func(s *Status) *Status { s.Metrics["received_bytes_total"] += 2 << 20; return s }, true},
		{"rate noise", func(s *Status) *Status { s.Metrics["rows_per_sec"] = 0.5; return s }, false},
		{"rate", func(s *Status) *Status { s.Metrics["rows_per_sec"] = 50; return s }, true},
		{"one row applied", func(s *Status) *Status { s.Metrics["applied_rows_total"]++; return s }, true},
		{"metric added", func(s *Status) *Status { s.Metrics["inflight_txns"] = 0; return s }, true},
		{"metric renamed", func(s *Status) *Status { delete(s.Metrics, "rows_per_sec"); s.Metrics["txns_per_sec"] = 0; return s }, true},
		{"state", func(s *Status) *Status { s.State = StatePaused; return s }, true},
		{"position", func(s *Status) *Status { s.Position = "0-1-11"; return s }, true},
		{"epoch", func(s *Status) *Status { s.Epoch++; return s }, true},
		{"stopped at", func(s *Status) *Status { s.StoppedAt = "0-1-11"; return s }, true},
		{"error appears", func(s *Status) *Status { s.Error = omserr.New("X", "m", "a"); return s }, true},
		{"progress row", func(s *Status) *Status { s.Progress.RowsDone++; return s }, true},
		{"table progress", func(s *Status) *Status { s.Progress.Tables["d.t"].RowsDone++; return s }, true},
		{"table added", func(s *Status) *Status { s.Progress.Tables["d.u"] = &Progress{}; return s }, true},
		{"progress gone", func(s *Status) *Status { s.Progress = nil; return s }, true},
		{"no status now", func(*Status) *Status { return nil }, false},
	} {
		if got := c.change(base()).NewsOver(base()); got != c.news {
			t.Errorf("%s: NewsOver = %v, want %v", c.name, got, c.news)
		}
	}
	if !base().NewsOver(nil) {
		t.Error("a first status is news")
	}
	withErr := base()
	withErr.Error = omserr.New("X", "m", "a")
	other := base()
	other.Error = omserr.New("X", "m2", "a")
	if !other.NewsOver(withErr) || withErr.NewsOver(withErr) {
		t.Error("a changed error message is news, the same error is not")
	}
}

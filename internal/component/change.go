package component

import (
	"math"
	"strings"
)

// NewsOver reports whether s tells a reader of the recorded status old something it does not
// already know: the supervisor writes a task's status only then, so an idle component costs the
// MetaDB nothing (its liveness is in the node's heartbeat). Everything a reader acts on is exact:
// state, position, error, epoch, progress counts and the counters of work done (an idle
// component's stay put). Gauges that drift with the clock while nothing happens (lag, ages,
// headroom), rates and byte volumes (a Store's heartbeats to its consumers) count only when they
// moved by more than their tolerance from the recorded value (tolerance), so the recorded value
// stays within it of the live one. UpdatedAt is ignored.
func (s *Status) NewsOver(old *Status) bool {
	switch {
	case s == nil:
		return false
	case old == nil:
		return true
	case s.Kind != old.Kind || s.TaskID != old.TaskID || s.Epoch != old.Epoch || s.State != old.State ||
		s.Position != old.Position || s.StoppedAt != old.StoppedAt:
		return true
	case (s.Error == nil) != (old.Error == nil):
		return true
	case s.Error != nil && (s.Error.Code != old.Error.Code || s.Error.Message != old.Error.Message || s.Error.Advice != old.Error.Advice):
		return true
	case moved("lag_seconds", s.LagSeconds, old.LagSeconds):
		return true
	case progressMoved(s.Progress, old.Progress):
		return true
	}
	if len(s.Metrics) != len(old.Metrics) {
		return true
	}
	for k, v := range s.Metrics {
		was, ok := old.Metrics[k]
		if !ok || moved(k, v, was) {
			return true
		}
	}
	return false
}

func progressMoved(p, old *Progress) bool {
	switch {
	case p == nil || old == nil:
		return (p == nil) != (old == nil)
	case p.RowsDone != old.RowsDone || p.RowsTotal != old.RowsTotal || p.BytesDone != old.BytesDone || p.BytesTotal != old.BytesTotal:
		return true
	case moved("rows_per_sec", p.RowsPerSec, old.RowsPerSec) || moved("eta_seconds", p.ETASeconds, old.ETASeconds):
		return true
	case len(p.Tables) != len(old.Tables):
		return true
	}
	for k, t := range p.Tables {
		if progressMoved(t, old.Tables[k]) {
			return true
		}
	}
	return false
}

// moved compares a figure named name with its recorded value under the name's tolerance.
func moved(name string, v, was float64) bool {
	abs, rel := tolerance(name)
	return math.Abs(v-was) > max(abs, rel*max(math.Abs(v), math.Abs(was)))
}

// tolerance is how far a figure may drift from its recorded value before it is news: absolute
// and relative to the larger of the two. Seconds (lag, ages, headroom): 2 s or 5 %; rates: 1/s
// or 10 %; byte volumes: 1 MiB or 5 %; anything else (counts, positions in numbers) is exact.
func tolerance(name string) (abs, rel float64) {
	switch {
	case strings.HasSuffix(name, "_seconds"):
		return 2, 0.05
	case strings.HasSuffix(name, "_per_sec"):
		return 1, 0.10
	case strings.HasSuffix(name, "_bytes") || strings.HasSuffix(name, "_bytes_total"):
		return 1 << 20, 0.05
	}
	return 0, 0
}

package incrsync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/bidir"
	cfl "github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/omserr"
)

// Last-writer-wins with max_skew_ms: while the measured clock skew between the regions (as the
// orchestrator records it on the target) is over the bound, the first conflict decided by the
// timestamps stops the direction with TWOWAY_CLOCK_SKEW and changes nothing; once the skew is
// within the bound, the resumed direction decides by lww and the conflict's record shows the
// decision taken, not the stop.
func TestTwoWayLWWClockSkew(t *testing.T) {
	p := conflictPair(t, "t_skew")
	cfg := twoWayConfig(p, cfl.Config{Priority: []string{"hz", "hl"}, Tables: map[string]cfl.Rule{
		p.db + ".t_skew": {Policy: cfl.LWW, Column: "ver", MaxSkewMs: 100}}})
	cfg.Workers = 1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	record := func(seconds float64) {
		t.Helper()
		if err := bidir.RecordSkew(ctx, p.dst.DB(), "", "hz", "hl", bidir.Skew{Seconds: seconds, Uncertainty: 0.002}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = p.dst.DB().Exec("DELETE FROM __oms.clock_skew WHERE source_region = 'hz' AND target_region = 'hl'")
	})
	record(-2.5)
	task := fmt.Sprintf("tw-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	err := r.waitFailed(t, 60*time.Second)
	var oe *omserr.Error
	if !asErr(err, &oe) || oe.Code != omserr.TwoWayClockSkew || !contains(oe.Message, "differ by -2.500 s") || !contains(oe.Message, "max_skew_ms 100") {
		t.Fatalf("stopped with %v", err)
	}
	if got := recorded(t, p, task); strings.Join(got, ",") != "t_skew insert_exists stop" {
		t.Fatalf("recorded %v, want the insert_exists conflict as stop", got)
	}
	if got := testenv_rows(t, p, "t_skew")[0]; got != "1 tgt 5 NULL" {
		t.Fatalf("the refused conflict changed the target: %s", got)
	}

	record(0.01) // the clocks were fixed: the next measurement is within the bound
	r = start(t, cfg, task, 2, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 60*time.Second)
	lww := []string{"1 src 7 NULL", "2 src 2 NULL", "3 tgt 9 NULL", "6 src 1 X"}
	if got := testenv_rows(t, p, "t_skew"); strings.Join(got, "|") != strings.Join(lww, "|") {
		t.Errorf("t_skew ends with %v, want %v", got, lww)
	}
	want := "t_skew delete_differs take_source,t_skew delete_missing keep_target,t_skew insert_exists take_source," +
		"t_skew unique_collision take_source,t_skew update_differs keep_target,t_skew update_missing take_source"
	if got := recorded(t, p, task); strings.Join(got, ",") != want {
		t.Errorf("recorded conflicts:\n%v\nwant:\n%s", got, want)
	}
}

package project

import (
	"testing"
	"time"

	"github.com/omsdev/oms/api"
)

// A steady project is advanced at its first sight, then again only when its digest changes or
// steadyEvery passed; a project with a step under way is advanced every tick.
func TestSteadyProjectAdvancedOnlyWhenSomethingHappened(t *testing.T) {
	var q steadiness
	p := api.Project{ID: "p1"}
	t0 := time.Unix(1000, 0)
	for i, c := range []struct {
		at      time.Duration
		steady  bool
		digest  string
		advance bool
	}{
		{0, true, "a", true},                // never advanced by this leader
		{time.Second, true, "a", false},     // nothing happened
		{4 * time.Second, true, "a", false}, // still within steadyEvery
		{5 * time.Second, true, "a", true},  // steadyEvery passed: metrics refresh
		{6 * time.Second, true, "b", true},  // a task moved, a step changed...
		{7 * time.Second, false, "b", true}, // a step under way: every tick
		{7*time.Second + time.Millisecond, true, "b", false},
	} {
		now := t0.Add(c.at)
		if skip := q.skip(p, c.steady, c.digest, now); skip == c.advance {
			t.Errorf("tick %d (%s, steady %v, digest %s): skip=%v, want advance=%v", i, c.at, c.steady, c.digest, skip, c.advance)
		}
		if c.advance {
			q.advanced(p.ID, c.digest, now)
		}
	}
	q.forget(map[string]bool{})
	if q.skip(p, true, "b", t0.Add(8*time.Second)) {
		t.Error("a forgotten project (no longer running) is advanced at its next sight")
	}
}

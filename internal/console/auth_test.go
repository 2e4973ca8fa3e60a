package console

import (
	"testing"
	"time"
)

func TestThrottleBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle()
	th.now = func() time.Time { return now }
	ip, user := "ip:1.2.3.4", "user:admin"
	for i := 1; i < freeFailures; i++ {
		th.fail(ip, user)
		if w := th.blocked(ip, user); w != 0 {
			t.Fatalf("blocked after %d failures: %v", i, w)
		}
	}
	steps := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for _, want := range steps {
		th.fail(ip, user)
		if w := th.blocked(ip, user); w != want {
			t.Fatalf("block %v, want %v", w, want)
		}
		if w := th.blocked("ip:5.6.7.8"); w != 0 {
			t.Fatalf("another client blocked: %v", w)
		}
		if w := th.blocked("ip:5.6.7.8", user); w != want {
			t.Fatalf("the user from another client: %v, want %v", w, want)
		}
		now = now.Add(want)
		if w := th.blocked(ip, user); w != 0 {
			t.Fatalf("still blocked after the wait: %v", w)
		}
	}
	for range 40 {
		th.fail(ip)
	}
	if w := th.blocked(ip); w != maxBlock {
		t.Fatalf("block after many failures %v, want the cap %v", w, maxBlock)
	}
	th.succeed(ip, user)
	if w := th.blocked(ip, user); w != 0 {
		t.Fatalf("blocked after success: %v", w)
	}
	// Failures long ago are forgotten.
	for range freeFailures - 1 {
		th.fail(user)
	}
	now = now.Add(forgetAfter + time.Second)
	th.fail(user)
	if w := th.blocked(user); w != 0 {
		t.Fatalf("old failures counted: %v", w)
	}
}

// TestEveryRouteNeedsARole: a route registered without a role (e.g. by SetAlerts) still needs
// operator to change state and viewer to read; nothing is open to a user without a role.
func TestEveryRouteNeedsARole(t *testing.T) {
	s := &Server{}
	s.routes = s.allRoutes()
	s.SetAlerts(nil)
	viewer := principal{user: "v", role: "viewer"}
	nobody := principal{user: "x", role: "intern"}
	for name, rt := range s.routes {
		if rt.public {
			continue
		}
		if authorize(nobody, name, rt) == nil {
			t.Errorf("%s is open to a user without a known role", name)
		}
		if rt.mutating && rt.role == "" && authorize(viewer, name, rt) == nil {
			t.Errorf("%s changes state but a viewer may call it", name)
		}
	}
}

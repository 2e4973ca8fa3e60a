package testenv

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Unit is the part of component.Unit tests drive. testenv cannot import internal/component:
// component imports internal/metrics, whose tests use testenv.
type Unit interface {
	Init(ctx context.Context) error
	Run(ctx context.Context) error
	Close() error
}

// RunUnit runs u to completion within d: Init (a failure fails the test), Run, Close. It returns
// Run's error.
func RunUnit(t testing.TB, u Unit, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := u.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	defer u.Close()
	return u.Run(ctx)
}

// Running is a unit whose Run goes on in the background (StartUnit).
type Running struct {
	u      Unit
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned; err is then set
	err    error
	once   sync.Once
	seen   bool // the test has looked at Run's outcome (Stop, Pause, Err)
}

// StartUnit initialises u (a failure fails the test) and runs it in the background until Stop.
// The test's cleanup stops it too, and fails the test if Run failed and the test never looked.
func StartUnit(t testing.TB, u Unit) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := u.Init(ctx); err != nil {
		cancel()
		t.Fatalf("init: %v", err)
	}
	r := &Running{u: u}
	r.run(ctx, cancel)
	t.Cleanup(func() {
		seen := r.seen
		if err := r.Stop(); err != nil && !seen {
			t.Errorf("run: %v", err)
		}
	})
	return r
}

func (r *Running) run(ctx context.Context, cancel context.CancelFunc) {
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() { r.err = r.u.Run(ctx); close(done) }()
}

// Pause cancels Run and waits for it without closing the unit, and returns Run's error as it is
// (context.Canceled for a clean pause). Resume runs the unit again.
func (r *Running) Pause() error {
	r.seen = true
	r.cancel()
	<-r.done
	return r.err
}

// Resume runs a paused unit again.
func (r *Running) Resume() {
	r.run(context.WithCancel(context.Background()))
}

// Stop cancels Run, waits for it, closes the unit and returns Run's error, nil when Run ended
// by the cancellation. It may be called again.
func (r *Running) Stop() error {
	r.cancel()
	<-r.done
	r.once.Do(func() { _ = r.u.Close() })
	return r.Err()
}

// Wait waits for Run to end by itself, closes the unit and returns Run's error as it is.
func (r *Running) Wait() error {
	r.seen = true
	<-r.done
	r.once.Do(func() { _ = r.u.Close() })
	return r.err
}

// Done is closed when Run has returned by itself or by Stop.
func (r *Running) Done() <-chan struct{} { return r.done }

// Err is Run's error once Done is closed (nil before, and nil for the cancellation of Stop).
func (r *Running) Err() error {
	r.seen = true
	select {
	case <-r.done:
	default:
		return nil
	}
	if errors.Is(r.err, context.Canceled) {
		return nil
	}
	return r.err
}

package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeUnit runs until cancelled, or fails with fail after the first run started.
type fakeUnit struct {
	runs, closes atomic.Int32
	fail         error
}

func (f *fakeUnit) Init(context.Context) error { return nil }
func (f *fakeUnit) Close() error               { f.closes.Add(1); return nil }
func (f *fakeUnit) Run(ctx context.Context) error {
	f.runs.Add(1)
	if f.fail != nil {
		return f.fail
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestRunningPauseResumeStop(t *testing.T) {
	u := &fakeUnit{}
	r := StartUnit(t, u)
	if err := r.Pause(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pause = %v, want context.Canceled", err)
	}
	if u.closes.Load() != 0 {
		t.Fatal("Pause closed the unit")
	}
	r.Resume()
	if err := r.Stop(); err != nil {
		t.Fatalf("Stop after a cancellation = %v, want nil", err)
	}
	if err := r.Stop(); err != nil || u.runs.Load() != 2 || u.closes.Load() != 1 {
		t.Fatalf("second Stop = %v; runs %d closes %d, want 2 runs and 1 close", err, u.runs.Load(), u.closes.Load())
	}
}

func TestRunningWaitReturnsRunError(t *testing.T) {
	boom := errors.New("boom")
	u := &fakeUnit{fail: boom}
	r := StartUnit(t, u)
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := r.Wait(); !errors.Is(err, boom) || !errors.Is(r.Err(), boom) || u.closes.Load() != 1 {
		t.Fatalf("Wait = %v, Err = %v, closes %d", err, r.Err(), u.closes.Load())
	}
}

// recordTB records what StartUnit reports and runs its cleanups when asked.
type recordTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordTB) Helper()          {}
func (r *recordTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recordTB) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

func (r *recordTB) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// A Run failure the test never looked at fails the test at cleanup; one it looked at does not.
func TestRunningCleanupReportsUnseenFailure(t *testing.T) {
	for _, look := range []bool{false, true} {
		tb := &recordTB{TB: t}
		r := StartUnit(tb, &fakeUnit{fail: errors.New("boom")})
		<-r.Done()
		if look {
			_ = r.Err()
		}
		tb.cleanup()
		if reported := len(tb.errors) == 1 && strings.Contains(tb.errors[0], "boom"); reported == look {
			t.Errorf("looked at the error: %v; cleanup reported %q", look, tb.errors)
		}
	}
}

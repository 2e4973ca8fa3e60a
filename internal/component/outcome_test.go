package component

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
)

func TestOutcome(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	coded := omserr.New(omserr.IncrFenced, "epoch 3 owns the target", "nothing to do")
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		err   error
		state string
		code  string
		msg   string
	}{
		{"finished", live, nil, StateFinished, "", ""},
		{"finished as the pause came", gone, nil, StateFinished, "", ""},
		{"paused", gone, fmt.Errorf("copy chunk: %w", context.Canceled), StatePaused, "", ""},
		{"cancelled but not by ctx", live, context.Canceled, StateFailed, "FALLBACK_CODE", "context canceled"},
		{"failed while pausing", gone, errors.New("disk full"), StateFailed, "FALLBACK_CODE", "disk full"},
		{"coded", live, fmt.Errorf("apply: %w", coded), StateFailed, omserr.IncrFenced, "epoch 3 owns the target"},
		{"plain", live, errors.New("boom"), StateFailed, "FALLBACK_CODE", "boom"},
	} {
		state, e := Outcome(tc.ctx, tc.err, "FALLBACK_CODE")
		if state != tc.state || (e == nil) != (tc.code == "") {
			t.Errorf("%s: %s %v, want %s code %q", tc.name, state, e, tc.state, tc.code)
			continue
		}
		if e != nil && (e.Code != tc.code || e.Message != tc.msg) {
			t.Errorf("%s: error %+v, want code %s message %q", tc.name, e, tc.code, tc.msg)
		}
	}
}

// quietUnit reports RUNNING whatever happens: the final state and error are the Host's.
type quietUnit struct {
	initErr, runErr error
	code            string
}

func (u *quietUnit) Init(context.Context) error { return u.initErr }
func (u *quietUnit) Run(ctx context.Context) error {
	if u.runErr == context.Canceled {
		<-ctx.Done()
		return ctx.Err()
	}
	return u.runErr
}
func (u *quietUnit) Status() Status { return Status{Kind: "quiet", State: StateRunning} }
func (u *quietUnit) Close() error   { return nil }

type codedUnit struct{ quietUnit }

func (u *codedUnit) FailureCode() string { return omserr.FullFailed }

func TestHostSetsOutcome(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name    string
		unit    Unit
		cancel  bool
		state   string
		code    string
		hostErr bool
		needsOp bool // a restart meets the same failure: the supervisor gives up at once
	}{
		{"finished", &quietUnit{}, false, StateFinished, "", false, false},
		{"paused", &quietUnit{runErr: context.Canceled}, true, StatePaused, "", false, false},
		{"plain failure", &quietUnit{runErr: errors.New("boom")}, false, StateFailed, omserr.ComponentFailed, true, false},
		{"plain failure, unit's code", &codedUnit{quietUnit{runErr: errors.New("boom")}}, false, StateFailed, omserr.FullFailed, true, false},
		{"coded failure", &quietUnit{runErr: omserr.New(omserr.VerifyNothingSelected, "nothing", "select")}, false, StateFailed, omserr.VerifyNothingSelected, true, true},
		{"transient coded failure", &quietUnit{runErr: omserr.New(omserr.IncrTargetUnreachable, "no target", "start it")}, false, StateFailed, omserr.IncrTargetUnreachable, true, false},
		{"init failure", &quietUnit{initErr: omserr.New(omserr.IncrConfigInvalid, "bad", "fix")}, false, StateFailed, omserr.IncrConfigInvalid, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel() // quietUnit's Run then returns the cancellation at once
			}
			err := Host(ctx, Spec{Kind: "quiet", WorkDir: dir}, tc.unit, log)
			if (err != nil) != tc.hostErr {
				t.Fatalf("Host returned %v", err)
			}
			raw, rerr := os.ReadFile(filepath.Join(dir, FinalStatusFile))
			if rerr != nil {
				t.Fatal(rerr)
			}
			var st Status
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if st.State != tc.state || (st.Error == nil) != (tc.code == "") || st.Error != nil && st.Error.Code != tc.code {
				t.Fatalf("final status %s", raw)
			}
			if st.NeedsOperator() != tc.needsOp {
				t.Fatalf("NeedsOperator of %s = %v", raw, !tc.needsOp)
			}
		})
	}
}

// TestNeedsOperator: an error at one source transaction is met again by a restart whatever its
// code; a running component or one without an error needs nobody.
func TestNeedsOperator(t *testing.T) {
	failed := func(code, at string) *Status {
		return &Status{State: StateFailed, Error: omserr.New(code, "m", "a"), StoppedAt: at}
	}
	for _, tc := range []struct {
		name string
		st   *Status
		want bool
	}{
		{"nil", nil, false},
		{"running", &Status{State: StateRunning}, false},
		{"failed without error", &Status{State: StateFailed}, false},
		{"fallback code", failed(omserr.IncrApplyFailed, ""), false},
		{"fallback code at a transaction", failed(omserr.IncrApplyFailed, "0-1-42"), true},
		{"permanent code", failed(omserr.IncrRowConflict, ""), true},
		{"unreachable target", failed(omserr.IncrTargetUnreachable, ""), false},
	} {
		if got := tc.st.NeedsOperator(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

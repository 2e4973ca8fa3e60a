// Package component is the lifecycle every data component (store, incr-sync, full-import,
// full-verify) implements, and the runner that hosts one as `oms component <kind> --spec FILE`.
//
// Lifecycle (house rule 11):
//
//	Init(ctx)  connect, precheck, open files; starts no goroutines. An error here is final and
//	           Init releases what it opened itself (Close is not called).
//	Run(ctx)   does the work until it is finished (returns nil), ctx is cancelled (returns
//	           ctx.Err() after making its state durable: this is Pause), or a fatal error.
//	           Calling Run again after a cancelled Run resumes from the durable state.
//	Status()   safe to call from any goroutine at any time, also before Init and after Close.
//	           It reports INIT or RUNNING and the unit's own figures; Host sets the final state and
//	           error from what Init and Run returned (Outcome).
//	Close()    releases everything Init opened; called once, after Run has returned.
//
// A killed process (kill -9) is the same as a cancelled Run for correctness: every component
// keeps its checkpoint so that the next Init+Run neither loses nor repeats work.
package component

import (
	"context"
	"errors"
	"time"

	"github.com/omsdev/oms/internal/omserr"
)

// Unit is a data component.
type Unit interface {
	Init(ctx context.Context) error
	Run(ctx context.Context) error
	Status() Status
	Close() error
}

// States of a component.
const (
	StateInit     = "INIT"
	StateRunning  = "RUNNING"
	StatePaused   = "PAUSED"
	StateFinished = "FINISHED"
	StateFailed   = "FAILED"
)

// Status is what a component reports to its supervisor and the console.
type Status struct {
	Kind   string `json:"kind"`
	TaskID string `json:"task_id"`
	Epoch  int64  `json:"epoch"`
	State  string `json:"state"`
	// Position is the component's checkpoint in its own terms (a GTID set, chunk counts, ...).
	Position string `json:"position,omitempty"`
	// LagSeconds is source commit time vs now for streaming components.
	LagSeconds float64       `json:"lag_seconds,omitempty"`
	Progress   *Progress     `json:"progress,omitempty"`
	Error      *omserr.Error `json:"error,omitempty"`
	// StoppedAt is the source transaction (GTID) a streaming component stopped at when its
	// error is about one: what the operator's "skip the event" skips.
	StoppedAt string `json:"stopped_at,omitempty"`
	// Metrics are named counters and gauges (records_total, bytes_total, rows_per_sec...).
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// NeedsOperator reports whether the component failed in a way a restart meets again: an error
// about one source transaction (StoppedAt: it is replayed first) or of a permanent code
// (omserr.Permanent). Its supervisor makes the task FAILED at once instead of restarting it, so
// the operator sees the error and its actions (skip, retry) at once.
func (s *Status) NeedsOperator() bool {
	return s != nil && s.State == StateFailed && s.Error != nil && (s.StoppedAt != "" || omserr.Permanent(s.Error.Code))
}

// Progress of a finite job.
type Progress struct {
	RowsDone   int64   `json:"rows_done"`
	RowsTotal  int64   `json:"rows_total"` // estimate
	BytesDone  int64   `json:"bytes_done"`
	BytesTotal int64   `json:"bytes_total"` // estimate
	RowsPerSec float64 `json:"rows_per_sec"`
	ETASeconds float64 `json:"eta_seconds"`
	// Tables gives the same figures per table, keyed "db.table".
	Tables map[string]*Progress `json:"tables,omitempty"`
}

// FailureCoder is implemented by a unit whose failures without an *omserr.Error in the chain get
// a code of its kind (FULL_FAILED...); other units' get COMPONENT_FAILED.
type FailureCoder interface {
	FailureCode() string
}

// Outcome is the state and error a unit's Run result err (under ctx) stands for: FINISHED for
// nil, PAUSED when ctx was cancelled and Run returned the cancellation, else FAILED with the
// *omserr.Error in err's chain, or one of code fallback carrying err's text.
func Outcome(ctx context.Context, err error, fallback string) (string, *omserr.Error) {
	switch {
	case err == nil:
		return StateFinished, nil
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return StatePaused, nil
	}
	return StateFailed, omserr.From(err, fallback)
}

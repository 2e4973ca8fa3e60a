package metrics

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// TraceEnv names the file a process appends its transaction trace to: one line per hop a
// transaction passes, "<unix ns> <hop> <gtid>". Unset (the default), Trace and Tracing cost a
// load of a nil pointer. bench/cross_region_lag.sh sets it for the Store and Incr-Sync and
// bench/lagprobe joins the lines with its heartbeats' GTIDs to show where each one's lag went.
const TraceEnv = "OMS_TXN_TRACE"

// Trace hops, in the order a transaction passes them.
const (
	HopStoreReceived = "store_recv"    // the Store read the transaction's commit from the source's binlog
	HopStoreDurable  = "store_durable" // its segment write is fsync'd
	HopStoreSent     = "store_sent"    // written and flushed to a consumer's stream
	HopIncrReceived  = "incr_recv"     // Incr-Sync decoded it from the Store's stream
	HopIncrScheduled = "incr_sched"    // the read stage mapped it and added it to the scheduler
	HopIncrTaken     = "incr_taken"    // a worker took its batch
	HopIncrCommitted = "incr_commit"   // its batch committed on the target
)

type tracer struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

var (
	traceOnce sync.Once
	traceOut  *tracer
)

func openTrace() *tracer {
	traceOnce.Do(func() {
		path := os.Getenv(TraceEnv)
		if path == "" {
			return
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: cannot open the transaction trace: %v\n", TraceEnv, err)
			return
		}
		traceOut = &tracer{f: f, w: bufio.NewWriterSize(f, 64<<10)}
		go traceOut.flushLoop()
	})
	return traceOut
}

// Tracing reports whether the transaction trace is on (for callers that must do work to name
// the transactions of a hop).
func Tracing() bool { return openTrace() != nil }

// traceFlushEvery bounds how long a trace line stays in the buffer: a benchmark reads the file
// while the process runs on (and kills it at the end).
const traceFlushEvery = 100 * time.Millisecond

func (t *tracer) flushLoop() {
	for range time.Tick(traceFlushEvery) {
		t.mu.Lock()
		_ = t.w.Flush()
		t.mu.Unlock()
	}
}

// Trace records that the transaction gtid passed hop at at (no-op without the trace).
func Trace(hop, gtid string, at time.Time) {
	if t := openTrace(); t != nil && gtid != "" {
		t.mark(hop, gtid, at)
	}
}

func (t *tracer) mark(hop, gtid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = strconv.AppendInt(t.buf[:0], at.UnixNano(), 10)
	t.buf = append(t.buf, ' ')
	t.buf = append(t.buf, hop...)
	t.buf = append(t.buf, ' ')
	t.buf = append(t.buf, gtid...)
	t.buf = append(t.buf, '\n')
	_, _ = t.w.Write(t.buf)
}

package fullimport

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsdev/oms/internal/component"
)

// progress counts rows and bytes copied, overall and per table. Counters are atomics updated by
// the copy workers; snapshot computes rates and ETAs for Status.
type progress struct {
	start      time.Time
	rows       atomic.Int64
	bytes      atomic.Int64
	chunks     atomic.Int64
	rowsTotal  int64
	bytesTotal int64
	chunkTotal int64

	mu     sync.Mutex
	tables map[*table]*tableProgress
	order  []*table
}

type tableProgress struct {
	rows, bytes, chunks atomic.Int64
	rowsTotal           int64
	bytesTotal          int64
	chunkTotal          int64
	start               atomic.Int64 // unix nanos of the first byte copied in this run
}

func newProgress() *progress {
	return &progress{start: time.Now(), tables: map[*table]*tableProgress{}}
}

// setPlan records totals: row and byte estimates of each table (from information_schema,
// corrected by what previous runs recorded for finished chunks).
func (p *progress) setPlan(tables []*table, chunks []*chunk) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range tables {
		tp := &tableProgress{rowsTotal: t.Rows, bytesTotal: t.Bytes}
		p.tables[t] = tp
		p.order = append(p.order, t)
	}
	for _, c := range chunks {
		tp := p.tables[c.T]
		if tp == nil {
			continue
		}
		tp.chunkTotal++
		if c.Done {
			tp.rows.Add(c.RowsDone)
			tp.bytes.Add(c.BytesDone)
			tp.chunks.Add(1)
		}
	}
	p.rowsTotal, p.bytesTotal, p.chunkTotal = 0, 0, 0
	var rows, bytes, done int64
	for _, tp := range p.tables {
		p.rowsTotal += tp.rowsTotal
		p.bytesTotal += tp.bytesTotal
		p.chunkTotal += tp.chunkTotal
		rows += tp.rows.Load()
		bytes += tp.bytes.Load()
		done += tp.chunks.Load()
	}
	p.rows.Store(rows)
	p.bytes.Store(bytes)
	p.chunks.Store(done)
	p.start = time.Now()
}

func (p *progress) table(t *table) *tableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tables[t]
	if tp == nil {
		tp = &tableProgress{}
		p.tables[t] = tp
	}
	return tp
}

func (p *progress) add(r, b int64) { p.rows.Add(r); p.bytes.Add(b) }
func (p *progress) chunkDone()     { p.chunks.Add(1) }

func (tp *tableProgress) add(r, b int64) {
	tp.start.CompareAndSwap(0, time.Now().UnixNano())
	tp.rows.Add(r)
	tp.bytes.Add(b)
}
func (tp *tableProgress) chunkDone() { tp.chunks.Add(1) }

// snapshot is the Status.Progress value. Rates are over this run (so resumed work does not
// inflate them); the ETA extrapolates the remaining estimated bytes at the current byte rate.
func (p *progress) snapshot(baseRows, baseBytes int64) *component.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	out := &component.Progress{
		RowsDone: p.rows.Load(), BytesDone: p.bytes.Load(),
		RowsTotal: max(p.rowsTotal, p.rows.Load()), BytesTotal: max(p.bytesTotal, p.bytes.Load()),
		Tables: map[string]*component.Progress{},
	}
	el := now.Sub(p.start).Seconds()
	fill(out, out.RowsDone-baseRows, out.BytesDone-baseBytes, el, p.chunks.Load() == p.chunkTotal && p.chunkTotal > 0)
	for _, t := range p.order {
		tp := p.tables[t]
		tpr := &component.Progress{RowsDone: tp.rows.Load(), BytesDone: tp.bytes.Load()}
		tpr.RowsTotal, tpr.BytesTotal = max(tp.rowsTotal, tpr.RowsDone), max(tp.bytesTotal, tpr.BytesDone)
		tel := el
		if s := tp.start.Load(); s != 0 {
			tel = now.Sub(time.Unix(0, s)).Seconds()
		}
		fill(tpr, tpr.RowsDone, tpr.BytesDone, tel, tp.chunks.Load() == tp.chunkTotal)
		out.Tables[t.src()] = tpr
	}
	return out
}

func fill(p *component.Progress, rowsThisRun, bytesThisRun int64, secs float64, done bool) {
	if secs > 0 {
		p.RowsPerSec = float64(rowsThisRun) / secs
	}
	if done {
		p.RowsTotal, p.BytesTotal = p.RowsDone, p.BytesDone
		return
	}
	if secs > 0 && bytesThisRun > 0 {
		rem := float64(p.BytesTotal - p.BytesDone)
		p.ETASeconds = max(rem, 0) / (float64(bytesThisRun) / secs)
	}
}

// throttle limits rows/s and bytes/s of the readers (all workers share it). It is a virtual
// clock: each request moves "next free time" forward by its cost; a caller ahead of real time
// sleeps (watching ctx) until the clock catches up. Bursts are bounded by one second of budget.
type throttle struct {
	rowsPerSec, bytesPerSec float64
	mu                      sync.Mutex
	next                    time.Time
}

func newThrottle(rows, bytes int64) *throttle {
	return &throttle{rowsPerSec: float64(rows), bytesPerSec: float64(bytes)}
}

func (t *throttle) wait(ctx context.Context, rows, bytes int64) error {
	if t == nil || (t.rowsPerSec <= 0 && t.bytesPerSec <= 0) {
		return ctx.Err()
	}
	var cost float64
	if t.rowsPerSec > 0 {
		cost = float64(rows) / t.rowsPerSec
	}
	if t.bytesPerSec > 0 {
		cost = max(cost, float64(bytes)/t.bytesPerSec)
	}
	t.mu.Lock()
	now := time.Now()
	if t.next.Before(now.Add(-time.Second)) {
		t.next = now.Add(-time.Second) // at most one second of unused budget carries over
	}
	t.next = t.next.Add(time.Duration(cost * float64(time.Second)))
	delay := t.next.Sub(now)
	t.mu.Unlock()
	if delay <= 0 {
		return nil
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// DrawBar writes a one-line progress bar for st to w (a terminal), overwriting the line.
func DrawBar(w io.Writer, st component.Status) {
	p := st.Progress
	if p == nil {
		fmt.Fprintf(w, "\r%-10s", st.State)
		return
	}
	frac := 0.0
	if p.BytesTotal > 0 {
		frac = min(float64(p.BytesDone)/float64(p.BytesTotal), 1)
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	fmt.Fprintf(w, "\r%-9s [%s] %5.1f%%  %d/%d rows  %.0f MiB  %.0f rows/s  ETA %s   ",
		st.State, bar, frac*100, p.RowsDone, p.RowsTotal, float64(p.BytesDone)/(1<<20), p.RowsPerSec,
		(time.Duration(p.ETASeconds) * time.Second).String())
}

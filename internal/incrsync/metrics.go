package incrsync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/metrics"
)

// instruments are the Syncer's Prometheus series beyond its Status figures: apply latency per
// target commit, errors by class, and applied changes per source table and operation. A batch's
// changes are summed before they touch the counters, so the cost is per batch, not per row.
type instruments struct {
	latency   prometheus.Histogram
	errs      *prometheus.CounterVec
	changes   *prometheus.CounterVec
	conflicts *prometheus.CounterVec
	hops      *prometheus.HistogramVec
}

func newInstruments() *instruments {
	return &instruments{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metrics.IncrApplyLatencySeconds,
			Help: "time to apply one batch to the target, retries included", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.IncrErrorsTotal,
			Help: "target errors: retryable (retried with backoff) and fatal (the task stops)"}, []string{metrics.LabelClass}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.IncrChangesTotal,
			Help: "changes applied to the target per source table: insert, update, delete rows and ddl statements"}, []string{metrics.LabelTable, metrics.LabelOp}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.IncrConflictsTotal,
			Help: "two-way sync: conflicts detected on apply, by kind and decision (each counted once, when its decision commits)"}, []string{metrics.LabelKind, metrics.LabelDecision}),
		hops: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metrics.IncrHopSeconds,
			Help:    "time a source transaction spends in a hop of Incr-Sync: read (received from the Store until scheduled), wait (until a worker takes it), apply (until its batch commits)",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{metrics.LabelHop}),
	}
}

// conflict counts one conflict whose decision committed (or stopped the task).
func (in *instruments) conflict(c *conflictRec) {
	in.conflicts.WithLabelValues(string(c.kind), string(c.decision)).Inc()
}

// Collectors implements component.Instrumented.
func (s *Syncer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.ins.latency, s.ins.errs, s.ins.changes, s.ins.conflicts, s.ins.hops}
}

type changeKey struct {
	table string
	op    string
}

// applied records a batch that committed after took.
func (in *instruments) applied(b *batch, took time.Duration) {
	in.latency.Observe(took.Seconds())
	in.hopsOf(b, time.Now(), took)
	counts := map[changeKey]int{}
	var lastT *tableInfo
	var lastName string
	for _, n := range b.nodes {
		if n.t.ddl != nil {
			for _, tbl := range n.t.ddlTables {
				counts[changeKey{tbl, metrics.OpDDL}]++
			}
			continue
		}
		for i := range n.t.rows {
			r := &n.t.rows[i]
			if r.t != lastT {
				lastT, lastName = r.t, r.t.src.DB+"."+r.t.src.Name
			}
			counts[changeKey{lastName, opName(r.op)}]++
		}
	}
	for k, v := range counts {
		in.changes.WithLabelValues(k.table, k.op).Add(float64(v))
	}
}

func (in *instruments) failed(retryable bool) {
	class := metrics.ClassFatal
	if retryable {
		class = metrics.ClassRetryable
	}
	in.errs.WithLabelValues(class).Inc()
}

func opName(op changelog.Op) string {
	switch op {
	case changelog.OpInsert:
		return metrics.OpInsert
	case changelog.OpUpdate:
		return metrics.OpUpdate
	case changelog.OpDelete:
		return metrics.OpDelete
	}
	return op.String()
}

// hopsOf records the hops of a batch's source transactions: it committed at now after took.
func (in *instruments) hopsOf(b *batch, now time.Time, took time.Duration) {
	taken := now.Add(-took)
	read, wait, apply := in.hops.WithLabelValues(metrics.HopRead), in.hops.WithLabelValues(metrics.HopWait), in.hops.WithLabelValues(metrics.HopApply)
	for _, n := range b.nodes {
		if n.t.scheduled.IsZero() {
			continue
		}
		if !n.t.received.IsZero() {
			read.Observe(n.t.scheduled.Sub(n.t.received).Seconds())
		}
		wait.Observe(taken.Sub(n.t.scheduled).Seconds())
		apply.Observe(took.Seconds())
		metrics.Trace(metrics.HopIncrTaken, n.t.gtid, taken)
		metrics.Trace(metrics.HopIncrCommitted, n.t.gtid, now)
	}
}

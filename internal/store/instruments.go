package store

import (
	"encoding/binary"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/metrics"
)

// instruments are the Store's Prometheus series beyond its Status figures: how long a group
// write of the log takes and how long a transaction spends in each of the Store's hops (read
// from the source -> durable -> sent), so a consumer's lag can be broken down by where it goes.
type instruments struct {
	write prometheus.Histogram
	hops  *prometheus.HistogramVec
}

// hopBuckets are 1 ms .. 16 s: a hop's time from "nothing" to "stalled".
var hopBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

func newInstruments() *instruments {
	return &instruments{
		write: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metrics.StoreWriteSeconds,
			Help: "one group write of the segment log: write and fsync", Buckets: hopBuckets}),
		hops: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metrics.StoreHopSeconds,
			Help:    "time a transaction spends in a hop of the Store: durable (read from the source until fsync'd), sent (durable until flushed to a consumer)",
			Buckets: hopBuckets}, []string{metrics.LabelHop}),
	}
}

// Collectors implements component.Instrumented.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.ins.write, s.ins.hops}
}

// written records a group write of batch that took from start until durable.
func (in *instruments) written(batch []pendingRecord, start, durable time.Time) {
	in.write.Observe(durable.Sub(start).Seconds())
	h := in.hops.WithLabelValues(metrics.HopDurable)
	for i := range batch {
		if !batch[i].received.IsZero() {
			h.Observe(durable.Sub(batch[i].received).Seconds())
		}
		metrics.Trace(metrics.HopStoreDurable, batch[i].meta.gtid, durable)
	}
}

// sent records a frame of records flushed to a consumer at now: the time its first record (the
// one that waited longest) spent since it became durable, and the trace of every record.
func (in *instruments) sent(l *Log, data []byte, now time.Time) {
	if len(data) <= recordHeader {
		return
	}
	if in != nil {
		if at, ok := l.durableAt(peekSeq(data[recordHeader:])); ok {
			in.hops.WithLabelValues(metrics.HopSent).Observe(now.Sub(at).Seconds())
		}
	}
	if !metrics.Tracing() {
		return
	}
	for off := 0; off+recordHeader <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		p := data[off+recordHeader : off+recordHeader+n]
		metrics.Trace(metrics.HopStoreSent, string(peekGTID(p)), now)
		off += recordHeader + n
	}
}

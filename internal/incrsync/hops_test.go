package incrsync

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/metrics"
)

// hopSums gathers the per-hop histograms: hop -> (count, sum in seconds).
func hopSums(t *testing.T, reg *prometheus.Registry, name string) map[string][2]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var hop string
			for _, l := range m.GetLabel() {
				if l.GetName() == metrics.LabelHop {
					hop = l.GetValue()
				}
			}
			h := m.GetHistogram()
			out[hop] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
		}
	}
	return out
}

// A committed batch splits each transaction's time in Incr-Sync into read (received ->
// scheduled), wait (scheduled -> taken) and apply (taken -> committed).
func TestHopsOfABatch(t *testing.T) {
	s := &Syncer{ins: newInstruments()}
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collectors()...)
	t0 := time.Unix(1000, 0)
	b := &batch{nodes: []*node{
		{t: &mtxn{gtid: "0-1-1", received: t0, scheduled: t0.Add(10 * time.Millisecond)}},
		{t: &mtxn{gtid: "0-1-2", received: t0.Add(20 * time.Millisecond), scheduled: t0.Add(50 * time.Millisecond)}},
	}}
	// taken at t0+100ms, committed 300 ms later
	s.ins.hopsOf(b, t0.Add(400*time.Millisecond), 300*time.Millisecond)
	got := hopSums(t, reg, metrics.IncrHopSeconds)
	want := map[string][2]float64{
		metrics.HopRead:  {2, 0.010 + 0.030},
		metrics.HopWait:  {2, 0.090 + 0.050},
		metrics.HopApply: {2, 0.300 + 0.300},
	}
	for hop, w := range want {
		g := got[hop]
		if g[0] != w[0] || g[1] < w[1]-1e-9 || g[1] > w[1]+1e-9 {
			t.Errorf("hop %s: count, sum = %v, want %v", hop, g, w)
		}
	}
}

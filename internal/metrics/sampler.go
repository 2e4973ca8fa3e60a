package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SampleInterval is how often a node samples its series into the window and the time-series
// database (the guide's InfluxDB reporting).
const SampleInterval = 10 * time.Second

// Sink receives each sample of a node's series. It must not block (the TSDB writer buffers).
type Sink interface {
	Add(pts []Point)
}

// RunSampler gathers g every interval and hands the points to each sink until ctx ends. A
// gather error (a child's /metrics not answering) still delivers what was gathered.
func RunSampler(ctx context.Context, g prometheus.Gatherer, interval time.Duration, log *slog.Logger, sinks ...Sink) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			mfs, err := g.Gather()
			if err != nil {
				log.Debug("gather metrics", "err", err)
			}
			pts := Flatten(mfs, now)
			for _, s := range sinks {
				s.Add(pts)
			}
		}
	}
}

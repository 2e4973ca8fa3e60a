package cm

import (
	"context"
	"sync"
	"time"
)

// contact tracks this CM's own round trips to the MetaDB. Heartbeat ages are measured on the
// MetaDB's clock, so they say "this host did not beat" only while the MetaDB could have received
// a beat and the CM could have seen it: continuousFor is how long successful round trips have
// followed each other without a gap longer than maxGap. A failed round trip, a stalled MetaDB or
// a paused CM (a gap) starts the count again.
type contact struct {
	mu          sync.Mutex
	since, last time.Time
}

// ok records a successful round trip that completed at now.
func (c *contact) ok(now time.Time, maxGap time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.IsZero() || now.Sub(c.last) > maxGap {
		c.since = now
	}
	c.last = now
}

// lost records a failed round trip.
func (c *contact) lost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.since, c.last = time.Time{}, time.Time{}
}

// continuousFor is how long the contact has been unbroken at now (0 when it is broken).
func (c *contact) continuousFor(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		return 0
	}
	return now.Sub(c.since)
}

// maxGap is the longest time between two successful round trips that still counts as
// continuous contact: the probe runs four times as often.
func (c *CM) maxGap() time.Duration { return c.opt.DownAfter / 2 }

func (c *CM) probeEvery() time.Duration { return max(c.opt.DownAfter/8, 50*time.Millisecond) }

// probeLoop pings the MetaDB often enough that a healthy link never shows a gap, independently of
// how long a tick's placement or orchestration takes.
func (c *CM) probeLoop(ctx context.Context) {
	t := time.NewTicker(c.probeEvery())
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, c.maxGap())
		err := c.db.PingContext(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.link.lost()
		default:
			c.link.ok(time.Now(), c.maxGap())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package store

import "time"

// retentionHeadroom is how long until the oldest sealed segment a consumer still needs reaches
// the retention limit: the hard maximum when one is set (data goes then), else the normal
// retention (data is kept past it only because a consumer lags). Everything consumed: the whole
// limit. It is what the "Store retention headroom low" alert watches.
func retentionHeadroom(l *Log, cons *Consumers, p RetentionPolicy, now time.Time) time.Duration {
	limit := p.MaxHours
	if limit <= 0 {
		limit = p.Hours
	}
	if limit <= 0 {
		return 0
	}
	full := time.Duration(limit * float64(time.Hour))
	l.mu.RLock()
	segs := append([]*segment(nil), l.segs...)
	l.mu.RUnlock()
	for _, s := range segs {
		if !s.sealed {
			break
		}
		if cons != nil && len(cons.notCovering(s.own)) > 0 {
			return full - now.Sub(unixTime(s.last))
		}
	}
	return full
}

package binlog

import "time"

// SetIdleTimeout lets tests shorten the watchdog; it returns a func restoring the old value.
func SetIdleTimeout(d time.Duration) func() {
	old := idleTimeout
	idleTimeout = d
	return func() { idleTimeout = old }
}

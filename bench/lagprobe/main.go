// Command lagprobe measures replication lag the way an application sees it: it writes a
// heartbeat row on the source every -every (seq n, with the time it wrote it) and polls every
// target every -poll; when a target first shows seq n, the lag of heartbeat n on that target is
// the time from its commit on the source to then. After -duration it stops writing, waits until
// every target has the last heartbeat (at most -drain) and prints per target:
//
//	NAME n=… p50_ms=… p99_ms=… max_ms=… missing=…
//
//	lagprobe -source 'root:@tcp(127.0.0.1:3306)/' -target oms='root:@tcp(127.0.0.1:3307)/' \
//	    -target native='root:@tcp(127.0.0.1:3308)/' -every 50ms -duration 60s
//
// With -trace FILE (repeat: the Store's and Incr-Sync's OMS_TXN_TRACE files, internal/metrics)
// and -trace-target NAME it also prints where the lag of NAME went: per hop of a heartbeat's way
// (source commit -> Store read -> durable -> sent -> Incr-Sync received -> scheduled -> taken ->
// committed -> seen by the poll) p50/p99/max, and the hops of the slowest heartbeats.
//
// The table is bench_hb.hb (id INT PRIMARY KEY, seq BIGINT, ts DATETIME(6)); it must exist on the
// source and every target (the benchmark creates it before the targets are copied).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

type targets []string

func (t *targets) String() string     { return strings.Join(*t, ",") }
func (t *targets) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	source := flag.String("source", "", "source DSN (go-sql-driver/mysql)")
	var tgts targets
	flag.Var(&tgts, "target", "NAME=DSN of a target (repeat)")
	every := flag.Duration("every", 50*time.Millisecond, "heartbeat interval")
	poll := flag.Duration("poll", 10*time.Millisecond, "target poll interval")
	duration := flag.Duration("duration", 60*time.Second, "how long heartbeats are written")
	drain := flag.Duration("drain", 120*time.Second, "how long to wait for the targets to get the last heartbeat")
	var traces targets
	flag.Var(&traces, "trace", "an OMS_TXN_TRACE file to break the lag of -trace-target down with (repeat)")
	traceTarget := flag.String("trace-target", "", "the target whose lag the traces break down")
	flag.Parse()
	if *source == "" || len(tgts) == 0 {
		fmt.Fprintln(os.Stderr, "lagprobe: -source and at least one -target NAME=DSN are required")
		os.Exit(2)
	}
	if err := run(*source, tgts, *every, *poll, *duration, *drain, traces, *traceTarget); err != nil {
		fmt.Fprintln(os.Stderr, "lagprobe:", err)
		os.Exit(1)
	}
}

// writes records when each heartbeat was committed on the source (and its GTID).
type writes struct {
	mu    sync.Mutex
	at    []time.Time // index seq-1
	gtids []string
	done  bool
}

func (w *writes) add(t time.Time, gtid string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.at = append(w.at, t)
	w.gtids = append(w.gtids, gtid)
	return int64(len(w.at))
}

func (w *writes) get(seq int64) (time.Time, int64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq < 1 || seq > int64(len(w.at)) {
		return time.Time{}, int64(len(w.at)), w.done
	}
	return w.at[seq-1], int64(len(w.at)), w.done
}

func run(source string, tgts []string, every, poll, duration, drain time.Duration, traces []string, traceTarget string) error {
	ctx := context.Background()
	src, err := sql.Open("mysql", source)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, "DELETE FROM bench_hb.hb"); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	conn, err := src.Conn(ctx) // one session: @@last_gtid is the heartbeat's
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer conn.Close()
	w := &writes{}
	type result struct {
		name    string
		lags    []time.Duration
		seen    map[int64]time.Time // when the poll first saw heartbeat seq
		missing int64
		err     error
	}
	results := make([]result, len(tgts))
	var wg sync.WaitGroup
	start := time.Now()
	for i, t := range tgts {
		name, dsn, ok := strings.Cut(t, "=")
		if !ok {
			return fmt.Errorf("target %q is not NAME=DSN", t)
		}
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := &results[i]
			r.name = name
			r.seen = map[int64]time.Time{}
			var seen int64
			deadline := start.Add(duration + drain)
			for time.Now().Before(deadline) {
				var seq sql.NullInt64
				err := db.QueryRowContext(ctx, "SELECT seq FROM bench_hb.hb WHERE id = 1").Scan(&seq)
				now := time.Now()
				if err != nil && err != sql.ErrNoRows {
					r.err = err
					return
				}
				for seq.Valid && seen < seq.Int64 {
					at, _, _ := w.get(seen + 1)
					if at.IsZero() {
						break // the writer has not recorded its commit yet: next poll
					}
					seen++
					r.lags = append(r.lags, max(0, now.Sub(at)))
					r.seen[seen] = now
				}
				if _, n, done := w.get(0); done && seen >= n {
					return
				}
				time.Sleep(poll)
			}
			_, n, _ := w.get(0)
			r.missing = n - seen
		}(i)
	}
	tick := time.NewTicker(every)
	for time.Since(start) < duration {
		<-tick.C
		w.mu.Lock()
		seq := int64(len(w.at)) + 1
		w.mu.Unlock()
		if _, err := conn.ExecContext(ctx, "REPLACE INTO bench_hb.hb (id, seq, ts) VALUES (1, ?, NOW(6))", seq); err != nil {
			return fmt.Errorf("source heartbeat: %w", err)
		}
		committed := time.Now() // committed (autocommit) when Exec returns
		var gtid sql.NullString
		if len(traces) > 0 {
			_ = conn.QueryRowContext(ctx, "SELECT @@last_gtid").Scan(&gtid) // MariaDB only: no breakdown elsewhere
		}
		w.add(committed, gtid.String)
	}
	tick.Stop()
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("target %s: %w", r.name, r.err)
		}
		sort.Slice(r.lags, func(a, b int) bool { return r.lags[a] < r.lags[b] })
		q := func(p float64) float64 {
			if len(r.lags) == 0 {
				return 0
			}
			return float64(r.lags[min(len(r.lags)-1, int(p*float64(len(r.lags))))].Microseconds()) / 1000
		}
		fmt.Printf("%s n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f missing=%d\n", r.name, len(r.lags), q(0.50), q(0.99), q(1), r.missing)
	}
	for _, r := range results {
		if r.name == traceTarget && len(traces) > 0 {
			return breakdown(w, r.seen, traces)
		}
	}
	return nil
}

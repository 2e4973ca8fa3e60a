package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/metrics"
)

// hops are the marks of a heartbeat's way, in order: its commit on the source (lagprobe), the
// trace hops of the Store and Incr-Sync, and the poll that saw it on the target (lagprobe).
var hops = []string{"commit", metrics.HopStoreReceived, metrics.HopStoreDurable, metrics.HopStoreSent,
	metrics.HopIncrReceived, metrics.HopIncrScheduled, metrics.HopIncrTaken, metrics.HopIncrCommitted, "seen"}

// readTraces returns the first time of every hop of every GTID in the trace files.
func readTraces(files []string) (map[string]map[string]time.Time, error) {
	out := map[string]map[string]time.Time{}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) != 3 {
				continue
			}
			ns, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				continue
			}
			m := out[fs[2]]
			if m == nil {
				m = map[string]time.Time{}
				out[fs[2]] = m
			}
			if _, ok := m[fs[1]]; !ok {
				m[fs[1]] = time.Unix(0, ns)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("trace %s: %w", p, err)
		}
	}
	return out, nil
}

// breakdown prints, per hop, p50/p99/max over the heartbeats that have every mark, and the hops
// of the slowest ones.
func breakdown(w *writes, seen map[int64]time.Time, files []string) error {
	marks, err := readTraces(files)
	if err != nil {
		return err
	}
	type beat struct {
		seq   int64
		total time.Duration
		d     []time.Duration // per hop, from the previous one
	}
	var beats []beat
	w.mu.Lock()
	for i, at := range w.at {
		seq := int64(i + 1)
		m := marks[w.gtids[i]]
		s, ok := seen[seq]
		if m == nil || !ok {
			continue
		}
		m["commit"], m["seen"] = at, s
		b := beat{seq: seq, total: s.Sub(at)}
		for j := 1; j < len(hops); j++ {
			a, okA := m[hops[j-1]]
			z, okZ := m[hops[j]]
			if !okA || !okZ {
				b.d = nil
				break
			}
			b.d = append(b.d, z.Sub(a))
		}
		if b.d != nil {
			beats = append(beats, b)
		}
	}
	n := len(w.at)
	w.mu.Unlock() // the writer is done: w.at no longer changes
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
	fmt.Printf("breakdown: %d of %d heartbeats traced through every hop (ms)\n", len(beats), n)
	if len(beats) == 0 {
		return nil
	}
	fmt.Printf("  %-28s %8s %8s %8s\n", "hop", "p50", "p99", "max")
	for j := 1; j < len(hops); j++ {
		ds := make([]time.Duration, len(beats))
		for i, b := range beats {
			ds[i] = b.d[j-1]
		}
		sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
		q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		fmt.Printf("  %-28s %8s %8s %8s\n", hops[j-1]+" -> "+hops[j], ms(q(0.5)), ms(q(0.99)), ms(ds[len(ds)-1]))
	}
	sort.Slice(beats, func(a, b int) bool { return beats[a].total > beats[b].total })
	fmt.Printf("  slowest heartbeats (s after the first), ms per hop in the order above:\n")
	for _, b := range beats[:min(8, len(beats))] {
		parts := make([]string, len(b.d))
		for i, d := range b.d {
			parts[i] = ms(d)
		}
		fmt.Printf("    seq %d at %.1fs lag %s: %s\n", b.seq, w.at[b.seq-1].Sub(w.at[0]).Seconds(), ms(b.total), strings.Join(parts, " "))
	}
	// the worst lag of each second: a stall at the start (first use of a table) or a periodic one
	var worst []time.Duration
	for _, b := range beats {
		sec := int(w.at[b.seq-1].Sub(w.at[0]) / time.Second)
		for len(worst) <= sec {
			worst = append(worst, 0)
		}
		worst[sec] = max(worst[sec], b.total)
	}
	parts := make([]string, len(worst))
	for i, d := range worst {
		parts[i] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	fmt.Printf("  worst lag of each second (ms): %s\n", strings.Join(parts, " "))
	return nil
}

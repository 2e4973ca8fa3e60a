package verify

import (
	"context"
	"encoding/binary"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
)

// recheckPhase compares the candidate rows again until they are equal or the rounds are used
// up. A row that Incr-Sync has not applied yet converges within the window and is not reported.
// onlyPrev: the candidates come from the previous run, so the first comparison is immediate.
func (v *Verifier) recheckPhase(ctx context.Context, onlyPrev bool) error {
	rounds := *v.cfg.RecheckRounds
	delayFirst := rounds > 0 && !onlyPrev
	n := rounds
	if !delayFirst {
		n = rounds + 1
	}
	pending := map[*tableRun]bool{}
	for _, tr := range v.tables {
		tr.initial = int64(len(tr.candidates))
		if len(tr.candidates) > 0 {
			pending[tr] = true
		}
	}
	for r := 0; r < n && len(pending) > 0; r++ {
		if r > 0 || delayFirst {
			t := time.NewTimer(time.Duration(v.cfg.RecheckDelay))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(v.cfg.Concurrency)
		for tr := range pending {
			g.Go(func() error { return v.recheckTable(gctx, tr) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for tr := range pending {
			if len(tr.final) == 0 {
				delete(pending, tr)
			}
		}
		v.log.Debug("re-check round done", "round", r+1, "tables_differing", len(pending))
		if err := v.saveState(true); err != nil {
			return err
		}
	}
	return nil
}

// recheckTable compares a table's candidates now and keeps the ones that still differ.
func (v *Verifier) recheckTable(ctx context.Context, tr *tableRun) error {
	p := tr.p
	var diffs []rowDiff
	var err error
	if !p.hasKey() {
		diffs, err = v.multisetDiff(ctx, p)
	} else {
		v.mu.Lock()
		keys := make([][][]byte, 0, len(tr.candidates))
		for _, k := range tr.candidates {
			keys = append(keys, k)
		}
		v.mu.Unlock()
		var rows [2][][][]byte
		err = bothSides(ctx, func(ctx context.Context, s side) error {
			var err error
			rows[s], err = v.lookup(ctx, s, p, keys)
			return err
		})
		if err == nil {
			diffs = compareSets(p, rows[srcSide], rows[dstSide])
		}
	}
	if err != nil {
		return err
	}
	sortDiffs(diffs)
	v.mu.Lock()
	defer v.mu.Unlock()
	tr.final = diffs
	ts := v.state.Tables[p.Name]
	if !p.hasKey() {
		if len(diffs) == 0 {
			delete(tr.candidates, "")
			ts.WholeTable = false
		}
		return nil
	}
	tr.candidates = map[string][][]byte{}
	ts.Candidates = ts.Candidates[:0]
	for _, d := range diffs {
		id := candidateID(p, d.Key)
		if _, dup := tr.candidates[id]; !dup {
			tr.candidates[id] = d.Key
			ts.Candidates = append(ts.Candidates, d.Key)
		}
	}
	return nil
}

// sortDiffs orders differences by key (numbers by value), so reports are stable.
func sortDiffs(d []rowDiff) {
	sort.SliceStable(d, func(i, j int) bool { return keyLess(d[i].Key, d[j].Key) })
}

func keyLess(a, b [][]byte) bool {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		if xn, ok1 := intVal(x); ok1 {
			if yn, ok2 := intVal(y); ok2 {
				if xn != yn {
					return xn < yn
				}
				continue
			}
		}
		if c := compareBytes(x, y); c != 0 {
			return c < 0
		}
	}
	return len(a) < len(b)
}

func intVal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	neg := b[0] == '-'
	s := b
	if neg {
		s = b[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// rowKey encodes a full row (for multisets).
func rowKey(r [][]byte) string {
	var b []byte
	for _, v := range r {
		if v == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return string(b)
}

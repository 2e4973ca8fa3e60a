package verify

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
)

// taskQueue is the planned chunks waiting for a worker: small, the planner is much faster than
// the comparison and a short queue keeps the state's done-map close to the truth.
const taskQueue = 16

// keyBatch is the number of keys per IN lookup (well under in_predicate_conversion_threshold
// would not matter; 500 keeps one statement small).
const keyBatch = 500

type task struct {
	tr *tableRun
	i  int
	c  chunk
}

// Run compares every selected table, re-checks differences and writes the report. Cancelled, it
// saves its state and returns ctx.Err(); the next Run resumes from the state.
func (v *Verifier) Run(ctx context.Context) error {
	err := v.run(ctx)
	switch {
	case err == nil:
		v.setPhase(component.StateFinished)
	case ctx.Err() != nil:
		// Paused (a query cut by the cancellation may report itself as a broken connection).
		_ = v.saveState(true)
		v.setPhase(component.StatePaused)
		return ctx.Err()
	default:
		v.mu.Lock()
		v.phase, v.lastErr = component.Outcome(ctx, err, v.FailureCode())
		v.mu.Unlock()
		_ = v.saveState(true)
	}
	return err
}

// FailureCode implements component.FailureCoder.
func (v *Verifier) FailureCode() string { return omserr.VerifyFailed }

func (v *Verifier) run(ctx context.Context) error {
	v.mu.Lock()
	v.started = time.Now()
	v.phase = component.StateRunning
	v.lastErr = nil
	v.mu.Unlock()
	// A Run after a pause in the same process starts its counters from the state again.
	v.rowsDone.Store(0)
	v.chunksDone.Store(0)
	v.chunksAll.Store(0)
	v.chunksResumed.Store(0)
	v.chunkQueries.Store(0)
	v.tableChecksums.Store(0)
	v.tablesChecksumEqual.Store(0)
	if err := os.MkdirAll(v.cfg.OutputDir, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	st, resumed, err := loadState(v.workDir, v.cfg.fingerprint())
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.state = st
	for name, tr := range v.tables {
		ts := st.Tables[name]
		if ts == nil {
			ts = &tableState{}
			st.Tables[name] = ts
		}
		tr.rowsDone.Store(ts.RowsDone)
		v.rowsDone.Add(ts.RowsDone)
		for _, k := range ts.Candidates {
			tr.candidates[candidateID(tr.p, k)] = k
		}
		if ts.WholeTable {
			tr.candidates[""] = nil
		}
		tr.tc, tr.tcNote = ts.TableChecksum, ts.TableChecksumNote
		if ts.TableChecksum == tcEqual {
			v.tablesChecksumEqual.Add(1)
		}
	}
	v.mu.Unlock()
	if resumed {
		v.log.Info("resuming full verification", "phase", st.Phase)
	}
	start := time.Now()
	onlyPrev := v.cfg.OnlyPreviousDifferences
	if onlyPrev && st.Phase == phaseChunks {
		if err := v.loadPrevious(); err != nil {
			return err
		}
		v.mu.Lock()
		st.Phase = phaseRecheck
		v.mu.Unlock()
	}
	if st.Phase == phaseChunks {
		if err := v.chunkPhase(ctx); err != nil {
			return err
		}
		v.mu.Lock()
		st.Phase = phaseRecheck
		v.mu.Unlock()
		if err := v.saveState(true); err != nil {
			return err
		}
	}
	if err := v.recheckPhase(ctx, onlyPrev); err != nil {
		return err
	}
	rep, err := v.writeReport(start)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.result = rep
	st.Phase = phaseDone
	v.mu.Unlock()
	if err := v.saveState(true); err != nil {
		return err
	}
	v.log.Info("full verification finished", "tables", len(rep.Tables), "rows_compared", rep.Compared,
		"only_in_source", rep.OnlyInSource, "only_in_target", rep.OnlyInTarget, "different", rep.Different,
		"seconds", time.Since(start).Seconds())
	return nil
}

// chunkPhase compares every table: by its table checksum where it takes one and that proves it
// equal, else by planning and comparing its chunks.
func (v *Verifier) chunkPhase(ctx context.Context) error {
	v.tcPlan, v.fb = v.tableChecksumPlan(), newFallbacks()
	for tr, why := range v.tcPlan {
		if why != "" {
			v.log.Debug("no table checksum", "table", tr.p.Name, "reason", why)
		}
	}
	if v.cfg.Mode == ModeRange {
		return v.rangePipeline(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	tasks := make(chan task, taskQueue)
	g.Go(func() error {
		defer close(tasks)
		return v.produce(gctx, func(t task) error {
			select {
			case tasks <- t:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for w := 0; w < v.cfg.Concurrency; w++ {
		g.Go(func() error {
			for t := range tasks {
				if err := v.doTask(gctx, t); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// produce hands out, table by table, a table checksum (tables that take one, see
// tablechecksum.go) or the chunks not yet done (planned now or taken from the state); tables
// whose checksum did not prove them equal come back and are chunked.
func (v *Verifier) produce(ctx context.Context, send func(task) error) error {
	for _, p := range v.pairs {
		tr := v.tables[p.Name]
		if v.takeTableChecksum(tr) {
			v.fb.start()
			if err := send(task{tr: tr, i: tableTask}); err != nil {
				return err
			}
		} else if err := v.sendChunks(ctx, tr, send); err != nil {
			return err
		}
		if err := v.sendFallbacks(ctx, send, false); err != nil {
			return err
		}
	}
	return v.sendFallbacks(ctx, send, true)
}

// sendChunks plans a table's chunks (or takes the plan from the state) and hands each chunk not
// yet done to send.
func (v *Verifier) sendChunks(ctx context.Context, tr *tableRun, send func(task) error) error {
	p := tr.p
	v.mu.Lock()
	ts := v.state.Tables[p.Name]
	planned := ts.Planned
	v.mu.Unlock()
	if !planned {
		cs, err := planChunks(ctx, v.src, p, v.cfg.ChunkSize)
		if err != nil {
			return err
		}
		v.mu.Lock()
		ts.Chunks, ts.Done, ts.Planned = cs, make([]byte, len(cs)), true
		v.mu.Unlock()
	}
	v.mu.Lock()
	n := len(ts.Chunks)
	v.mu.Unlock()
	v.chunksAll.Add(int64(n))
	for i := 0; i < n; i++ {
		v.mu.Lock()
		c, done := ts.Chunks[i], isDone(ts, i)
		v.mu.Unlock()
		if done {
			v.chunksDone.Add(1)
			v.chunksResumed.Add(1)
			continue
		}
		if err := send(task{tr: tr, i: i, c: c}); err != nil {
			return err
		}
	}
	return nil
}

func (v *Verifier) doTask(ctx context.Context, t task) error {
	p := t.tr.p
	if t.i == tableTask {
		start := time.Now()
		sums, err := v.tableChecksumBoth(ctx, p)
		if err != nil {
			return err
		}
		if err := v.resolveTableChecksum(t.tr, sums, time.Since(start)); err != nil {
			return err
		}
		return v.throttle.wait(ctx, sums[srcSide].rows)
	}
	var rows int64
	var cands map[string][][]byte
	var err error
	switch {
	case !p.hasKey():
		rows, cands, err = v.checksumWhole(ctx, p)
	case v.cfg.Mode == ModeIn:
		rows, cands, err = v.compareChunkIn(ctx, p, t.c)
	default:
		rows, cands, err = v.compareChunkRange(ctx, p, t.c)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("compare chunk %d of %s: %w", t.i, p.Name, err)
	}
	if err := v.finishChunk(t, rows, cands); err != nil {
		return err
	}
	return v.throttle.wait(ctx, rows)
}

// finishChunk records a compared chunk: done in the state, its candidates, the counters.
func (v *Verifier) finishChunk(t task, rows int64, cands map[string][][]byte) error {
	p := t.tr.p
	v.mu.Lock()
	ts := v.state.Tables[p.Name]
	markDone(ts, t.i)
	ts.RowsDone += rows
	for id, k := range cands {
		if _, seen := t.tr.candidates[id]; !seen {
			t.tr.candidates[id] = k
			if id == "" {
				ts.WholeTable = true
			} else {
				ts.Candidates = append(ts.Candidates, k)
			}
		}
	}
	v.mu.Unlock()
	t.tr.rowsDone.Add(rows)
	v.rowsDone.Add(rows)
	v.chunksDone.Add(1)
	return v.saveState(false)
}

// sum is a chunk's aggregate on one side.
type sum struct {
	count int64
	crc   uint64
}

func querySum(ctx context.Context, db *sql.DB, q string, args []any) (sum, error) {
	var s sum
	err := db.QueryRowContext(ctx, q, args...).Scan(&s.count, &s.crc)
	return s, err
}

// bothSides runs f for the source and the target at the same time.
func bothSides(ctx context.Context, f func(ctx context.Context, s side) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f(gctx, srcSide) })
	g.Go(func() error { return f(gctx, dstSide) })
	return g.Wait()
}

func (v *Verifier) db(s side) *sql.DB {
	if s == srcSide {
		return v.src
	}
	return v.dst
}

// sumBothSides takes the aggregate (count and checksum) of chunk c on both sides at once.
func (v *Verifier) sumBothSides(ctx context.Context, p *pair, c chunk) ([2]sum, error) {
	var sums [2]sum
	err := bothSides(ctx, func(ctx context.Context, s side) error {
		q, a := p.checksumSQL(s, c)
		var err error
		v.chunkQueries.Add(1)
		sums[s], err = querySum(ctx, v.db(s), q, a)
		return err
	})
	return sums, err
}

// compareChunkRange compares aggregates, and rows only when they differ.
func (v *Verifier) compareChunkRange(ctx context.Context, p *pair, c chunk) (int64, map[string][][]byte, error) {
	sums, err := v.sumBothSides(ctx, p, c)
	if err != nil {
		return 0, nil, err
	}
	if sums[srcSide] == sums[dstSide] {
		return sums[srcSide].count, nil, nil
	}
	return v.drillChunk(ctx, p, c, sums)
}

// drillChunk compares the rows of a chunk whose aggregates differ. A chunk that holds many more
// rows than planned on one side (a target full of rows beyond the source's last key, a source
// grown since planning) is first cut again along that side's key, so no drill-down holds more
// than about two chunks of rows in memory.
func (v *Verifier) drillChunk(ctx context.Context, p *pair, c chunk, sums [2]sum) (int64, map[string][][]byte, error) {
	limit := int64(2 * v.cfg.ChunkSize)
	if big := max(sums[srcSide].count, sums[dstSide].count); big > limit {
		s := srcSide
		if sums[dstSide].count > sums[srcSide].count {
			s = dstSide
		}
		subs, err := walkChunks(ctx, v.db(s), s, p, v.cfg.ChunkSize, c)
		if err != nil {
			return 0, nil, err
		}
		if len(subs) > 1 {
			v.chunksSplit.Add(1)
			var rows int64
			cands := map[string][][]byte{}
			for _, sc := range subs {
				n, cs, err := v.compareChunkRange(ctx, p, sc)
				if err != nil {
					return 0, nil, err
				}
				rows += n
				for id, k := range cs {
					cands[id] = k
				}
			}
			return rows, cands, nil
		}
	}
	return v.fetchAndCompare(ctx, p, c)
}

// fetchAndCompare fetches a chunk's rows from both sides and returns the keys that differ.
func (v *Verifier) fetchAndCompare(ctx context.Context, p *pair, c chunk) (int64, map[string][][]byte, error) {
	var rows [2][][][]byte
	err := bothSides(ctx, func(ctx context.Context, s side) error {
		q, a := p.rowsSQL(s, c)
		var err error
		v.chunkQueries.Add(1)
		rows[s], err = queryRows(ctx, v.db(s), q, a)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	cands := map[string][][]byte{}
	for _, d := range compareSets(p, rows[srcSide], rows[dstSide]) {
		cands[candidateID(p, d.Key)] = d.Key
	}
	return int64(len(rows[srcSide])), cands, nil
}

// compareChunkIn fetches the source rows of a chunk and looks the target rows up by their keys.
func (v *Verifier) compareChunkIn(ctx context.Context, p *pair, c chunk) (int64, map[string][][]byte, error) {
	var srcRows [][][]byte
	var dstSum sum
	err := bothSides(ctx, func(ctx context.Context, s side) error {
		var err error
		v.chunkQueries.Add(1)
		if s == srcSide {
			q, a := p.rowsSQL(s, c)
			srcRows, err = queryRows(ctx, v.src, q, a)
		} else {
			q, a := p.checksumSQL(s, c) // the count of target rows in the range
			dstSum, err = querySum(ctx, v.dst, q, a)
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	keys := make([][][]byte, len(srcRows))
	for i, r := range srcRows {
		keys[i] = p.key(r)
	}
	dstRows, err := v.lookup(ctx, dstSide, p, keys)
	if err != nil {
		return 0, nil, err
	}
	if int64(len(dstRows)) < dstSum.count {
		// Rows only in the target: read the target range.
		q, a := p.rowsSQL(dstSide, c)
		if dstRows, err = queryRows(ctx, v.dst, q, a); err != nil {
			return 0, nil, err
		}
	}
	cands := map[string][][]byte{}
	for _, d := range compareSets(p, srcRows, dstRows) {
		cands[candidateID(p, d.Key)] = d.Key
	}
	return int64(len(srcRows)), cands, nil
}

// lookup fetches the rows with the given keys from one side, in batches.
func (v *Verifier) lookup(ctx context.Context, s side, p *pair, keys [][][]byte) ([][][]byte, error) {
	var out [][][]byte
	for i := 0; i < len(keys); i += keyBatch {
		j := min(i+keyBatch, len(keys))
		q, a := p.keysSQL(s, keys[i:j])
		rows, err := queryRows(ctx, v.db(s), q, a)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// candidateID is the identity of a key for the candidate set: its raw values (the collation-aware
// identity needs a row; two raw keys of one row under a case-insensitive key are merged when the
// re-check fetches them).
func candidateID(p *pair, key [][]byte) string {
	if key == nil {
		return ""
	}
	r := make([][]byte, len(p.cols)+p.nWeights)
	for i, kp := range p.keyPos {
		r[kp] = key[i]
	}
	wi := len(p.cols)
	for i := range p.keyPos {
		if p.weight[i] {
			r[wi] = key[i]
			wi++
		}
	}
	return p.identity(r)
}

// rowDiff is one difference.
type rowDiff struct {
	Kind  string   // DiffOnlySource, DiffOnlyTarget, DiffDifferent
	Key   [][]byte // raw key values (the target's for rows only in the target)
	Src   [][]byte // compared column values on the source (nil: absent)
	Dst   [][]byte
	Cols  []int // differing columns (DiffDifferent)
	Count int   // copies (key-less tables), 1 otherwise
}

// Kinds of difference as printed in .diff files.
const (
	DiffOnlySource = "ONLY_IN_SOURCE"
	DiffOnlyTarget = "ONLY_IN_TARGET"
	DiffDifferent  = "DIFFERENT"
)

// compareSets matches rows of both sides by identity and returns the differences.
func compareSets(p *pair, src, dst [][][]byte) []rowDiff {
	n := len(p.cols)
	byID := make(map[string][][]byte, len(dst))
	for _, r := range dst {
		byID[p.identity(r)] = r
	}
	var out []rowDiff
	for _, r := range src {
		id := p.identity(r)
		d, ok := byID[id]
		if !ok {
			out = append(out, rowDiff{Kind: DiffOnlySource, Key: p.key(r), Src: r[:n], Count: 1})
			continue
		}
		delete(byID, id)
		if cols := diffColumns(p.kinds, r[:n], d[:n]); len(cols) > 0 {
			out = append(out, rowDiff{Kind: DiffDifferent, Key: p.key(r), Src: r[:n], Dst: d[:n], Cols: cols, Count: 1})
		}
	}
	for _, r := range dst {
		if _, ok := byID[p.identity(r)]; ok {
			out = append(out, rowDiff{Kind: DiffOnlyTarget, Key: p.key(r), Dst: r[:n], Count: 1})
		}
	}
	return out
}

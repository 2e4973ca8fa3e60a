package verify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// sideResult is one side's aggregate of one chunk, or its table checksum (a tableTask).
type sideResult struct {
	t   task
	s   side
	sum sum
	tab tableSum
	at  time.Time // tableTask: when the checksum started
}

type drillTask struct {
	t    task
	sums [2]sum
}

type taskKey struct {
	tr *tableRun
	i  int
}

// rangePipeline is the range mode's chunk pass. Each side has its own Concurrency workers
// taking the same chunks in the same order, so the two servers compute the aggregates of a chunk
// at about the same time but neither waits for the other after every chunk (a per-chunk barrier
// left each server idle while the other finished). A collector pairs the two aggregates of a
// chunk; chunks that differ go to drill-down workers that fetch and compare their rows. A table
// checksum (tableTask) takes the same path: each side's worker runs it, the collector pairs
// the two and resolves the table (done, or back to the producer to be chunked).
//
//	produce -> srcQ -> src workers \
//	        -> dstQ -> dst workers -> results -> collector -> drill -> drill workers
func (v *Verifier) rangePipeline(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	var queues [2]chan task
	for s := range queues {
		queues[s] = make(chan task, taskQueue)
	}
	// results holds what side workers produced and the collector has not paired yet; room for
	// every worker's result keeps workers from blocking on a momentarily busy collector.
	results := make(chan sideResult, 2*v.cfg.Concurrency)
	drill := make(chan drillTask, taskQueue)

	g.Go(func() error {
		defer close(queues[srcSide])
		defer close(queues[dstSide])
		return v.produce(gctx, func(t task) error {
			for s := range queues {
				select {
				case queues[s] <- t:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	})
	var wg sync.WaitGroup
	for s := range queues {
		for w := 0; w < v.cfg.Concurrency; w++ {
			wg.Add(1)
			g.Go(func() error {
				defer wg.Done()
				for t := range queues[s] {
					if t.i == tableTask {
						at := time.Now()
						ts, err := v.tableChecksum(gctx, side(s), t.tr.p)
						if err != nil {
							return err
						}
						select {
						case results <- sideResult{t: t, s: side(s), tab: ts, at: at}:
						case <-gctx.Done():
							return gctx.Err()
						}
						if side(s) == srcSide && ts.ok {
							if err := v.throttle.wait(gctx, ts.rows); err != nil {
								return err
							}
						}
						continue
					}
					q, a := t.tr.p.checksumSQL(side(s), t.c)
					v.chunkQueries.Add(1)
					sm, err := querySum(gctx, v.db(side(s)), q, a)
					if err != nil {
						if gctx.Err() != nil {
							return gctx.Err()
						}
						return fmt.Errorf("checksum chunk %d of %s on the %s: %w", t.i, t.tr.p.Name, sideName(side(s)), err)
					}
					select {
					case results <- sideResult{t: t, s: side(s), sum: sm}:
					case <-gctx.Done():
						return gctx.Err()
					}
					if side(s) == srcSide {
						if err := v.throttle.wait(gctx, sm.count); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
	}
	g.Go(func() error {
		wg.Wait()
		close(results)
		return nil
	})
	g.Go(func() error {
		defer close(drill)
		pending := map[taskKey]sideResult{}
		for r := range results {
			k := taskKey{r.t.tr, r.t.i}
			o, ok := pending[k]
			if !ok {
				pending[k] = r
				continue
			}
			delete(pending, k)
			if r.t.i == tableTask {
				a, b := o, r
				if a.s == dstSide {
					a, b = b, a
				}
				at := a.at
				if b.at.Before(at) {
					at = b.at
				}
				if err := v.resolveTableChecksum(r.t.tr, [2]tableSum{a.tab, b.tab}, time.Since(at)); err != nil {
					return err
				}
				continue
			}
			src, dst := r.sum, o.sum
			if r.s == dstSide {
				src, dst = o.sum, r.sum
			}
			switch {
			case src == dst:
				if err := v.finishChunk(r.t, src.count, nil); err != nil {
					return err
				}
			case !r.t.tr.p.hasKey():
				if err := v.finishChunk(r.t, src.count, map[string][][]byte{"": nil}); err != nil {
					return err
				}
			default:
				select {
				case drill <- drillTask{t: r.t, sums: [2]sum{src, dst}}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	for w := 0; w < v.cfg.Concurrency; w++ {
		g.Go(func() error {
			for d := range drill {
				t := d.t
				rows, cands, err := v.drillChunk(gctx, t.tr.p, t.c, d.sums)
				if err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					return fmt.Errorf("compare rows of chunk %d of %s: %w", t.i, t.tr.p.Name, err)
				}
				if err := v.finishChunk(t, rows, cands); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func sideName(s side) string {
	if s == srcSide {
		return "source"
	}
	return "target"
}

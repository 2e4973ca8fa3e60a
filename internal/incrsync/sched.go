package incrsync

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/binlog"
)

// The scheduler is the dependency graph of source transactions in flight. A transaction depends
// on the last earlier transaction that touched each of its keys and is not applied yet (that
// one depends on the ones before, so the order of every key is kept transitively); it becomes
// ready when all its dependencies are applied. Workers take ready transactions; a worker may
// also take a waiting transaction whose every pending dependency is already in the worker's own
// batch, so a chain of transactions on a hot key is applied (and compacted) in one target
// transaction instead of N. A DDL is a barrier: it depends on everything before it and
// everything after it depends on it.
//
// The scheduler also keeps the low watermark: the GTID set of the longest prefix of the log
// that is applied, which every checkpoint row carries.
//
// With atomic_txns it runs in ordered mode instead (sched_ordered.go): batches are runs of
// consecutive source transactions, committed in log order.

type nodeState uint8

const (
	stWaiting nodeState = iota
	stReady
	stTaken
	stDone
)

type node struct {
	idx        uint64 // arrival order
	t          *mtxn
	keys       []string
	waiting    int // dependencies not yet applied
	deps       []*node
	dependents []*node
	state      nodeState
	batch      *batch
	barrier    bool
	rows       int
}

// batch is what one worker applies in one target transaction.
type batch struct {
	worker int
	nodes  []*node
	rows   int
	cpLW   *binlog.GTIDSet // the watermark its checkpoint row holds (checkpointFor)

	// ordered mode: where runnableLocked stopped, and whether the group yielded to the head
	// (it then executes only once it is the head)
	scanNode, scanDep int
	serial            bool
}

// ckpt is the checkpoint content of a batch, taken just before it commits.
type ckpt struct {
	lw      string
	applied []string
	// lwCommit is the source commit time of the last transaction in the watermark.
	lwCommit time.Time
}

type scheduler struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change

	last        map[string]*node
	lastBarrier *node
	ready       readyQueue // oldest first: keeps the low watermark close behind the head
	order       []*node    // arrival order; the head is the first not-yet-applied transaction
	inflight    int
	window      int
	nextIdx     uint64

	lw        binlog.GTIDSet
	lwCommit  time.Time
	perWorker [][]*node // applied by each worker and not yet below the watermark
	recovered []string  // applied before a restart, above the recovered watermark

	maxRows, maxTxns int

	// ordered mode (sched_ordered.go): batches are consecutive transactions committed in log
	// order. nextTake is the arrival index of the first transaction not handed out yet;
	// committing the head transaction whose batch got its turn; headSince when the head last
	// changed; yields how often a waiting group rolled back for the head.
	ordered    bool
	arrived    chan struct{} // closed and replaced when a transaction arrives
	nextTake   uint64
	committing *node
	headSince  time.Time
	yields     int64

	// failure drains the graph: once a transaction fails, everything that arrived before it is
	// still applied (it cannot depend on the failed one), nothing after it is started, and then
	// every worker stops with the first failure's error.
	failErr error
	failIdx uint64
	onFail  func() // stops the read stage

	// durable is the highest watermark a committed checkpoint row holds: what a restart resumes
	// from, so the only position reported and acknowledged (lw may be ahead of it by
	// transactions that carried nothing to apply until the idle watermark is written).
	durable binlog.GTIDSet

	// counters for status
	appliedTxns, appliedRows, batches int64
}

// newScheduler returns a scheduler starting at the watermark lw; ordered: commit in log order
// (atomic_txns).
func newScheduler(workers, window, maxRows, maxTxns int, ordered bool, lw binlog.GTIDSet, recovered []string) *scheduler {
	return &scheduler{
		changed: make(chan struct{}), last: map[string]*node{}, window: window,
		lw: lw.Clone(), durable: lw.Clone(), perWorker: make([][]*node, workers), recovered: recovered,
		maxRows: maxRows, maxTxns: maxTxns, ordered: ordered, arrived: make(chan struct{}), headSince: time.Now(),
	}
}

func (s *scheduler) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait blocks until the state changes or ctx ends. Call with s.mu held; it returns with it held.
func (s *scheduler) waitLocked(ctx context.Context) error {
	ch := s.changed
	s.mu.Unlock()
	select {
	case <-ch:
		s.mu.Lock()
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		return ctx.Err()
	}
}

// fail records the failure of the transaction with arrival index idx (failAll: of the read
// stage, after everything read so far). The earliest failure wins.
func (s *scheduler) fail(idx uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx == failAll {
		idx = s.nextIdx
	}
	if s.failErr != nil && s.failIdx <= idx {
		return
	}
	first := s.failErr == nil
	s.failErr, s.failIdx = err, idx
	if first && s.onFail != nil {
		s.onFail()
	}
	s.signalLocked()
}

// failAll as the index of a failure means: after every transaction read so far.
const failAll = ^uint64(0)

// failure returns the recorded failure, if any.
func (s *scheduler) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// below reports whether n may still be started: no failure, or n arrived before the failed one.
func (s *scheduler) belowLocked(n *node) bool {
	return s.failErr == nil || n.idx < s.failIdx
}

// drainedLocked reports whether, after a failure, everything before the failed transaction is
// applied.
func (s *scheduler) drainedLocked() bool {
	return s.failErr != nil && (len(s.order) == 0 || s.order[0].idx >= s.failIdx)
}

// nodeKind is how a transaction is scheduled.
type nodeKind int

const (
	nodeRows    nodeKind = iota // applied after the earlier transactions sharing a key, and the last barrier
	nodeBarrier                 // applied alone, after everything before it (DDL)
	nodeSkip                    // needs no apply: only moves the watermark, in order
)

// add schedules a transaction of rows: it waits for the earlier transactions that touch one of
// keys and for the last barrier. It blocks while the window is full.
func (s *scheduler) add(ctx context.Context, t *mtxn, keys []string) error {
	return s.enqueue(ctx, t, keys, nodeRows)
}

// addBarrier schedules a transaction applied alone after everything before it (DDL).
func (s *scheduler) addBarrier(ctx context.Context, t *mtxn) error {
	return s.enqueue(ctx, t, nil, nodeBarrier)
}

// skip records a transaction that needs no apply (filtered out, heartbeat, no rows, or already
// applied before a restart), so the watermark moves over it in order.
func (s *scheduler) skip(ctx context.Context, t *mtxn) error {
	return s.enqueue(ctx, t, nil, nodeSkip)
}

func (s *scheduler) enqueue(ctx context.Context, t *mtxn, keys []string, kind nodeKind) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight >= s.window && s.failErr == nil {
		if err := s.waitLocked(ctx); err != nil {
			return err
		}
	}
	if s.failErr != nil {
		return s.failErr
	}
	t.scheduled = time.Now()
	n := &node{idx: s.nextIdx, t: t, keys: keys, barrier: kind == nodeBarrier, rows: len(t.rows)}
	s.nextIdx++
	s.order = append(s.order, n)
	if len(s.order) == 1 {
		s.headSince = time.Now()
	}
	if kind == nodeSkip {
		n.state = stDone
		s.advanceLocked()
		return nil
	}
	s.inflight++
	seen := map[*node]bool{}
	dep := func(d *node) {
		// d == n: a key listed twice (the before and after image of an UPDATE)
		if d != nil && d != n && d.state != stDone && !seen[d] {
			seen[d] = true
			n.deps = append(n.deps, d)
			d.dependents = append(d.dependents, n)
		}
	}
	if n.barrier {
		for _, o := range s.order[:len(s.order)-1] {
			dep(o)
		}
		s.lastBarrier = n
	} else {
		dep(s.lastBarrier)
		for _, k := range keys {
			dep(s.last[k])
			s.last[k] = n
		}
	}
	n.waiting = len(n.deps)
	if s.ordered {
		// a worker without a group may take it, ready or not; only those wake (a signal per
		// transaction read would wake every worker waiting for its turn)
		close(s.arrived)
		s.arrived = make(chan struct{})
	} else if n.waiting == 0 {
		n.state = stReady
		heap.Push(&s.ready, n)
		s.signalLocked()
	}
	return nil
}

// take blocks until there is ready work and returns a batch for the worker. Merging: it takes
// more ready transactions (and the waiting ones that depend only on its own batch) up to the
// batch limits; a barrier always goes alone, and idempotent (before the end of the copy) and
// strict transactions never share a batch. After a failure it hands out only what arrived
// before the failed transaction and returns the failure once that is applied.
func (s *scheduler) take(ctx context.Context, worker int) (*batch, error) {
	if s.ordered {
		return s.takeOrdered(ctx, worker)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.ready) == 0 || !s.belowLocked(s.ready[0]) {
		if s.drainedLocked() {
			return nil, s.failErr
		}
		if err := s.waitLocked(ctx); err != nil {
			return nil, err
		}
	}
	b := &batch{worker: worker}
	first := heap.Pop(&s.ready).(*node)
	s.takeLocked(b, first)
	if first.barrier {
		return b, nil
	}
	for i := 0; i < len(b.nodes); i++ {
		// absorb chains on the batch's own keys
		for _, d := range b.nodes[i].dependents {
			if !s.roomLocked(b) {
				break
			}
			if d.state == stWaiting && !d.barrier && d.t.idempotent == first.t.idempotent && s.belowLocked(d) && s.onlyDependsOn(d, b) {
				s.takeLocked(b, d)
			}
		}
		// then independent ready work (there is a backlog), whose chain the loop absorbs next
		if i == len(b.nodes)-1 && s.roomLocked(b) && len(s.ready) > 0 && !s.ready[0].barrier && s.belowLocked(s.ready[0]) &&
			s.ready[0].t.idempotent == first.t.idempotent && b.rows+s.ready[0].rows <= s.maxRows {
			r := heap.Pop(&s.ready).(*node)
			s.takeLocked(b, r)
		}
	}
	return b, nil
}

func (s *scheduler) roomLocked(b *batch) bool {
	return len(b.nodes) < s.maxTxns && b.rows < s.maxRows
}

func (s *scheduler) takeLocked(b *batch, n *node) {
	n.state = stTaken
	n.batch = b
	b.nodes = append(b.nodes, n)
	b.rows += n.rows
}

func (s *scheduler) onlyDependsOn(d *node, b *batch) bool {
	for _, x := range d.deps {
		if x.state != stDone && !(x.state == stTaken && x.batch == b) {
			return false
		}
	}
	return true
}

// checkpointFor returns the checkpoint content of a batch about to commit.
// includeBatch is false for the "DDL pending" row written before a DDL runs.
func (s *scheduler) checkpointFor(b *batch, includeBatch bool) ckpt {
	if s.ordered && !b.nodes[0].barrier {
		return s.checkpointThrough(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lwIdx := s.nextIdx
	if len(s.order) > 0 {
		lwIdx = s.order[0].idx
	}
	mine := s.perWorker[b.worker][:0]
	for _, n := range s.perWorker[b.worker] {
		if n.idx >= lwIdx {
			mine = append(mine, n)
		}
	}
	s.perWorker[b.worker] = mine
	c := ckpt{lw: s.lw.String(), lwCommit: s.lwCommit}
	lw := s.lw.Clone()
	b.cpLW = &lw
	for _, n := range mine {
		if n.t.gtid != "" {
			c.applied = append(c.applied, n.t.gtid)
		}
	}
	for _, n := range b.nodes {
		if n.t.gtid != "" && includeBatch {
			c.applied = append(c.applied, n.t.gtid)
		}
	}
	if len(s.recovered) > 0 {
		keep := s.recovered[:0]
		for _, g := range s.recovered {
			if !s.lw.Contains(g) {
				keep = append(keep, g)
			}
		}
		s.recovered = keep
		c.applied = append(c.applied, keep...)
	}
	return c
}

// commit marks a batch applied: its dependents may become ready, the watermark may advance.
func (s *scheduler) commit(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range b.nodes {
		n.state = stDone
		s.inflight--
		s.appliedTxns++
		s.appliedRows += int64(n.rows)
		for _, k := range n.keys {
			if s.last[k] == n {
				delete(s.last, k)
			}
		}
		if s.lastBarrier == n {
			s.lastBarrier = nil
		}
		for _, d := range n.dependents {
			d.waiting--
			if d.waiting == 0 && d.state == stWaiting && !s.ordered {
				d.state = stReady
				heap.Push(&s.ready, d)
			}
		}
		n.dependents = nil
		n.deps = nil
		if !s.ordered { // ordered: committed means below the watermark, nothing to list
			s.perWorker[b.worker] = append(s.perWorker[b.worker], n)
		}
	}
	s.batches++
	s.durableLocked(b.cpLW)
	s.advanceLocked()
	s.signalLocked()
}

// durableLocked records that a checkpoint row holding lw committed.
func (s *scheduler) durableLocked(lw *binlog.GTIDSet) {
	if lw != nil && lw.ContainsSet(s.durable) {
		s.durable = *lw
	}
}

// markDurable records that the watermark lw was written on its own (the idle watermark).
func (s *scheduler) markDurable(lw binlog.GTIDSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.durableLocked(&lw)
}

// advanceLocked moves the watermark over the applied head of the log.
func (s *scheduler) advanceLocked() {
	i := 0
	for i < len(s.order) && s.order[i].state == stDone {
		n := s.order[i]
		if n.t.gtid != "" {
			_ = s.lw.Add(n.t.gtid) // GTIDs were validated when read
		}
		if !n.t.commit.IsZero() {
			s.lwCommit = n.t.commit
		}
		s.order[i] = nil
		i++
	}
	if i > 0 {
		s.order = s.order[i:]
		s.headSince = time.Now()
		s.signalLocked()
	}
}

// schedSnapshot is the scheduler's watermark and counters, for status and acknowledgements.
type schedSnapshot struct {
	lw                  string    // low watermark: every GTID in it is applied
	durable             string    // the highest watermark a committed checkpoint holds
	lwCommit            time.Time // source commit time of the last transaction under lw
	inflight            int       // transactions added and not yet applied
	txns, rows, batches int64     // applied so far
	yields              int64     // ordered mode: groups rolled back for the head group
}

func (s *scheduler) snapshot() schedSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return schedSnapshot{lw: s.lw.String(), durable: s.durable.String(), lwCommit: s.lwCommit, inflight: s.inflight,
		txns: s.appliedTxns, rows: s.appliedRows, batches: s.batches, yields: s.yields}
}

// waitIdle blocks until everything read so far is applied (or a failure is recorded, which it
// returns).
func (s *scheduler) waitIdle(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		if s.failErr != nil {
			return s.failErr
		}
		if err := s.waitLocked(ctx); err != nil {
			return err
		}
	}
	return nil
}

// idle reports whether nothing is in flight.
func (s *scheduler) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight == 0
}

// readyQueue is a min-heap of ready transactions by arrival order. Oldest first matters: a
// transaction freed late by its dependency must not queue behind thousands of read-ahead ones,
// or the low watermark trails far behind what is applied and every checkpoint row has to list
// all the GTIDs applied above it.
type readyQueue []*node

func (q readyQueue) Len() int           { return len(q) }
func (q readyQueue) Less(i, j int) bool { return q[i].idx < q[j].idx }
func (q readyQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *readyQueue) Push(x any)        { *q = append(*q, x.(*node)) }
func (q *readyQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return n
}

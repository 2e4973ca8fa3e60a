package incrsync

import (
	"context"
	"errors"
	"time"
)

// Ordered mode (atomic_txns): a reader on the target must never see a source transaction
// without every earlier one. The scheduler then hands out groups: runs of CONSECUTIVE whole
// source transactions (in log order, up to the batch limits), each applied as one target
// transaction, so every state a reader can see is a state the source went through. Groups are
// executed in parallel: a group first writes its transactions that share no conflict key with
// an earlier group in flight, and the rest once those groups committed (splitLate, waitDeps), so
// it never waits on an earlier group's row locks; groups COMMIT strictly in log order: a worker
// whose group is written waits for its turn (waitTurn) before its COMMIT.
//
// A group waiting for its turn holds its row locks. Conflict keys cover every primary and
// unique key, and the apply sessions run in READ COMMITTED (no gap locks on searches), but a
// lock the keys do not show (a gap lock of a duplicate check, a lock of the target's own
// clients) could still make the head group wait on a later one, which waits for the head (for
// its turn, or for its late transactions' dependencies): a cycle InnoDB cannot see. So a waiter
// that sees the head still executing yieldAfter after it became the head rolls back (errYield)
// and executes again only once it is the head itself.

// yieldAfter is how long a later group waits with its locks held while the head group
// executes: far above a group's normal execution (milliseconds to a few hundred), so only a
// real wait cycle (or a target so slow that serial execution costs nothing more) yields.
const yieldAfter = time.Second

var (
	// errYield: the group rolled back so the head group can take its locks; it executes again
	// once it is the head.
	errYield = errors.New("commit order: yielded to the head group")
	// errAbandoned: an earlier transaction failed, so this group can never commit in order; it
	// is dropped (the task stops at the failure, a restart applies it).
	errAbandoned = errors.New("commit order: an earlier transaction failed")
)

// takeOrdered forms the next group in log order and returns it (a barrier once everything
// before it is applied). After a failure it hands out only groups before the failed
// transaction and then returns the failure.
func (s *scheduler) takeOrdered(ctx context.Context, worker int) (*batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *batch
	for {
		if b == nil {
			b = s.groupLocked(worker)
		}
		if b != nil && !s.belowLocked(b.nodes[0]) {
			b = nil // after a failure: never applied
		}
		if b != nil && (!b.nodes[0].barrier || s.runnableLocked(b)) {
			return b, nil // a group of rows starts at once: apply writes what depends on earlier groups last
		}
		if b == nil && s.drainedLocked() {
			return nil, s.failErr
		}
		if err := s.waitGroupLocked(ctx, b == nil); err != nil {
			if b != nil { // give the group back: the next take hands it out again
				for _, n := range b.nodes {
					n.state, n.batch = stWaiting, nil
				}
				s.nextTake = b.nodes[0].idx
			}
			return nil, err
		}
	}
}

// groupLocked takes the next run of consecutive transactions not handed out yet (transactions
// that need no apply are passed over): a barrier alone; otherwise up to the batch limits, never
// mixing idempotent and strict transactions, never past a barrier or a failure. nil: nothing
// is waiting.
func (s *scheduler) groupLocked(worker int) *batch {
	if len(s.order) == 0 {
		return nil
	}
	head := s.order[0].idx
	s.nextTake = max(s.nextTake, head)
	i := int(s.nextTake - head)
	for i < len(s.order) && s.order[i].state == stDone {
		i++
	}
	s.nextTake = head + uint64(i)
	if i == len(s.order) || !s.belowLocked(s.order[i]) {
		return nil
	}
	first := s.order[i]
	b := &batch{worker: worker}
	s.takeLocked(b, first)
	for i++; !first.barrier && i < len(s.order) && s.roomLocked(b); i++ {
		n := s.order[i]
		if n.state == stDone {
			continue // needs no apply; the group's checkpoint covers it
		}
		if n.barrier || n.t.idempotent != first.t.idempotent || !s.belowLocked(n) || b.rows+n.rows > s.maxRows {
			break
		}
		s.takeLocked(b, n)
	}
	s.nextTake = head + uint64(i)
	return b
}

// runnableLocked reports whether every dependency of the group outside it is applied. It
// resumes where the last call stopped: a dependency once applied stays applied.
func (s *scheduler) runnableLocked(b *batch) bool {
	for ; b.scanNode < len(b.nodes); b.scanNode++ {
		deps := b.nodes[b.scanNode].deps
		for ; b.scanDep < len(deps); b.scanDep++ {
			if d := deps[b.scanDep]; d.state != stDone && d.batch != b {
				return false
			}
		}
		b.scanDep = 0
	}
	return true
}

// splitLate divides a group for execution: early are its transactions that may be written at
// once, late those that depend on a transaction of an earlier group not committed yet, or on a
// late one of the group (they share a key, so they stay after it). Early ones share no key with
// any late one before them, so writing them first changes no key's order; late ones are written
// once their earlier groups committed (waitDeps), so they never wait on an earlier group's locks
// nor read a row it has not committed.
func (s *scheduler) splitLate(b *batch) (early, late []*node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	isLate := map[*node]bool{}
	for _, n := range b.nodes {
		for _, d := range n.deps {
			if d.state != stDone && (d.batch != b || isLate[d]) {
				isLate[n] = true
				break
			}
		}
		if isLate[n] {
			late = append(late, n)
		} else {
			early = append(early, n)
		}
	}
	return early, late
}

// waitDeps blocks until every dependency of the group outside it is committed (then its late
// transactions may be written); mayYield and errors as waitTurn.
func (s *scheduler) waitDeps(ctx context.Context, b *batch, mayYield bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitUntilLocked(ctx, b, mayYield, func() bool { return s.runnableLocked(b) })
}

// waitTurn blocks until every transaction before the batch is committed, so its COMMIT keeps
// the log order. With mayYield it returns errYield when the head group has been executing for
// yieldAfter without committing (see above); errAbandoned when an earlier transaction failed.
func (s *scheduler) waitTurn(ctx context.Context, b *batch, mayYield bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitUntilLocked(ctx, b, mayYield, func() bool {
		if len(s.order) > 0 && s.order[0] == b.nodes[0] {
			s.committing = b.nodes[0]
			return true
		}
		return false
	})
}

// waitUntilLocked waits, holding the batch's locks on the target, until done() (see waitTurn).
func (s *scheduler) waitUntilLocked(ctx context.Context, b *batch, mayYield bool, done func() bool) error {
	for {
		if done() {
			return nil
		}
		if !s.belowLocked(b.nodes[0]) {
			return errAbandoned
		}
		wait := time.Duration(0)
		if mayYield && len(s.order) > 0 && s.committing != s.order[0] {
			if wait = yieldAfter - time.Since(s.headSince); wait <= 0 {
				s.yields++
				return errYield
			}
		}
		if err := s.waitLockedFor(ctx, wait); err != nil {
			return err
		}
	}
}

// waitGroupLocked is waitLocked that also wakes when a transaction arrives (arrived: for a
// worker without a group).
func (s *scheduler) waitGroupLocked(ctx context.Context, arrived bool) error {
	if !arrived {
		return s.waitLocked(ctx)
	}
	ch, ar := s.changed, s.arrived
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ar:
	case <-ctx.Done():
	}
	s.mu.Lock()
	return ctx.Err()
}

// waitLockedFor is waitLocked bounded by d (0: unbounded).
func (s *scheduler) waitLockedFor(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return s.waitLocked(ctx)
	}
	ch := s.changed
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	return ctx.Err()
}

// checkpointThrough is the checkpoint of an ordered group: the watermark through its last
// transaction. It is written before the group waits for its turn, and true when the group
// commits, since by then every earlier transaction has committed; so the row needs no list of
// GTIDs above the watermark.
func (s *scheduler) checkpointThrough(b *batch) ckpt {
	s.mu.Lock()
	defer s.mu.Unlock()
	lw, lwCommit := s.lw.Clone(), s.lwCommit
	last := b.nodes[len(b.nodes)-1].idx
	for _, n := range s.order {
		if n.idx > last {
			break
		}
		if n.t.gtid != "" {
			_ = lw.Add(n.t.gtid) // GTIDs were validated when read
		}
		if !n.t.commit.IsZero() {
			lwCommit = n.t.commit
		}
	}
	b.cpLW = &lw
	c := ckpt{lw: lw.String(), lwCommit: lwCommit}
	for _, g := range s.recovered {
		if !lw.Contains(g) {
			c.applied = append(c.applied, g) // applied before a restart, above this watermark
		}
	}
	return c
}

package project

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/omsdev/oms/api"
)

// steadyEvery is how often the orchestrator advances a steady project that nothing happened to:
// every step done or MONITORING, its project row, step states and task placements as at its
// last advance. Its step metrics (lag, positions) refresh at this pace instead of every tick; a
// change of any of those (a task moved, failed or released, a step changed, the operator acted)
// advances it at the next tick. N idle projects cost the MetaDB a few statements a tick instead
// of N advances of about twenty.
const steadyEvery = 5 * time.Second

// steadiness remembers each project's last advance (the leader's memory: a new leader advances
// every project at its first tick).
type steadiness struct {
	mu   sync.Mutex
	last map[string]advanceMark
}

type advanceMark struct {
	at     time.Time
	digest string
}

// skip reports whether project p, whose steps and tasks digest is digest, need not be advanced at
// now.
func (q *steadiness) skip(p api.Project, steady bool, digest string, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.last[p.ID]
	return ok && steady && m.digest == digest && now.Sub(m.at) < steadyEvery
}

// advanced records an advance of project id made at now from the state digest.
func (q *steadiness) advanced(id, digest string, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last = map[string]advanceMark{}
	}
	q.last[id] = advanceMark{at: now, digest: digest}
}

// forget drops the marks of projects not in keep.
func (q *steadiness) forget(keep map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id := range q.last {
		if !keep[id] {
			delete(q.last, id)
		}
	}
}

// stepDigests returns, per project, its step states in one statement, and whether every step is
// done or MONITORING (steady).
func (s *Service) stepDigests(ctx context.Context) (digest map[string]string, steady map[string]bool, err error) {
	rows, err := s.db.QueryContext(ctx, "SELECT project_id, step, status FROM "+s.rm+".project_steps ORDER BY project_id, step")
	if err != nil {
		return nil, nil, fmt.Errorf("read step states: %w", err)
	}
	defer rows.Close()
	digest, steady = map[string]string{}, map[string]bool{}
	for rows.Next() {
		var pid, step, status string
		if err := rows.Scan(&pid, &step, &status); err != nil {
			return nil, nil, fmt.Errorf("read step states: %w", err)
		}
		if _, seen := steady[pid]; !seen {
			steady[pid] = true
		}
		switch status {
		case api.StepFinished, api.StepSkipped, api.StepMonitoring:
		default:
			steady[pid] = false
		}
		digest[pid] += step + "=" + status + ";"
	}
	return digest, steady, rows.Err()
}

package alert

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"time"

	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// observation is one rule's reading of one subject at one evaluation.
type observation struct {
	rule, projectID, subject string
	value                    float64
	message                  string
}

// progress remembers, per project, when the Store and Incr-Sync counters last moved (the
// no-progress rule). It lives in the leader's memory: a new leader starts watching afresh.
type progress struct {
	storeRows, incrRows   float64
	storeMoved, incrMoved time.Time
	seenStore, seenIncr   bool
}

// observe reads the MetaDB and returns one observation per rule and subject; now is the MetaDB's
// clock.
func (e *Evaluator) observe(ctx context.Context, now time.Time) ([]observation, error) {
	var out []observation
	tasks, err := task.NewTable(e.db, e.cmName).List(ctx, "")
	if err != nil {
		return nil, err
	}
	live, err := e.liveTasks(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		if t.Desired != task.DesiredRunning {
			continue
		}
		st := t.Status
		switch {
		case t.State == task.Failed:
			msg := t.Kind + " " + t.ID + " failed"
			if st != nil && st.Error != nil {
				msg += ": " + st.Error.Code + " " + st.Error.Message
			}
			out = append(out, observation{RuleComponentFailed, t.ProjectID, t.ID, 1, msg})
		default:
			out = append(out, observation{RuleComponentFailed, t.ProjectID, t.ID, 0, ""})
		}
		out = append(out, observation{RuleRestarting, t.ProjectID, t.ID, float64(t.Restarts),
			fmt.Sprintf("%s %s restarted %d times in a row on %s", t.Kind, t.ID, t.Restarts, t.Host)})
		if st == nil {
			continue
		}
		switch t.Kind {
		case "incr-sync":
			if t.State != task.Running {
				break
			}
			// A component that stopped reporting (hung, its node dead) ages from when it was last
			// known alive: its node's heartbeat says so every beat, the row only changes with news.
			lag := st.LagSeconds + max(0, now.Sub(t.LastSeen(live)).Seconds())
			out = append(out, observation{RuleLag, t.ProjectID, t.ID, lag, fmt.Sprintf("Incr-Sync %s of project %s is %.0f s behind the source", t.ID, t.ProjectID, lag)})
			e.moved(t.ProjectID, now, false, st.Metrics["applied_rows_total"])
		case "store":
			if h, ok := st.Metrics["retention_headroom_seconds"]; ok {
				out = append(out, observation{RuleRetentionHeadroom, t.ProjectID, t.ID, h,
					fmt.Sprintf("Store %s of project %s: %.1f h before unread changes are purged", t.ID, t.ProjectID, h/3600)})
			}
			e.moved(t.ProjectID, now, true, st.Metrics["rows_total"])
		case "full-verify":
			d := st.Metrics["rows_only_in_source"] + st.Metrics["rows_only_in_target"] + st.Metrics["rows_different"]
			out = append(out, observation{RuleVerifyDiffs, t.ProjectID, t.ID, d, fmt.Sprintf("verification of project %s found %.0f differing rows", t.ProjectID, d)})
		}
		seen[t.ProjectID] = true
	}
	for pid, p := range e.progress {
		if !seen[pid] {
			delete(e.progress, pid)
			continue
		}
		v := 0.0
		// the source is written (the Store moved recently) and Incr-Sync has not moved since
		if p.seenStore && p.seenIncr && now.Sub(p.storeMoved) < 2*e.interval+time.Second && p.incrMoved.Before(p.storeMoved) {
			v = now.Sub(p.incrMoved).Seconds()
		}
		out = append(out, observation{RuleNoProgress, pid, pid, v, fmt.Sprintf("project %s: the source is written, Incr-Sync has applied nothing for %.0f s", pid, v)})
	}
	hosts, err := e.hostObservations(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, hosts...)
	rows, err := e.db.QueryContext(ctx, "SELECT sink, COALESCE(TIMESTAMPDIFF(MICROSECOND, failing_since, NOW(6)), 0), COALESCE(last_error, '') FROM "+sqlgen.QuoteIdent(e.rmName)+".audit_sinks")
	if err != nil {
		return nil, fmt.Errorf("read audit sinks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sink, lastErr string
		var us int64
		if err := rows.Scan(&sink, &us, &lastErr); err != nil {
			return nil, fmt.Errorf("read audit sinks: %w", err)
		}
		s := float64(us) / 1e6
		out = append(out, observation{RuleAuditSink, "", sink, s, fmt.Sprintf("audit sink %s has failed for %.0f s: %s", sink, s, lastErr)})
	}
	return out, rows.Err()
}

// liveTasks reads every region's heartbeats: which components answered their supervisor lately
// (task.LiveIn).
func (e *Evaluator) liveTasks(ctx context.Context) (map[string]task.Seen, error) {
	rows, err := e.db.QueryContext(ctx, "SELECT DISTINCT heartbeat_db FROM "+sqlgen.QuoteIdent(e.cmName)+".regions")
	if err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	var dbs []string
	for rows.Next() {
		var hb string
		if err := rows.Scan(&hb); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read regions: %w", err)
		}
		dbs = append(dbs, hb)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	out := map[string]task.Seen{}
	for _, hb := range dbs {
		live, err := task.LiveIn(ctx, e.db, hb)
		if err != nil {
			// Nothing known of that region's components: their lag ages from their rows.
			e.log.Warn("cannot read a region's heartbeats for the lag alert", "heartbeat_db", hb, "err", err)
			continue
		}
		maps.Copy(out, live)
	}
	return out, nil
}

// moved records a project's Store (store true) or Incr-Sync counter.
func (e *Evaluator) moved(pid string, now time.Time, store bool, v float64) {
	p := e.progress[pid]
	if p == nil {
		p = &progress{storeMoved: now, incrMoved: now}
		e.progress[pid] = p
	}
	if store {
		if !p.seenStore || v != p.storeRows {
			p.storeRows, p.storeMoved = v, now
		}
		p.seenStore = true
		return
	}
	if !p.seenIncr || v != p.incrRows {
		p.incrRows, p.incrMoved = v, now
	}
	p.seenIncr = true
}

// hostObservations reads hosts (down), and every region's heartbeats (disk, clock skew).
func (e *Evaluator) hostObservations(ctx context.Context) ([]observation, error) {
	cm := sqlgen.QuoteIdent(e.cmName)
	rows, err := e.db.QueryContext(ctx, "SELECT h.ip, h.state, r.heartbeat_db FROM "+cm+".hosts h JOIN "+cm+".regions r ON r.region = h.region")
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	type host struct{ ip, state, hb string }
	var hosts []host
	for rows.Next() {
		var h host
		if err := rows.Scan(&h.ip, &h.state, &h.hb); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read hosts: %w", err)
		}
		hosts = append(hosts, h)
	}
	rows.Close()
	var out []observation
	for _, h := range hosts {
		down := 0.0
		if h.state == "DOWN" {
			down = 1
		}
		out = append(out, observation{RuleHostDown, "", h.ip, down, "host " + h.ip + " is down: no heartbeat"})
		var used, total int64
		var skewUS sql.NullInt64
		err := e.db.QueryRowContext(ctx, "SELECT disk_used_bytes, disk_total_bytes, "+
			"TIMESTAMPDIFF(MICROSECOND, beat_at + INTERVAL TIMESTAMPDIFF(MICROSECOND, NOW(6), UTC_TIMESTAMP(6)) MICROSECOND, node_time) FROM "+
			sqlgen.QuoteIdent(h.hb)+".heartbeats WHERE host_ip = ?", h.ip).Scan(&used, &total, &skewUS)
		if err != nil {
			continue // no heartbeat yet: host_down covers it
		}
		if total > 0 {
			r := float64(used) / float64(total)
			out = append(out, observation{RuleDiskLow, "", h.ip, r, fmt.Sprintf("disk of %s is %.0f%% full", h.ip, 100*r)})
		}
		if skewUS.Valid && h.state != "DOWN" {
			s := float64(skewUS.Int64) / 1e6
			out = append(out, observation{RuleClockSkew, "", h.ip, abs(s), fmt.Sprintf("the clock of %s is %.1f s off the MetaDB's", h.ip, s)})
		}
	}
	return out, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

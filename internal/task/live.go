package task

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Seen is the latest sign of life of a task's component, as its node's heartbeat tells it: when
// the component last answered its supervisor's status poll. A supervisor writes a task's row only
// when what it reports changed (an idle component's row keeps its old updated_at); whether the
// component is alive now is in its node's heartbeat, one statement per node and interval.
type Seen struct {
	Host  string
	Epoch int64
	At    time.Time // on the MetaDB's clock
}

// heartbeatComponent is the part of a heartbeat's components entry (supervisor.ComponentInfo)
// that liveness needs.
type heartbeatComponent struct {
	TaskID string    `json:"task_id"`
	Epoch  int64     `json:"epoch"`
	Up     bool      `json:"up"`
	SeenAt time.Time `json:"seen_at"` // the node's clock
}

// LiveIn reads the heartbeats of the heartbeat database hbDB (unquoted) and returns, per task id,
// when its component last answered, translated to the MetaDB's clock with the beat's own pair of
// clocks (beat_at on the MetaDB's, node_time on the node's). A reader compares Host and Epoch
// with the task's own: a fenced old owner may still list a task it is stopping.
func LiveIn(ctx context.Context, db *sql.DB, hbDB string) (map[string]Seen, error) {
	rows, err := db.QueryContext(ctx, "SELECT host_ip, beat_at, node_time, COALESCE(components, '[]') FROM "+sqlgen.QuoteIdent(hbDB)+".heartbeats")
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	out := map[string]Seen{}
	for rows.Next() {
		var host string
		var beat time.Time
		var nodeTime sql.NullTime
		var raw []byte
		if err := rows.Scan(&host, &beat, &nodeTime, &raw); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		var comps []heartbeatComponent
		if json.Unmarshal(raw, &comps) != nil {
			continue // nothing known of this node's components
		}
		for _, c := range comps {
			var at time.Time
			switch {
			case !c.SeenAt.IsZero() && nodeTime.Valid:
				at = beat.Add(-max(0, nodeTime.Time.Sub(c.SeenAt)))
			case c.Up:
				at = beat
			default:
				continue
			}
			if at.After(out[c.TaskID].At) {
				out[c.TaskID] = Seen{Host: host, Epoch: c.Epoch, At: at}
			}
		}
	}
	return out, rows.Err()
}

// LastSeen is when t's component was last known alive: its row's last write, or a later answer
// its own host's heartbeat reports at its epoch.
func (t Task) LastSeen(live map[string]Seen) time.Time {
	if s, ok := live[t.ID]; ok && s.Host == t.Host && s.Epoch == t.Epoch && s.At.After(t.UpdatedAt) {
		return s.At
	}
	return t.UpdatedAt
}

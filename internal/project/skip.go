package project

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/task"
)

// SkipEvents adds source transactions the project's Incr-Sync must never apply: the GTIDs or
// ranges given, or (event) exactly the transaction its Incr-Sync stopped at. The list lives in
// the project's spec (durable) and reaches the Incr-Sync task's spec at once; the project goes
// on when it is resumed or retried.
func (s *Service) SkipEvents(ctx context.Context, r api.SkipProjectEventsRequest) (api.SkipProjectEventsResponse, error) {
	var out api.SkipProjectEventsResponse
	if strings.TrimSpace(r.ID) == "" {
		return out, invalid("id is required", `send {"id": "<project id>", "gtids": ["0-1-123"]} or {"id": ..., "event": true}`)
	}
	if len(r.GTIDs) == 0 && !r.Event {
		return out, invalid("nothing to skip", "name GTIDs (gtids: [\"0-1-123\", \"0-1-120-130\"]) or set event: true to skip the transaction Incr-Sync stopped at")
	}
	for _, g := range r.GTIDs {
		if _, _, _, err := binlog.ParseGTIDRange(strings.TrimSpace(g)); err != nil {
			return out, invalid(err.Error(), "name a GTID the project's error message shows, or a range of one domain and server")
		}
		out.Added = append(out.Added, strings.TrimSpace(g))
	}
	if _, err := s.Describe(ctx, r.ID); err != nil {
		return out, err
	}
	incr, haveIncr, err := s.tasks.Get(ctx, TaskID(r.ID, task.KindIncrSync))
	if err != nil {
		return out, err
	}
	if r.Event {
		if !haveIncr || incr.Status == nil || incr.Status.StoppedAt == "" {
			return out, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s's Incr-Sync is not stopped at a source transaction", r.ID),
				"skip by GTID (the error message names it), or wait until Incr-Sync stops")
		}
		out.Added = append(out.Added, incr.Status.StoppedAt)
	}
	spec, err := s.loadSpec(ctx, r.ID)
	if err != nil {
		return out, err
	}
	for _, g := range out.Added {
		if !slices.Contains(spec.SkipGTIDs, g) {
			spec.SkipGTIDs = append(spec.SkipGTIDs, g)
		}
	}
	raw, _ := json.Marshal(spec)
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET spec = ? WHERE id = ?", raw, r.ID); err != nil {
		return out, fmt.Errorf("save skips of project %s: %w", r.ID, err)
	}
	if haveIncr {
		// only skip_gtids changes: the rest of the spec is kept as it is
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal(incr.Spec.Config, &cfg); err != nil {
			return out, fmt.Errorf("read incr-sync spec of %s: %w", r.ID, err)
		}
		cfg["skip_gtids"], _ = json.Marshal(spec.SkipGTIDs)
		rawCfg, _ := json.Marshal(cfg)
		if err := s.tasks.SetSpec(ctx, incr.ID, task.Spec{Config: rawCfg}); err != nil {
			return out, err
		}
	}
	out.SkipGTIDs = spec.SkipGTIDs
	return out, nil
}

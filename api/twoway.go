package api

import (
	"context"
	"time"
)

// Actions of two-way (active-active) projects.
const (
	ActionListProjectConflicts = "ListProjectConflicts"
)

// TwoWaySettings make a project one of an active-active pair: creating it also creates the
// reverse project (sink -> source, incremental only, started with it), each direction's Store
// next to its source and Incr-Sync next to its target. Changes applied by oms never come back
// (echo marker), conflicts are decided per table, and DDL is taken from one region only.
type TwoWaySettings struct {
	// DDLRegion is the region whose DDL both directions replicate (default: the source's region);
	// a DDL from the other region is handled by OtherRegionDDL.
	DDLRegion string `json:"ddlRegion,omitempty" yaml:"ddlRegion,omitempty" maxlen:"conflicts.source_region"`
	// OtherRegionDDL says per class of DDL (as ddlPolicy: table, index, ...) what the direction
	// from the other region does with a DDL that ddlPolicy would apply: apply, skip or stop
	// (TWOWAY_DDL_WRONG_REGION). Classes not named stop.
	OtherRegionDDL map[string]string `json:"otherRegionDdl,omitempty" yaml:"otherRegionDdl,omitempty" maxlen:"value"`
	// Priority lists the two regions, highest first: it decides the policy "priority" and breaks
	// ties of "lww".
	Priority []string `json:"priority,omitempty" yaml:"priority,omitempty" maxlen:"conflicts.source_region"`
	// DefaultConflictPolicy applies to tables without a rule in ConflictPolicies (default stop).
	DefaultConflictPolicy ConflictRule `json:"defaultConflictPolicy,omitempty" yaml:"defaultConflictPolicy,omitempty"`
	// ConflictPolicies are per-table rules: "db.table" or "db.*" as the source names them.
	ConflictPolicies map[string]ConflictRule `json:"conflictPolicies,omitempty" yaml:"conflictPolicies,omitempty"`
}

// ConflictRule is one conflict policy: stop, ignore (keep the target's row), overwrite (take
// the source's change), priority (the region listed first wins), lww (the greater Column wins,
// ties by priority).
type ConflictRule struct {
	Policy string `json:"policy,omitempty" yaml:"policy,omitempty" maxlen:"conflicts.policy"`
	Column string `json:"column,omitempty" yaml:"column,omitempty" maxlen:"identifier"`
	// MaxSkewMs (lww only) bounds the clock skew between the regions that lww trusts: above it
	// (measured every 30 s, plus its uncertainty) a conflict lww would decide by the timestamps
	// stops the direction with TWOWAY_CLOCK_SKEW. 0: no bound.
	MaxSkewMs int `json:"maxSkewMs,omitempty" yaml:"maxSkewMs,omitempty"`
}

// TwoWayInfo is what Describe shows of a project of a two-way pair.
type TwoWayInfo struct {
	Settings TwoWaySettings `json:"settings"`
	// Direction is "forward" (the project created by the user) or "reverse".
	Direction string `json:"direction"`
	// PeerID is the other direction's project.
	PeerID string `json:"peerId"`
	// SourceRegion and TargetRegion of this direction.
	SourceRegion string `json:"sourceRegion"`
	TargetRegion string `json:"targetRegion"`
	// ClockSkewSeconds is the target's clock minus the source's, measured at the last
	// reconcile with the uncertainty of the measurement (it matters for lww on timestamps).
	ClockSkewSeconds     *float64   `json:"clockSkewSeconds,omitempty"`
	ClockSkewUncertainty float64    `json:"clockSkewUncertaintySeconds,omitempty"`
	ClockSkewMeasuredAt  *time.Time `json:"clockSkewMeasuredAt,omitempty"`
	// Conflicts is the number of conflicts recorded for this direction.
	Conflicts int64 `json:"conflicts"`
}

// ListProjectConflictsRequest pages through a project's recorded conflicts, newest first.
type ListProjectConflictsRequest struct {
	ID    string `json:"id" maxlen:"projects.id"`
	Limit int    `json:"limit,omitempty"` // default 100, at most 10000
	// Before continues a page: only conflicts detected before it.
	Before *time.Time `json:"before,omitempty"`
}

// Conflict is one conflict of a two-way project, recorded once with what was decided.
type Conflict struct {
	ProjectID string `json:"projectId"`
	TaskID    string `json:"taskId"`
	// GTID of the source transaction and the row's place in it.
	GTID  string `json:"gtid"`
	RowNo int    `json:"rowNo"`
	Table string `json:"table"`
	// Kind: insert_exists, update_missing, update_differs, delete_missing, delete_differs,
	// unique_collision.
	Kind string `json:"kind"`
	Key  string `json:"key"`
	// SourceImage and TargetImage are the two rows as JSON objects (column -> value); empty when
	// there is none (a delete's source image is its before image).
	SourceImage   string    `json:"sourceImage,omitempty"`
	TargetImage   string    `json:"targetImage,omitempty"`
	SourceRegion  string    `json:"sourceRegion"`
	TargetRegion  string    `json:"targetRegion"`
	SourceCommit  time.Time `json:"sourceCommitTime"`
	TargetVersion string    `json:"targetVersion,omitempty"` // the lww column of the target's row
	Policy        string    `json:"policy"`
	Decision      string    `json:"decision"` // keep_target, take_source, stop
	DetectedAt    time.Time `json:"detectedAt"`
}

// ListProjectConflicts returns a page of a project's conflicts (both directions of its pair).
func (c *Client) ListProjectConflicts(ctx context.Context, r ListProjectConflictsRequest) ([]Conflict, error) {
	var out []Conflict
	_, err := c.Call(ctx, ActionListProjectConflicts, r, &out)
	return out, err
}

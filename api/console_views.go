package api

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// Actions the web console uses for switchover and two-way projects, beyond SwitchoverProject,
// RollbackProject and ListProjectConflicts: a dry run that answers its plan even when the
// precheck refuses, and the conflicts filtered, paged and exported as CSV.
const (
	ActionPreviewProjectSwitch     = "PreviewProjectSwitch"
	ActionSearchProjectConflicts   = "SearchProjectConflicts"
	ActionDownloadProjectConflicts = "DownloadProjectConflicts"
)

// PreviewProjectSwitchRequest asks for the dry run of a switchover or rollback: the request
// (its dryRun is implied) and which of the two.
type PreviewProjectSwitchRequest struct {
	SwitchoverRequest
	// Operation is SWITCHOVER or ROLLBACK.
	Operation string `json:"operation" maxlen:"identifier"`
}

// SwitchPreview is the dry run's plan and, when the precheck refused, the refusal the real
// request would answer (Refused with its code, message and advice).
type SwitchPreview struct {
	Plan    SwitchPlan `json:"plan"`
	Refused bool       `json:"refused"`
	Code    string     `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
	Advice  string     `json:"advice,omitempty"`
}

// SearchProjectConflictsRequest pages through the newest MaxConflictSearch conflicts of a
// two-way pair, filtered by table and kind (empty: any).
type SearchProjectConflictsRequest struct {
	ID         string `json:"id" maxlen:"projects.id"`
	Table      string `json:"table,omitempty" maxlen:"conflicts.table_name"`
	Kind       string `json:"kind,omitempty" maxlen:"conflicts.kind"`
	PageNumber int    `json:"pageNumber,omitempty"`
	PageSize   int    `json:"pageSize,omitempty"` // default 50, at most 500
}

// MaxConflictSearch is how many conflicts (newest first) the console searches and exports.
const MaxConflictSearch = 10000

// ConflictPage is one page of a conflict search; the envelope carries the paging fields. Tables
// and Kinds are the values present (unfiltered), for the console's filters.
type ConflictPage struct {
	Conflicts []Conflict `json:"conflicts"`
	Tables    []string   `json:"tables"`
	Kinds     []string   `json:"kinds"`
}

// DownloadProjectConflictsRequest exports the conflicts a search finds as CSV (WriteConflictsCSV);
// Attachment answers the file itself instead of the envelope.
type DownloadProjectConflictsRequest struct {
	ID         string `json:"id" maxlen:"projects.id"`
	Table      string `json:"table,omitempty" maxlen:"conflicts.table_name"`
	Kind       string `json:"kind,omitempty" maxlen:"conflicts.kind"`
	Attachment bool   `json:"attachment,omitempty"`
}

// ConflictsCSV is DownloadProjectConflicts's answer without Attachment.
type ConflictsCSV struct {
	FileName string `json:"fileName"`
	CSV      string `json:"csv"`
	Count    int    `json:"count"`
}

// WriteConflictsCSV writes conflicts as CSV (a header line, RFC 3339 times): the format of
// `oms project conflicts --csv` and of the console's export.
func WriteConflictsCSV(out io.Writer, list []Conflict) error {
	w := csv.NewWriter(out)
	_ = w.Write([]string{"detected_at", "project", "task", "source_region", "target_region", "table", "key", "kind", "policy", "decision",
		"gtid", "row", "source_commit_time", "target_version", "source_image", "target_image"})
	for _, x := range list {
		_ = w.Write([]string{x.DetectedAt.UTC().Format(time.RFC3339Nano), x.ProjectID, x.TaskID, x.SourceRegion, x.TargetRegion, x.Table, x.Key, x.Kind,
			x.Policy, x.Decision, x.GTID, strconv.Itoa(x.RowNo), x.SourceCommit.UTC().Format(time.RFC3339), x.TargetVersion, x.SourceImage, x.TargetImage})
	}
	w.Flush()
	return w.Error()
}

// PreviewProjectSwitch runs a switchover's or rollback's dry run.
func (c *Client) PreviewProjectSwitch(ctx context.Context, r PreviewProjectSwitchRequest) (SwitchPreview, error) {
	var out SwitchPreview
	_, err := c.Call(ctx, ActionPreviewProjectSwitch, r, &out)
	return out, err
}

// SearchProjectConflicts returns a page of a two-way pair's conflicts; the envelope carries the
// paging fields.
func (c *Client) SearchProjectConflicts(ctx context.Context, r SearchProjectConflictsRequest) (ConflictPage, *Envelope, error) {
	var out ConflictPage
	env, err := c.Call(ctx, ActionSearchProjectConflicts, r, &out)
	return out, env, err
}

// DownloadProjectConflicts exports a conflict search as CSV.
func (c *Client) DownloadProjectConflicts(ctx context.Context, r DownloadProjectConflictsRequest) (ConflictsCSV, error) {
	var out ConflictsCSV
	_, err := c.Call(ctx, ActionDownloadProjectConflicts, r, &out)
	return out, err
}

package api

import (
	"context"
	"time"
)

// Actions on the results of a project's full verification.
const (
	ActionDescribeVerificationResult = "DescribeVerificationResult"
	ActionDownloadVerificationFixSQL = "DownloadVerificationFixSQL"
)

// VerificationResult is the last finished full verification of a project: its per-table counts
// as the verify component reported them (uploaded to the MetaDB by the supervisor of the host
// that ran it, so any node answers).
type VerificationResult struct {
	ProjectID  string    `json:"projectId"`
	TaskID     string    `json:"taskId"`
	FinishedAt time.Time `json:"finishedAt"`
	Equal      bool      `json:"equal"`
	// RowsCompared, OnlyInSource (missing on the target), OnlyInTarget (extra) and Different
	// (changed) are the sums over Tables.
	RowsCompared int64 `json:"rowsCompared"`
	OnlyInSource int64 `json:"onlyInSource"`
	OnlyInTarget int64 `json:"onlyInTarget"`
	Different    int64 `json:"different"`
	// SchemaDifferent is the number of tables whose definitions differ.
	SchemaDifferent int                 `json:"schemaDifferent"`
	Tables          []VerificationTable `json:"tables"`
	// FixSQLBytes is the size of the stored fix SQL (0: nothing to fix); FixSQLTruncated says it
	// was cut at the storage bound (the full files stay in the component's output dir).
	FixSQLBytes     int64 `json:"fixSqlBytes"`
	FixSQLTruncated bool  `json:"fixSqlTruncated"`
}

// VerificationTable is one table's outcome.
type VerificationTable struct {
	Table             string   `json:"table"`
	Target            string   `json:"target"`
	Method            string   `json:"method"`
	RowsCompared      int64    `json:"rowsCompared"`
	OnlyInSource      int64    `json:"onlyInSource"`
	OnlyInTarget      int64    `json:"onlyInTarget"`
	Different         int64    `json:"different"`
	SchemaDifferences []string `json:"schemaDifferences,omitempty"`
	Note              string   `json:"note,omitempty"`
}

// DownloadVerificationFixSQLRequest names the project; Attachment asks for the SQL itself as the
// response body (text/plain with Content-Disposition: attachment) instead of the JSON envelope.
type DownloadVerificationFixSQLRequest struct {
	ID         string `json:"id" maxlen:"projects.id"`
	Attachment bool   `json:"attachment,omitempty"`
}

// VerificationFixSQL is the fix SQL of the last finished verification.
type VerificationFixSQL struct {
	FileName  string `json:"fileName"`
	SQL       string `json:"sql"`
	Truncated bool   `json:"truncated"`
}

// DescribeVerificationResult returns the per-table counts of a project's last verification.
func (c *Client) DescribeVerificationResult(ctx context.Context, id string) (VerificationResult, error) {
	var out VerificationResult
	_, err := c.Call(ctx, ActionDescribeVerificationResult, ProjectIDRequest{ID: id}, &out)
	return out, err
}

// DownloadVerificationFixSQL returns the fix SQL of a project's last verification.
func (c *Client) DownloadVerificationFixSQL(ctx context.Context, id string) (VerificationFixSQL, error) {
	var out VerificationFixSQL
	_, err := c.Call(ctx, ActionDownloadVerificationFixSQL, DownloadVerificationFixSQLRequest{ID: id}, &out)
	return out, err
}

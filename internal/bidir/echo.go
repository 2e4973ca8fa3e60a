// Package bidir holds what both directions of an active-active (two-way) sync share: the echo
// marker that an Incr-Sync leaves in every target transaction it commits and that the opposite
// direction's Store recognises (so a change applied by oms never comes back), the precheck that
// refuses a pair of databases that would loop, and the clock skew between the two regions.
//
// The marker needs no new write: Incr-Sync already updates its own row of
// <schema>.incr_checkpoint (task_id, worker) in the same target transaction as the rows it
// applies (exactly-once checkpoints). That row update reaches the target's binlog inside the very
// same transaction, so a transaction is an echo exactly when it contains a row of
// <schema>.incr_checkpoint whose task_id is the opposite direction's Incr-Sync task. It survives
// any crash: a transaction is either committed with its marker or not at all. A DDL cannot share
// a transaction with a row, so Incr-Sync of a two-way pair appends a comment naming its task to
// every DDL it runs (DDLMarker); the server writes the statement text to the binlog as it ran.
//
// It is a data-plane package: no MetaDB, no control plane.
package bidir

import (
	"strings"

	"github.com/omsdev/oms/internal/changelog"
)

// MarkerTable is the table of the checkpoint schema whose row update marks a transaction as
// applied by oms (Incr-Sync's checkpoint table).
const MarkerTable = "incr_checkpoint"

// DefaultSchema is oms's schema on a database (checkpoint tables, heartbeat).
const DefaultSchema = "__oms"

// ddlMarkerPrefix opens the comment a two-way Incr-Sync appends to each DDL it runs.
const ddlMarkerPrefix = "/* oms-echo task="

// DDLMarker returns stmt with the comment that marks it as run by Incr-Sync task. The comment
// starts on a new line so a trailing "-- comment" of the statement cannot swallow it.
func DDLMarker(stmt, task string) string {
	return stmt + "\n" + ddlMarkerPrefix + task + " */"
}

// ddlMarkerTask returns the task a DDL statement's marker names ("" when unmarked).
func ddlMarkerTask(stmt string) string {
	i := strings.LastIndex(stmt, ddlMarkerPrefix)
	if i < 0 {
		return ""
	}
	rest := stmt[i+len(ddlMarkerPrefix):]
	j := strings.Index(rest, " */")
	if j < 0 || strings.TrimSpace(rest[j+3:]) != "" {
		return "" // the marker is always the statement's end
	}
	return rest[:j]
}

// EchoFilter recognises the transactions that given Incr-Sync tasks applied to a database (the
// opposite direction of a two-way pair). The zero value matches nothing.
type EchoFilter struct {
	schema string
	tasks  map[string]bool
}

// NewEchoFilter matches transactions marked by any of tasks in schema ("" = DefaultSchema).
func NewEchoFilter(schema string, tasks []string) EchoFilter {
	if schema == "" {
		schema = DefaultSchema
	}
	f := EchoFilter{schema: schema, tasks: map[string]bool{}}
	for _, t := range tasks {
		if t != "" {
			f.tasks[t] = true
		}
	}
	return f
}

// Active reports whether the filter names any task.
func (f EchoFilter) Active() bool { return len(f.tasks) > 0 }

// Echo reports whether t was applied by one of the filter's tasks: one of its rows is a
// marker-table row of such a task, or its DDL carries such a task's marker.
func (f EchoFilter) Echo(t *changelog.Txn) bool {
	if !f.Active() {
		return false
	}
	if t.DDL != nil && f.tasks[ddlMarkerTask(t.DDL.Statement)] {
		return true
	}
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Table == nil || r.Table.Name != MarkerTable || r.Table.DB != f.schema {
			continue
		}
		img := r.After
		if img == nil {
			img = r.Before
		}
		if f.tasks[taskOf(r.Table, img)] {
			return true
		}
	}
	return false
}

// taskOf is the task_id column of a marker-table row image.
func taskOf(tbl *changelog.Table, img []any) string {
	for i, c := range tbl.Columns {
		if c.Name != "task_id" || i >= len(img) {
			continue
		}
		switch v := img[i].(type) {
		case []byte:
			return string(v)
		case string:
			return v
		}
	}
	return ""
}

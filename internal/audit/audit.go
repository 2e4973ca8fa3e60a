// Package audit owns the audit log: every mutating action from the console/OpenAPI, the CLI,
// `oms deploy` and `oms config set` is one row of rm.audit_log (Write), and the Exporter delivers
// the rows to the configured sink (audit_sink: file or http) at least once, in id order, with a
// durable cursor per sink in rm.audit_sinks.
//
// It talks to the MetaDB (rm database) and to the sink. A row that cannot be written is retried
// and then returned as an error and counted (oms_audit_write_failures_total); a sink that fails
// keeps its cursor, is counted (oms_audit_sink_failures_total) and recorded in its audit_sinks row
// for the alert, and catches up when it is back: nothing is skipped.
package audit

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Origins of a record: which entry point the action came through.
const (
	OriginAPI    = "api"    // OpenAPI / web console
	OriginCLI    = "cli"    // the oms CLI over the OpenAPI
	OriginDeploy = "deploy" // oms deploy (and add-node)
	OriginConfig = "config" // oms config set / apply
)

// Column widths of rm.audit_log (VARCHAR lengths count characters).
const (
	maxUser     = 64
	maxSource   = 128
	maxAction   = 128
	maxResource = 255
	maxDetail   = 4000
	maxReqID    = 64
	maxOrigin   = 16
)

// Record is one audited action.
type Record struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Origin    string    `json:"origin"`
	User      string    `json:"user"`
	Source    string    `json:"source"` // remote address, or the host the CLI ran on
	Action    string    `json:"action"`
	Resource  string    `json:"resource,omitempty"`
	Success   bool      `json:"success"`
	Detail    string    `json:"detail,omitempty"` // the error code of a failed action
	RequestID string    `json:"request_id,omitempty"`
}

// WriteFailures counts audit rows that could not be written after the retries (the action
// itself already happened). The node registers it.
var WriteFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.AuditWriteFailures,
	Help: "audit rows that could not be written to the MetaDB after retries"})

// writeAttempts and the backoff between them: a MetaDB failover takes seconds.
const writeAttempts = 4

// Write inserts r into rmDB.audit_log (its text cut to the columns by character, so a long or
// multi-byte value never loses the row), retrying a failed insert; the error after the last
// attempt is counted and returned for the caller to surface.
func Write(ctx context.Context, db *sql.DB, rmDB string, r Record, log *slog.Logger) error {
	if r.Origin == "" {
		r.Origin = OriginAPI
	}
	q := "INSERT INTO " + sqlgen.QuoteIdent(rmDB) + ".audit_log (origin, username, remote_addr, action, resource, success, detail, request_id) VALUES (?,?,?,?,?,?,?,?)"
	args := []any{Truncate(r.Origin, maxOrigin), Truncate(r.User, maxUser), Truncate(r.Source, maxSource), Truncate(r.Action, maxAction),
		Truncate(r.Resource, maxResource), r.Success, Truncate(r.Detail, maxDetail), Truncate(r.RequestID, maxReqID)}
	backoff := 200 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		if _, err = db.ExecContext(ctx, q, args...); err == nil {
			return nil
		}
		if attempt == writeAttempts || ctx.Err() != nil {
			break
		}
		if log != nil {
			log.Warn("audit row not written; retrying", "action", r.Action, "attempt", attempt, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
	}
	WriteFailures.Inc()
	return fmt.Errorf("write audit record of %s by %s: %w", r.Action, r.User, err)
}

// Truncate cuts s to at most n characters (runes) and replaces invalid UTF-8: the MetaDB's
// VARCHAR(n) counts characters, and a cut inside a UTF-8 sequence (or any invalid byte) would make
// strict mode refuse the whole row.
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

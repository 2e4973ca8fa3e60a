package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Filter selects audit records; zero fields do not filter.
type Filter struct {
	User, Action string
	Since, Until time.Time // at >= Since, at < Until
	AfterID      int64
	// SettledFor leaves out rows younger than this (see settle in the exporter).
	SettledFor  time.Duration
	Limit       int  // default 1000
	NewestFirst bool // default oldest first (id order)
}

// Query returns the matching records of rmDB's audit_log.
func Query(ctx context.Context, db *sql.DB, rmDB string, f Filter) ([]Record, error) {
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if f.User != "" {
		where, args = append(where, "username = ?"), append(args, f.User)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UTC())
	}
	if f.SettledFor > 0 {
		where, args = append(where, "at < NOW(6) - INTERVAL ? MICROSECOND"), append(args, f.SettledFor.Microseconds())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	order := "ASC"
	if f.NewestFirst {
		order = "DESC"
	}
	rows, err := db.QueryContext(ctx, "SELECT id, at, origin, username, remote_addr, action, resource, success, COALESCE(detail, ''), request_id FROM "+
		sqlgen.QuoteIdent(rmDB)+".audit_log WHERE "+strings.Join(where, " AND ")+" ORDER BY id "+order+" LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("query audit log: %w", err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.ID, &r.At, &r.Origin, &r.User, &r.Source, &r.Action, &r.Resource, &r.Success, &r.Detail, &r.RequestID); err != nil {
			return nil, fmt.Errorf("query audit log: %w", err)
		}
		r.At = r.At.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

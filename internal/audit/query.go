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
	Resource     string // contained in the resource
	Success      *bool
	Since, Until time.Time // at >= Since, at < Until
	AfterID      int64
	// SettledFor leaves out rows younger than this (see settle in the exporter).
	SettledFor  time.Duration
	Limit       int  // default 1000
	Offset      int  // rows to skip (the console's pages)
	NewestFirst bool // default oldest first (id order)
}

// where is the filter's condition and its arguments.
func (f Filter) where() (string, []any) {
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if f.User != "" {
		where, args = append(where, "username = ?"), append(args, f.User)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Resource != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Resource)
		where, args = append(where, "resource LIKE ?"), append(args, "%"+esc+"%")
	}
	if f.Success != nil {
		where, args = append(where, "success = ?"), append(args, *f.Success)
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
	return strings.Join(where, " AND "), args
}

// Query returns the matching records of rmDB's audit_log.
func Query(ctx context.Context, db *sql.DB, rmDB string, f Filter) ([]Record, error) {
	cond, args := f.where()
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	order := "ASC"
	if f.NewestFirst {
		order = "DESC"
	}
	rows, err := db.QueryContext(ctx, "SELECT id, at, origin, username, remote_addr, action, resource, success, COALESCE(detail, ''), request_id FROM "+
		sqlgen.QuoteIdent(rmDB)+".audit_log WHERE "+cond+" ORDER BY id "+order+" LIMIT ? OFFSET ?", append(args, limit, max(f.Offset, 0))...)
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

// Count is how many records match f (Limit and Offset aside): the console's pages need it.
func Count(ctx context.Context, db *sql.DB, rmDB string, f Filter) (int, error) {
	cond, args := f.where()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+sqlgen.QuoteIdent(rmDB)+".audit_log WHERE "+cond, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit records: %w", err)
	}
	return n, nil
}

package console

import (
	"context"
	"fmt"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/audit"
)

// maxAuditPage bounds one page of ListAuditEvents (the console's CSV export pages through).
const maxAuditPage = 1000

// listAuditEvents queries the audit log (internal/audit), newest first, a page at a time.
func (s *Server) listAuditEvents(ctx context.Context, c *call) (any, error) {
	var req api.ListAuditEventsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	f := audit.Filter{User: req.UserName, Action: req.Action, Resource: req.Resource, Success: req.Success, NewestFirst: true}
	for _, t := range []struct {
		field, val string
		to         *time.Time
	}{{"from", req.From, &f.Since}, {"to", req.To, &f.Until}} {
		if t.val == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, t.val)
		if err != nil {
			return nil, invalid(fmt.Sprintf("%s %q is not an RFC 3339 time", t.field, t.val), "send a time like 2026-01-02T15:04:05Z")
		}
		*t.to = at
	}
	size := req.PageSize
	if size <= 0 {
		size = 50
	}
	if size > maxAuditPage {
		return nil, invalid(fmt.Sprintf("pageSize %d is larger than %d", size, maxAuditPage), "page through with pageNumber")
	}
	page := max(req.PageNumber, 1)
	f.Limit, f.Offset = size, (page-1)*size
	total, err := audit.Count(ctx, s.db, s.names.RM, f)
	if err != nil {
		return nil, err
	}
	recs, err := audit.Query(ctx, s.db, s.names.RM, f)
	if err != nil {
		return nil, err
	}
	out := make([]api.AuditEvent, 0, len(recs))
	for _, r := range recs {
		out = append(out, api.AuditEvent{ID: r.ID, Time: r.At, Origin: r.Origin, UserName: r.User, RemoteAddr: r.Source, Action: r.Action,
			Resource: r.Resource, Success: r.Success, Detail: r.Detail, RequestID: r.RequestID})
	}
	c.page = &paging{number: page, size: len(out), total: total}
	return out, nil
}

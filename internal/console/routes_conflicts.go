package console

import (
	"bytes"
	"context"
	"slices"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
)

// conflictRoutes filter, page and export the conflicts of a two-way pair for the console. They
// search the newest api.MaxConflictSearch conflicts ListProjectConflicts answers (the same data
// as `oms project conflicts`), so the filters, counts and the CSV agree with the CLI.
func (s *Server) conflictRoutes() map[string]route {
	return map[string]route{
		api.ActionSearchProjectConflicts: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.SearchProjectConflictsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			all, err := s.conflicts(ctx, c, req.ID)
			if err != nil {
				return nil, err
			}
			size := req.PageSize
			if size <= 0 {
				size = 50
			}
			size = min(size, 500)
			number := max(req.PageNumber, 1)
			match := filterConflicts(all, req.Table, req.Kind)
			from := min((number-1)*size, len(match))
			out := api.ConflictPage{Conflicts: match[from:min(from+size, len(match))], Tables: distinct(all, func(x api.Conflict) string { return x.Table }),
				Kinds: distinct(all, func(x api.Conflict) string { return x.Kind })}
			c.page = &paging{number: number, size: len(out.Conflicts), total: len(match)}
			return out, nil
		}},
		api.ActionDownloadProjectConflicts: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.DownloadProjectConflictsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			all, err := s.conflicts(ctx, c, req.ID)
			if err != nil {
				return nil, err
			}
			match := filterConflicts(all, req.Table, req.Kind)
			var b bytes.Buffer
			if err := api.WriteConflictsCSV(&b, match); err != nil {
				return nil, err
			}
			out := api.ConflictsCSV{FileName: "oms-conflicts-" + req.ID + ".csv", CSV: b.String(), Count: len(match)}
			if req.Attachment {
				c.attachment = &attachment{name: out.FileName, contentType: "text/csv; charset=utf-8", body: b.Bytes()}
			}
			return out, nil
		}},
	}
}

// conflicts are the newest api.MaxConflictSearch conflicts of project id's pair.
func (s *Server) conflicts(ctx context.Context, c *call, id string) ([]api.Conflict, error) {
	if id == "" {
		return nil, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
	}
	c.resource = id
	return s.projects.ListConflicts(ctx, api.ListProjectConflictsRequest{ID: id, Limit: api.MaxConflictSearch})
}

// filterConflicts keeps the conflicts of table and of kind (empty: any).
func filterConflicts(all []api.Conflict, table, kind string) []api.Conflict {
	if table == "" && kind == "" {
		return all
	}
	out := []api.Conflict{}
	for _, x := range all {
		if (table == "" || x.Table == table) && (kind == "" || x.Kind == kind) {
			out = append(out, x)
		}
	}
	return out
}

// distinct is the sorted set of field over list.
func distinct(list []api.Conflict, field func(api.Conflict) string) []string {
	out := []string{}
	for _, x := range list {
		if v := field(x); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

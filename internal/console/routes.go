package console

import (
	"context"
	"strings"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
)

// routeTable is every OpenAPI action.
func (s *Server) routeTable() map[string]route {
	p := s.projects
	verb := func(f func(context.Context, string) error) handler {
		return func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return api.Empty{}, f(ctx, id)
		}
	}
	return map[string]route{
		api.ActionCreateMysqlDataSource: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			var req api.CreateMysqlDataSourceRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			c.resource = req.Name
			return p.CreateDataSource(ctx, req)
		}},
		api.ActionListDataSource: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.ListDataSourceRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			return p.ListDataSources(ctx, req.SearchKey)
		}},
		api.ActionCreateProject: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			var req api.CreateProjectRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			c.resource = req.Name
			pr, err := p.CreateProject(ctx, req)
			if err == nil {
				c.resource = pr.ID
			}
			return pr, err
		}},
		api.ActionStartProject:   {mutating: true, h: verb(p.Start)},
		api.ActionStopProject:    {mutating: true, h: verb(p.Stop)},
		api.ActionResumeProject:  {mutating: true, h: verb(p.Resume)},
		api.ActionReleaseProject: {mutating: true, h: verb(p.Release)},
		api.ActionRetryProject:   {mutating: true, h: verb(p.Retry)},
		api.ActionSkipProjectEvents: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			var req api.SkipProjectEventsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			c.resource = req.ID
			return p.SkipEvents(ctx, req)
		}},
		api.ActionSwitchoverProject: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			req, err := switchRequest(c)
			if err != nil {
				return nil, err
			}
			return p.Switchover(ctx, req)
		}},
		api.ActionRollbackProject: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			req, err := switchRequest(c)
			if err != nil {
				return nil, err
			}
			return p.Rollback(ctx, req)
		}},
		api.ActionDeleteProject: {mutating: true, h: verb(p.Delete)},
		api.ActionListProjects: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.ListProjectsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			out, total, err := p.List(ctx, req)
			c.page = &paging{number: max(req.PageNumber, 1), size: len(out), total: total}
			return out, err
		}},
		api.ActionDescribeProject: {h: func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return p.Describe(ctx, id)
		}},
		api.ActionDescribeProjectSteps: {h: func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return p.StepsOf(ctx, id)
		}},
		api.ActionDescribeProjectProgress: {h: func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return p.Progress(ctx, id)
		}},
		api.ActionDescribeProjectComponents: {h: func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return p.Components(ctx, id)
		}},
		api.ActionListComponents: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.ListComponentsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			return p.Components(ctx, req.ProjectID)
		}},
		api.ActionDescribeProjectMetrics: {h: s.describeProjectMetrics},
		api.ActionDescribeVerificationResult: {h: func(ctx context.Context, c *call) (any, error) {
			id, err := projectID(c)
			if err != nil {
				return nil, err
			}
			return p.VerificationResult(ctx, id)
		}},
		api.ActionListProjectConflicts: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.ListProjectConflictsRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if strings.TrimSpace(req.ID) == "" {
				return nil, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
			}
			c.resource = req.ID
			return p.ListConflicts(ctx, req)
		}},
		api.ActionDownloadVerificationFixSQL: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.DownloadVerificationFixSQLRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			if strings.TrimSpace(req.ID) == "" {
				return nil, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
			}
			c.resource = req.ID
			out, err := p.FixSQL(ctx, req.ID)
			if err == nil && req.Attachment {
				c.attachment = &attachment{name: out.FileName, contentType: "application/sql; charset=utf-8", body: []byte(out.SQL)}
			}
			return out, err
		}},
		api.ActionListHosts: {h: func(ctx context.Context, c *call) (any, error) {
			var req api.Empty
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			return s.listHosts(ctx)
		}},
	}
}

func switchRequest(c *call) (api.SwitchoverRequest, error) {
	var req api.SwitchoverRequest
	if err := c.decode(&req); err != nil {
		return req, err
	}
	if strings.TrimSpace(req.ID) == "" {
		return req, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
	}
	c.resource = req.ID
	return req, nil
}

func projectID(c *call) (string, error) {
	var req api.ProjectIDRequest
	if err := c.decode(&req); err != nil {
		return "", err
	}
	if strings.TrimSpace(req.ID) == "" {
		return "", omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
	}
	c.resource = req.ID
	return req.ID, nil
}

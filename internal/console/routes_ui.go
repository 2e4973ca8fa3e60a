package console

import (
	"context"

	"github.com/omsdev/oms/api"
)

// extraRoutes are the actions the web console needs beyond the original OpenAPI: the audit
// query, data source editing and testing, and validation as the user types.
func (s *Server) extraRoutes() map[string]route {
	p := s.projects
	return map[string]route{
		api.ActionListAuditEvents: {h: s.listAuditEvents},
		api.ActionUpdateMysqlDataSource: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			var req api.UpdateMysqlDataSourceRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			c.resource = req.ID
			return p.UpdateDataSource(ctx, req)
		}},
		// Testing connects out of the node: operators only, and audited.
		api.ActionTestDataSource: {mutating: true, h: func(ctx context.Context, c *call) (any, error) {
			var req api.TestDataSourceRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			c.resource = req.ID
			if c.resource == "" {
				c.resource = req.Host
			}
			return p.TestDataSource(ctx, req)
		}},
		api.ActionValidateProject: {role: api.RoleOperator, h: func(ctx context.Context, c *call) (any, error) {
			var req api.CreateProjectRequest
			if err := c.decode(&req); err != nil {
				return nil, err
			}
			return api.Empty{}, p.ValidateProject(ctx, req)
		}},
	}
}

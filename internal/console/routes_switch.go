package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
)

// switchRoutes are what the console's switchover dialog needs beyond SwitchoverProject and
// RollbackProject: their dry run with the plan shown even when the precheck refuses (the
// envelope of a refusal carries no data).
func (s *Server) switchRoutes() map[string]route {
	return map[string]route{
		// Audited like the CLI's --dry-run (SwitchoverProject with dryRun): it connects to both
		// data sources.
		api.ActionPreviewProjectSwitch: {mutating: true, h: s.previewSwitch},
	}
}

func (s *Server) previewSwitch(ctx context.Context, c *call) (any, error) {
	var req api.PreviewProjectSwitchRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>", "operation": "SWITCHOVER"}`)
	}
	c.resource = req.ID
	run := s.projects.Switchover
	switch req.Operation {
	case api.OperationSwitchover:
	case api.OperationRollback:
		run = s.projects.Rollback
	default:
		return nil, omserr.New(omserr.APIInvalidArgument, fmt.Sprintf("operation %q is neither %s nor %s", req.Operation, api.OperationSwitchover, api.OperationRollback),
			`send "operation": "SWITCHOVER" or "ROLLBACK"`)
	}
	sr := req.SwitchoverRequest
	sr.DryRun = true
	plan, err := run(ctx, sr)
	var oe *omserr.Error
	if errors.As(err, &oe) && oe.Code == omserr.SwitchPrecheckFailed {
		return api.SwitchPreview{Plan: plan, Refused: true, Code: oe.Code, Message: oe.Message, Advice: oe.Advice}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.SwitchPreview{Plan: plan}, nil
}

package console

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/alert"
	"github.com/omsdev/oms/internal/omserr"
)

// SetAlerts adds the alert actions, served with n (the node's notifier): list, silence,
// test-send, rules (list, override) and channels.
func (s *Server) SetAlerts(n *alert.Notifier) {
	s.routes[api.ActionListAlerts] = route{h: func(ctx context.Context, c *call) (any, error) {
		var req api.ListAlertsRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		return alert.List(ctx, s.db, s.names.CM, req.State, req.ProjectID)
	}}
	s.routes[api.ActionSilenceAlerts] = route{mutating: true, h: func(ctx context.Context, c *call) (any, error) {
		var req api.SilenceAlertsRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		c.resource = req.Rule + "/" + req.ProjectID
		if req.DurationSeconds <= 0 {
			return nil, invalidArg("durationSeconds must be positive", `send e.g. {"rule": "incr_lag", "durationSeconds": 3600}`)
		}
		if _, ok := alert.Defaults[req.Rule]; req.Rule != "" && !ok {
			return nil, invalidArg("unknown rule "+req.Rule, "see docs/monitoring.md#alerts for the rules")
		}
		until := time.Now().Add(time.Duration(req.DurationSeconds) * time.Second)
		id, err := n.Silence(ctx, req.Rule, req.ProjectID, until, c.user, req.Reason)
		return api.Silence{ID: id, Until: until.UTC()}, err
	}}
	s.routes[api.ActionTestAlertChannels] = route{mutating: true, h: func(ctx context.Context, c *call) (any, error) {
		var req api.TestAlertChannelsRequest
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		c.resource = req.Channel
		sent, err := n.Test(ctx, req.Channel)
		if errors.Is(err, alert.ErrNoChannel) {
			return nil, invalidArg("no enabled alert channel (named "+req.Channel+")", "add one with SetAlertChannel")
		}
		return api.TestAlertChannelsResult{Sent: sent}, err
	}}
	s.routes[api.ActionSetAlertRule] = route{mutating: true, h: func(ctx context.Context, c *call) (any, error) {
		var req api.AlertRule
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		c.resource = req.Rule + "/" + req.ProjectID
		if _, ok := alert.Defaults[req.Rule]; !ok {
			return nil, invalidArg("unknown rule "+req.Rule, "see docs/monitoring.md#alerts for the rules")
		}
		if req.ForSeconds < 0 {
			return nil, invalidArg("forSeconds must not be negative", "give 0 to fire at once")
		}
		return api.Empty{}, alert.SetRule(ctx, s.db, s.names.CM, alert.Rule{Name: req.Rule, ProjectID: req.ProjectID, Threshold: req.Threshold, ForSeconds: req.ForSeconds, Enabled: req.Enabled})
	}}
	s.routes[api.ActionSetAlertChannel] = route{mutating: true, h: func(ctx context.Context, c *call) (any, error) {
		var req api.AlertChannel
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		c.resource = req.Name
		if err := checkChannel(req); err != nil {
			return nil, err
		}
		return api.Empty{}, n.SetChannel(ctx, req)
	}}
	s.routes[api.ActionListAlertRules] = route{h: func(ctx context.Context, c *call) (any, error) {
		var req api.Empty
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		rules, err := alert.ListRules(ctx, s.db, s.names.CM)
		out := make([]api.AlertRule, 0, len(rules))
		for _, r := range rules {
			out = append(out, api.AlertRule{Rule: r.Name, ProjectID: r.ProjectID, Threshold: r.Threshold, ForSeconds: r.ForSeconds, Enabled: r.Enabled})
		}
		return out, err
	}}
	s.routes[api.ActionListAlertChannels] = route{h: func(ctx context.Context, c *call) (any, error) {
		var req api.Empty
		if err := c.decode(&req); err != nil {
			return nil, err
		}
		return n.Channels(ctx, false)
	}}
}

func checkChannel(c api.AlertChannel) error {
	if c.Name == "" || len(c.Name) > 64 {
		return invalidArg("a channel needs a name of at most 64 characters", "name it, e.g. ops-webhook")
	}
	switch c.Kind {
	case alert.KindWebhook:
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalidArg("webhook url "+c.URL+" is not an http(s) URL", "give the receiver's URL")
		}
		if c.Secret == "" {
			return invalidArg("a webhook needs a secret (the HMAC-SHA256 key of the X-OMS-Signature header)", "set secret; the receiver checks the signature with it")
		}
	case alert.KindEmail:
		if c.SMTPAddr == "" || c.From == "" || len(c.To) == 0 {
			return invalidArg("an email channel needs smtpAddr (host:port), from and to", "set all three")
		}
	default:
		return invalidArg("kind "+c.Kind+" is not webhook or email", "set kind: webhook or email")
	}
	return nil
}

func invalidArg(msg, advice string) error { return omserr.New(omserr.APIInvalidArgument, msg, advice) }

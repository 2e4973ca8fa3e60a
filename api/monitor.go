package api

import (
	"context"
	"time"
)

// Monitoring actions of the OpenAPI (metrics; see docs/monitoring.md).
const (
	ActionDescribeProjectMetrics = "DescribeProjectMetrics"
)

// DescribeProjectMetricsRequest asks for a project's recent series from the nodes' in-memory
// window (the last 24 h: every sample for the last hour, one a minute before; older history is
// in InfluxDB when tsdb_enabled). Names filters by series name (empty: all); SinceSeconds is how
// far back (default 3600, at most 86400).
type DescribeProjectMetricsRequest struct {
	ID           string   `json:"id" maxlen:"projects.id"`
	Names        []string `json:"names,omitempty" maxlen:"value"`
	SinceSeconds int      `json:"sinceSeconds,omitempty"`
}

// MetricSample is one value at a unix time in seconds.
type MetricSample struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// MetricSeries is one series (name + labels: project, task, region, host, ...).
type MetricSeries struct {
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Samples []MetricSample    `json:"samples"`
}

// ProjectMetrics is the answer of DescribeProjectMetrics. UnreachableHosts lists nodes that did
// not answer (their series are missing).
type ProjectMetrics struct {
	Series           []MetricSeries `json:"series"`
	UnreachableHosts []string       `json:"unreachableHosts,omitempty"`
}

// DescribeProjectMetrics returns a project's recent series.
func (c *Client) DescribeProjectMetrics(ctx context.Context, r DescribeProjectMetricsRequest) (ProjectMetrics, error) {
	var out ProjectMetrics
	_, err := c.Call(ctx, ActionDescribeProjectMetrics, r, &out)
	return out, err
}

// Alert actions of the OpenAPI.
const (
	ActionListAlerts        = "ListAlerts"
	ActionSilenceAlerts     = "SilenceAlerts"
	ActionTestAlertChannels = "TestAlertChannels"
	ActionSetAlertRule      = "SetAlertRule"
	ActionSetAlertChannel   = "SetAlertChannel"
	ActionListAlertChannels = "ListAlertChannels"
	ActionListAlertRules    = "ListAlertRules"
)

// ListAlertsRequest filters alerts (empty: all).
type ListAlertsRequest struct {
	State     string `json:"state,omitempty" maxlen:"alerts.state"` // pending, firing, resolved
	ProjectID string `json:"projectId,omitempty" maxlen:"alerts.project_id"`
}

// Alert is one alert: a rule's state for one subject (a task, a host, a sink).
type Alert struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	ProjectID string    `json:"projectId,omitempty"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	Version   int64     `json:"version"`
	Value     float64   `json:"value"`
	Message   string    `json:"message"`
	Since     time.Time `json:"since"`
}

// SilenceAlertsRequest suppresses notifications of a rule (empty: all) for a project (empty:
// all) for DurationSeconds; transitions are still recorded.
type SilenceAlertsRequest struct {
	Rule            string `json:"rule,omitempty" maxlen:"alert_silences.rule"`
	ProjectID       string `json:"projectId,omitempty" maxlen:"alert_silences.project_id"`
	DurationSeconds int    `json:"durationSeconds"`
	Reason          string `json:"reason,omitempty" maxlen:"alert_silences.reason"`
}

// Silence is a created silence.
type Silence struct {
	ID    int64     `json:"id"`
	Until time.Time `json:"until"`
}

// TestAlertChannelsRequest sends a test notification to one channel (empty: every enabled one).
type TestAlertChannelsRequest struct {
	Channel string `json:"channel,omitempty" maxlen:"alert_channels.name"`
}

// TestAlertChannelsResult says how many channels were sent a test notification.
type TestAlertChannelsResult struct {
	Sent int `json:"sent"`
}

// AlertRule overrides a rule's threshold and duration, for one project or (empty) the default.
type AlertRule struct {
	Rule       string  `json:"rule" maxlen:"alert_rules.rule"`
	ProjectID  string  `json:"projectId,omitempty" maxlen:"alert_rules.project_id"`
	Threshold  float64 `json:"threshold"`
	ForSeconds int     `json:"forSeconds"`
	Enabled    bool    `json:"enabled"`
}

// AlertChannel is a notification channel: a webhook (url, secret: HMAC-SHA256 key of the
// X-OMS-Signature header) or email (smtpAddr host:port, from, to, user/password optional).
// Secrets are write-only: ListAlertChannels never returns them.
type AlertChannel struct {
	Name     string   `json:"name" maxlen:"alert_channels.name"`
	Kind     string   `json:"kind" maxlen:"alert_channels.kind"`
	URL      string   `json:"url,omitempty" maxlen:"value"`
	Secret   string   `json:"secret,omitempty" maxlen:"value"`
	SMTPAddr string   `json:"smtpAddr,omitempty" maxlen:"value"`
	From     string   `json:"from,omitempty" maxlen:"value"`
	To       []string `json:"to,omitempty" maxlen:"value"`
	User     string   `json:"user,omitempty" maxlen:"value"`
	Password string   `json:"password,omitempty" maxlen:"value"`
	Enabled  bool     `json:"enabled"`
}

// ListAlerts lists alerts.
func (c *Client) ListAlerts(ctx context.Context, r ListAlertsRequest) ([]Alert, error) {
	var out []Alert
	_, err := c.Call(ctx, ActionListAlerts, r, &out)
	return out, err
}

// SilenceAlerts creates a silence.
func (c *Client) SilenceAlerts(ctx context.Context, r SilenceAlertsRequest) (Silence, error) {
	var out Silence
	_, err := c.Call(ctx, ActionSilenceAlerts, r, &out)
	return out, err
}

// TestAlertChannels sends test notifications.
func (c *Client) TestAlertChannels(ctx context.Context, r TestAlertChannelsRequest) (TestAlertChannelsResult, error) {
	var out TestAlertChannelsResult
	_, err := c.Call(ctx, ActionTestAlertChannels, r, &out)
	return out, err
}

// SetAlertRule stores a rule override.
func (c *Client) SetAlertRule(ctx context.Context, r AlertRule) error {
	_, err := c.Call(ctx, ActionSetAlertRule, r, nil)
	return err
}

// SetAlertChannel creates or replaces a channel.
func (c *Client) SetAlertChannel(ctx context.Context, r AlertChannel) error {
	_, err := c.Call(ctx, ActionSetAlertChannel, r, nil)
	return err
}

// ListAlertChannels lists the channels (without secrets).
func (c *Client) ListAlertChannels(ctx context.Context) ([]AlertChannel, error) {
	var out []AlertChannel
	_, err := c.Call(ctx, ActionListAlertChannels, nil, &out)
	return out, err
}

// ListAlertRules lists every rule's effective default (built-in or overridden), then the
// per-project overrides.
func (c *Client) ListAlertRules(ctx context.Context) ([]AlertRule, error) {
	var out []AlertRule
	_, err := c.Call(ctx, ActionListAlertRules, nil, &out)
	return out, err
}

// Resource actions: a host's recent CPU/memory/disk series and a component's log tail.
const (
	ActionDescribeHostMetrics  = "DescribeHostMetrics"
	ActionDescribeComponentLog = "DescribeComponentLog"
)

// DescribeHostMetricsRequest asks one host (its ip) for its oms_host_* series from its in-memory
// window; SinceSeconds as in DescribeProjectMetricsRequest.
type DescribeHostMetricsRequest struct {
	IP           string `json:"ip" maxlen:"hosts.ip"`
	SinceSeconds int    `json:"sinceSeconds,omitempty"`
}

// DescribeHostMetrics returns a host's recent CPU, memory and disk series (ProjectMetrics shape:
// the host is in UnreachableHosts when it did not answer).
func (c *Client) DescribeHostMetrics(ctx context.Context, r DescribeHostMetricsRequest) (ProjectMetrics, error) {
	var out ProjectMetrics
	_, err := c.Call(ctx, ActionDescribeHostMetrics, r, &out)
	return out, err
}

// DescribeComponentLogRequest asks for the last Lines (default 100, at most 500) lines of a
// component's log, by its id (the task id ListComponents shows).
type DescribeComponentLogRequest struct {
	ID    string `json:"id" maxlen:"tasks.id"`
	Lines int    `json:"lines,omitempty"`
}

// ComponentLog is the end of a component's log on the host that runs (or last ran) it, with
// secret values masked; Truncated when the log holds more.
type ComponentLog struct {
	ID        string   `json:"id"`
	Host      string   `json:"host"`
	Lines     []string `json:"lines"`
	Truncated bool     `json:"truncated"`
}

// DescribeComponentLog returns the end of a component's log.
func (c *Client) DescribeComponentLog(ctx context.Context, r DescribeComponentLogRequest) (ComponentLog, error) {
	var out ComponentLog
	_, err := c.Call(ctx, ActionDescribeComponentLog, r, &out)
	return out, err
}

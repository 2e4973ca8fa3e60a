package api

import "context"

// Monitoring actions of the OpenAPI (metrics; see docs/monitoring.md).
const (
	ActionDescribeProjectMetrics = "DescribeProjectMetrics"
)

// DescribeProjectMetricsRequest asks for a project's recent series from the nodes' in-memory
// window (the last 24 h: every sample for the last hour, one a minute before; older history is
// in InfluxDB when tsdb_enabled). Names filters by series name (empty: all); SinceSeconds is how
// far back (default 3600, at most 86400).
type DescribeProjectMetricsRequest struct {
	ID           string   `json:"id"`
	Names        []string `json:"names,omitempty"`
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

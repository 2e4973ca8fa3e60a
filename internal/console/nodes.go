package console

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// hostSeries are the series DescribeHostMetrics returns.
var hostSeries = []string{metrics.HostCPUPercent, metrics.HostMemoryUsedBytes, metrics.HostMemoryTotalBytes, metrics.HostDiskUsedBytes, metrics.HostDiskTotalBytes}

// defaultLogLines is how many lines DescribeComponentLog returns when none are asked for.
const defaultLogLines = 100

// nodeRoutes are the actions served by asking one node's supervisor port: a host's recent
// series and a component's log tail. A log can hold row keys and values from error messages,
// so reading it needs the operator role.
func (s *Server) nodeRoutes() map[string]route {
	return map[string]route{
		api.ActionDescribeHostMetrics:  {h: s.describeHostMetrics},
		api.ActionDescribeComponentLog: {role: api.RoleOperator, h: s.describeComponentLog},
	}
}

// supervisorAddr is the host:port of a registered host's supervisor.
func (s *Server) supervisorAddr(ctx context.Context, ip string) (string, error) {
	var port int
	err := s.db.QueryRowContext(ctx, "SELECT supervisor_port FROM "+sqlgen.QuoteIdent(s.names.CM)+".hosts WHERE ip = ?", ip).Scan(&port)
	if errors.Is(err, sql.ErrNoRows) {
		return "", omserr.New(omserr.APINotFound, "no host "+ip, "ListHosts names the hosts")
	}
	if err != nil {
		return "", fmt.Errorf("read host %s: %w", ip, err)
	}
	return net.JoinHostPort(ip, strconv.Itoa(port)), nil
}

func (s *Server) describeHostMetrics(ctx context.Context, c *call) (any, error) {
	var req api.DescribeHostMetricsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.IP) == "" {
		return nil, invalidArg("ip is required", `send {"ip": "<host ip>"}`)
	}
	addr, err := s.supervisorAddr(ctx, req.IP)
	if err != nil {
		return nil, err
	}
	since := req.SinceSeconds
	if since <= 0 {
		since = 3600
	}
	since = min(since, int(metrics.WindowSpan.Seconds()))
	q := url.Values{"name": hostSeries, "since": {strconv.FormatInt(time.Now().Add(-time.Duration(since)*time.Second).Unix(), 10)}}
	out := api.ProjectMetrics{Series: []api.MetricSeries{}}
	client := &http.Client{Timeout: windowTimeout, Transport: s.nodeTransport}
	if err := getJSON(ctx, client, s.nodeScheme()+"://"+addr+metrics.WindowPath+"?"+q.Encode(), &out.Series); err != nil {
		out.UnreachableHosts = []string{addr}
	}
	c.resource = req.IP
	return out, nil
}

func (s *Server) describeComponentLog(ctx context.Context, c *call) (any, error) {
	var req api.DescribeComponentLogRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.resource = req.ID
	if strings.TrimSpace(req.ID) == "" {
		return nil, invalidArg("id is required", `send {"id": "<component id from ListComponents>"}`)
	}
	if req.Lines < 0 || req.Lines > component.MaxLogTailLines {
		return nil, invalidArg(fmt.Sprintf("lines must be from 1 to %d", component.MaxLogTailLines), "ask for fewer lines")
	}
	if req.Lines == 0 {
		req.Lines = defaultLogLines
	}
	t, ok, err := task.NewTable(s.db, s.names.CM).Get(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, omserr.New(omserr.APINotFound, "no component "+req.ID, "ListComponents names the components")
	}
	if t.Host == "" {
		return nil, omserr.New(omserr.APIStateConflict, "component "+req.ID+" has not been placed on a host yet", "wait until it is placed")
	}
	addr, err := s.supervisorAddr(ctx, t.Host)
	if err != nil {
		return nil, err
	}
	q := url.Values{"task": {t.ID}, "lines": {strconv.Itoa(req.Lines)}}
	var tail component.LogTail
	client := &http.Client{Timeout: windowTimeout, Transport: s.nodeTransport}
	if err := getJSON(ctx, client, s.nodeScheme()+"://"+addr+component.LogTailPath+"?"+q.Encode(), &tail); err != nil {
		return nil, omserr.Wrap(err, omserr.APIStateConflict, "cannot read the log of "+req.ID+" from "+addr, "the host may be down; ListHosts shows its state")
	}
	return api.ComponentLog{ID: t.ID, Host: tail.Host, Lines: tail.Lines, Truncated: tail.Truncated}, nil
}

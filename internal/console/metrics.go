package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// windowTimeout bounds one node's answer to DescribeProjectMetrics.
const windowTimeout = 5 * time.Second

// describeProjectMetrics gathers a project's series from every ONLINE node's window (each node
// keeps only its own components' series).
func (s *Server) describeProjectMetrics(ctx context.Context, c *call) (any, error) {
	var req api.DescribeProjectMetricsRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.ID) == "" {
		return nil, omserr.New(omserr.APIInvalidArgument, "id is required", `send {"id": "<project id>"}`)
	}
	since := req.SinceSeconds
	if since <= 0 {
		since = 3600
	}
	since = min(since, int(metrics.WindowSpan.Seconds()))
	rows, err := s.db.QueryContext(ctx, "SELECT ip, supervisor_port FROM "+sqlgen.QuoteIdent(s.names.CM)+".hosts WHERE state = 'ONLINE' ORDER BY ip")
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	var hosts []string
	for rows.Next() {
		var ip string
		var port int
		if err := rows.Scan(&ip, &port); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list hosts: %w", err)
		}
		hosts = append(hosts, net.JoinHostPort(ip, strconv.Itoa(port)))
	}
	rows.Close()
	q := url.Values{metrics.LabelProject: {req.ID}, "since": {strconv.FormatInt(time.Now().Add(-time.Duration(since)*time.Second).Unix(), 10)}}
	for _, n := range req.Names {
		q.Add("name", n)
	}
	out := api.ProjectMetrics{Series: []api.MetricSeries{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	client := &http.Client{Timeout: windowTimeout, Transport: s.nodeTransport}
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var part []api.MetricSeries
			err := getJSON(ctx, client, s.nodeScheme()+"://"+h+metrics.WindowPath+"?"+q.Encode(), &part)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.UnreachableHosts = append(out.UnreachableHosts, h)
				return
			}
			out.Series = append(out.Series, part...)
		}()
	}
	wg.Wait()
	sort.Strings(out.UnreachableHosts)
	sort.SliceStable(out.Series, func(i, j int) bool { return out.Series[i].Name < out.Series[j].Name })
	c.resource = req.ID
	return out, nil
}

// SetNodeTransport makes calls to other nodes (their supervisor port: mutual TLS with this
// node's cluster certificate, see internal/clustertls) go through rt over https.
func (s *Server) SetNodeTransport(rt http.RoundTripper) { s.nodeTransport = rt }

func (s *Server) nodeScheme() string {
	if s.nodeTransport == nil {
		return "http"
	}
	return "https"
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

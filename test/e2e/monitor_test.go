package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
	"github.com/omsdev/oms/internal/tsdb"
)

// TestMonitoring runs a project on two nodes with tsdb_enabled and checks the three ways its
// series leave the nodes: each node's /metrics (scraped by a real Prometheus), InfluxDB (a real
// influxd holds points of every metric with project, task, region and host tags), and the
// DescribeProjectMetrics action from the nodes' recent window. Then InfluxDB stops and Incr-Sync
// keeps applying at the rate it had with InfluxDB up (printed as a ratio).
func TestMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	influx := testenv.StartInfluxDB(t, "omsmon", "Influx-pw-1")
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	shop.Seed(t, src.DB())
	c := startClusterWith(t, meta, clusterOpts{
		config: fmt.Sprintf("tsdb_enabled: true\ntsdb_service: INFLUXDB\ntsdb_url: '%s'\ntsdb_username: omsmon\ntsdb_password: 'Influx-pw-1'\n", influx.Addr),
		flags:  []string{"--metrics-interval", "1s"},
	}, "127.0.0.2", "127.0.0.3")
	ctx := context.Background()
	wl := shop.StartWorkload(src.DB(), 2, workloadPause)
	defer wl.Halt()
	pid := createShopProject(t, c, src, dst)
	scenario.WaitFor(t, 90*time.Second, "incremental transfer caught up", func() (bool, string) {
		p, err := c.cli.DescribeProject(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		if p.Status == api.StateFailed {
			t.Fatalf("project failed: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		return scenario.Step(p, api.StepIncr).Status == api.StepMonitoring, fmt.Sprintf("%+v", p.Steps)
	})
	comps, err := c.cli.DescribeProjectComponents(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	incr, _ := scenario.Component(comps, "incr-sync")
	store, _ := scenario.Component(comps, "store")

	// Scrapers need a cluster certificate: `oms cert issue` makes one for Prometheus.
	monDir := filepath.Join(t.TempDir(), "prometheus-tls")
	if out, err := exec.Command(testenv.OMSBinary(t), "cert", "issue", "-c", c.nodes[0].configPath, "--monitor", "prometheus", "--out", monDir).CombinedOutput(); err != nil {
		t.Fatalf("oms cert issue: %v\n%s", err, out)
	}
	scraper := monitorClient(t, monDir)
	if _, err := httpGet(fmt.Sprintf("http://%s:%d/metrics", c.nodes[0].ip, c.nodes[0].supPort)); err == nil {
		t.Error("/metrics answered plain HTTP")
	}

	// /metrics of each node: host series on both, each component's series on its node with the
	// labels the node adds.
	want := map[string][]string{ // node ip -> series that must be there
		incr.Host: {
			fmt.Sprintf(`%s{host="%s",project="%s",region="cn-hangzhou",task="%s"}`, metrics.IncrLagSeconds, incr.Host, pid, incr.ID),
			metrics.IncrApplyLatencySeconds + "_bucket{",
			fmt.Sprintf(`%s{host="%s",op="update",project="%s",region="cn-hangzhou",table="shop.sbtest1",task="%s"}`, metrics.IncrChangesTotal, incr.Host, pid, incr.ID),
			metrics.IncrRowsTotal + "{", metrics.IncrQueueDepthTxns + "{", metrics.IncrCheckpointAgeSeconds + "{",
		},
		store.Host: {metrics.StoreRowsTotal + "{", metrics.StoreBytesTotal + "{", metrics.StoreDiskBytes + "{", metrics.StoreRetentionHeadroomSeconds + "{"},
	}
	for _, n := range c.nodes {
		want[n.ip] = append(want[n.ip], fmt.Sprintf(`%s{host="%s",region="cn-hangzhou"}`, metrics.HostCPUPercent, n.ip), metrics.HostDiskTotalBytes+"{", metrics.ComponentUp+"{")
		scenario.WaitFor(t, 30*time.Second, "series on "+n.ip+"'s /metrics", func() (bool, string) {
			body, err := clientGet(scraper, fmt.Sprintf("https://%s:%d/metrics", n.ip, n.supPort))
			if err != nil {
				return false, err.Error()
			}
			for _, w := range want[n.ip] {
				if !strings.Contains(body, w) {
					return false, "missing " + w + " in\n" + body
				}
			}
			return true, ""
		})
	}

	// A real Prometheus scrapes both nodes, with the shipped alert rules loaded.
	rules, _ := filepath.Abs("../../deploy/prometheus/oms-rules.yml")
	prom := testenv.StartPrometheusTLS(t, []string{fmt.Sprintf("%s:%d", c.nodes[0].ip, c.nodes[0].supPort), fmt.Sprintf("%s:%d", c.nodes[1].ip, c.nodes[1].supPort)}, rules, monDir)
	scenario.WaitFor(t, 30*time.Second, "Prometheus has both nodes' host series and the project's lag", func() (bool, string) {
		hosts := promQuery(t, prom, metrics.HostCPUPercent)
		lag := promQuery(t, prom, fmt.Sprintf(`%s{project=%q}`, metrics.IncrLagSeconds, pid))
		seen := map[string]bool{}
		for _, r := range hosts {
			seen[r["host"]] = true
		}
		return len(seen) == 2 && len(lag) == 1 && lag[0]["task"] == incr.ID, fmt.Sprintf("hosts %v lag %v", hosts, lag)
	})

	if body, err := httpGet("http://" + prom + "/api/v1/rules"); err != nil || !strings.Contains(body, "OMSIncrSyncLagHigh") {
		t.Fatalf("Prometheus did not load the shipped rules: %v %.500s", err, body)
	}

	// InfluxDB holds points of every metric, tagged.
	measurements := []string{metrics.IncrLagSeconds, metrics.IncrRowsTotal, metrics.IncrApplyLatencySeconds, metrics.IncrChangesTotal,
		metrics.IncrQueueDepthTxns, metrics.IncrCheckpointAgeSeconds, metrics.StoreRowsTotal, metrics.StoreBytesTotal, metrics.StoreDiskBytes,
		metrics.StoreRetentionHeadroomSeconds, metrics.ComponentUp, metrics.HostCPUPercent, metrics.HostMemoryUsedBytes, metrics.HostDiskUsedBytes,
		metrics.TSDBPointsTotal}
	for _, m := range measurements {
		scenario.WaitFor(t, 40*time.Second, "InfluxDB points of "+m, func() (bool, string) {
			series := influx.Query(t, tsdb.DefaultDatabase, fmt.Sprintf(`SELECT count(*) FROM %q GROUP BY *`, m))
			for _, s := range series {
				if s.Tags["region"] != "cn-hangzhou" || s.Tags["host"] == "" {
					return false, fmt.Sprintf("tags %v", s.Tags)
				}
				if strings.HasPrefix(m, "oms_incr_sync") && (s.Tags["project"] != pid || s.Tags["task"] != incr.ID) {
					return false, fmt.Sprintf("tags %v", s.Tags)
				}
			}
			return len(series) > 0, fmt.Sprintf("%+v", series)
		})
	}

	// The console's window: the project's series from the node that runs them.
	scenario.WaitFor(t, 20*time.Second, "DescribeProjectMetrics", func() (bool, string) {
		pm, err := c.cli.DescribeProjectMetrics(ctx, api.DescribeProjectMetricsRequest{ID: pid, Names: []string{metrics.IncrLagSeconds, metrics.StoreRowsTotal}})
		if err != nil {
			return false, err.Error()
		}
		names := map[string]int{}
		for _, s := range pm.Series {
			names[s.Name] = len(s.Samples)
			if s.Labels["project"] != pid {
				return false, fmt.Sprintf("foreign series %+v", s)
			}
		}
		return names[metrics.IncrLagSeconds] >= 2 && names[metrics.StoreRowsTotal] >= 2 && len(pm.UnreachableHosts) == 0, fmt.Sprintf("%+v", pm)
	})

	// InfluxDB stops: Incr-Sync keeps applying at the same rate (the series writer is off the
	// data path: a bounded buffer in the node, the components are other processes). The applied
	// rows/s over equal windows with InfluxDB up and stopped are printed and compared.
	up := applyRate(t, c, pid, wl)
	influx.Stop()
	down := applyRate(t, c, pid, wl)
	t.Logf("Incr-Sync applied %.0f rows/s (%.0f source txns/s) with InfluxDB up, %.0f rows/s (%.0f txns/s) with it stopped: ratio %.2f",
		up.rows, up.txns, down.rows, down.txns, down.rows/up.rows)
	// The workload paces the source, so the applied rate follows it; a stalled data path would
	// fall far behind. Loose bound: the two cores are shared with other tests.
	if up.rows <= 0 || down.rows < 0.5*up.rows*min(1, down.txns/up.txns) {
		t.Fatalf("applied rows/s with InfluxDB stopped %.0f vs %.0f with it up", down.rows, up.rows)
	}
	wl.Halt()
	scenario.WaitFor(t, 60*time.Second, "source == target (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
}

// rates are what a measurement window saw: rows Incr-Sync applied and source transactions the
// workload committed, per second.
type rates struct{ rows, txns float64 }

// applyRate measures the project's applied rows/s and the workload's txns/s over 15 s.
func applyRate(t *testing.T, c *cluster, pid string, wl *scenario.Workload) rates {
	t.Helper()
	start, rows0, txns0 := time.Now(), appliedRows(t, c, pid), wl.Txns()
	time.Sleep(15 * time.Second) //nolint:forbidigo // a measurement window, not synchronisation
	secs := time.Since(start).Seconds()
	return rates{rows: (appliedRows(t, c, pid) - rows0) / secs, txns: float64(wl.Txns()-txns0) / secs}
}

func appliedRows(t *testing.T, c *cluster, pid string) float64 {
	t.Helper()
	comps, err := c.cli.DescribeProjectComponents(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	incr, _ := scenario.Component(comps, "incr-sync")
	return incr.Metrics["applied_rows_total"]
}

// monitorClient presents the certificate `oms cert issue --monitor` wrote into dir.
func monitorClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

func httpGet(u string) (string, error) { return clientGet(&http.Client{Timeout: 10 * time.Second}, u) }

func clientGet(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), err
}

// promQuery runs an instant query and returns each result's labels.
func promQuery(t *testing.T, addr, q string) []map[string]string {
	t.Helper()
	body, err := httpGet("http://" + addr + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return nil
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("prometheus answer %s: %v", body, err)
	}
	out := make([]map[string]string, len(r.Data.Result))
	for i, x := range r.Data.Result {
		out[i] = x.Metric
	}
	return out
}

package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// maxScrape bounds one child's /metrics answer.
const maxScrape = 16 << 20

// Scrape reads a component's Prometheus text exposition at url.
func Scrape(ctx context.Context, client *http.Client, url string) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %s", url, resp.Status)
	}
	var p expfmt.TextParser
	byName, err := p.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrape))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		out = append(out, mf)
	}
	return out, nil
}

// AddLabels sets labels on every metric of mfs (a label the metric already has keeps its value),
// keeping each metric's labels sorted by name as the exposition requires.
func AddLabels(mfs []*dto.MetricFamily, labels map[string]string) {
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			have := map[string]bool{}
			for _, lp := range m.Label {
				have[lp.GetName()] = true
			}
			for k, v := range labels {
				if !have[k] && v != "" {
					m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(k), Value: proto.String(v)})
				}
			}
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		}
	}
}

// Merge joins families of the same name (from several components) into one.
func Merge(lists ...[]*dto.MetricFamily) []*dto.MetricFamily {
	byName := map[string]*dto.MetricFamily{}
	var order []string
	for _, l := range lists {
		for _, mf := range l {
			cur, ok := byName[mf.GetName()]
			if !ok {
				byName[mf.GetName()] = mf
				order = append(order, mf.GetName())
				continue
			}
			if cur.GetType() == mf.GetType() {
				cur.Metric = append(cur.Metric, mf.Metric...)
			}
		}
	}
	sort.Strings(order)
	out := make([]*dto.MetricFamily, len(order))
	for i, n := range order {
		out[i] = byName[n]
	}
	return out
}

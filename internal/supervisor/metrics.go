package supervisor

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/metrics"
)

// scrapeTimeout bounds one child's /metrics during a gather.
const scrapeTimeout = 2 * time.Second

// hostSample is the last heartbeat's host figures, exported by the host collector.
type hostSample struct {
	cpu                                    float64
	memUsed, memTotal, diskUsed, diskTotal int64
}

// Gatherer returns this node's components' series: each child's /metrics, scraped at gather
// time (in parallel, each bounded by scrapeTimeout) and labelled with project, region and host,
// plus oms_component_up and oms_component_restarts per task. A child that does not answer is
// up=0; the others are still returned.
func (s *Supervisor) Gatherer() prometheus.Gatherer {
	client := &http.Client{Timeout: scrapeTimeout}
	scheme := "http"
	if s.opt.Certs != nil {
		client.Transport, scheme = clustertls.Transport(s.opt.Certs.Source(), nil), "https"
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		type child struct {
			addr, task, kind, project string
			restarts                  int
		}
		s.mu.Lock()
		kids := make([]child, 0, len(s.procs))
		for _, p := range s.procs {
			p.mu.Lock()
			addr := p.addr
			p.mu.Unlock()
			kids = append(kids, child{addr, p.taskID, p.kind, p.project, p.restarts})
		}
		s.mu.Unlock()
		lists := make([][]*dto.MetricFamily, len(kids))
		up := make([]bool, len(kids))
		var wg sync.WaitGroup
		for i, k := range kids {
			if k.addr == "" {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
				defer cancel()
				mfs, err := metrics.Scrape(ctx, client, scheme+"://"+k.addr+"/metrics")
				if err != nil {
					return
				}
				metrics.AddLabels(mfs, map[string]string{metrics.LabelProject: k.project, metrics.LabelTask: k.task,
					metrics.LabelRegion: s.opt.Config.CMRegion, metrics.LabelHost: s.opt.HostIP})
				lists[i], up[i] = mfs, true
			}()
		}
		wg.Wait()
		reg := prometheus.NewRegistry()
		upG := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metrics.ComponentUp, Help: "1 while the component's status server answers"},
			[]string{metrics.LabelProject, metrics.LabelTask, metrics.LabelKind, metrics.LabelRegion, metrics.LabelHost})
		restartsG := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metrics.ComponentRestarts, Help: "consecutive restarts of the component"},
			[]string{metrics.LabelProject, metrics.LabelTask, metrics.LabelKind, metrics.LabelRegion, metrics.LabelHost})
		reg.MustRegister(upG, restartsG)
		for i, k := range kids {
			lv := []string{k.project, k.task, k.kind, s.opt.Config.CMRegion, s.opt.HostIP}
			v := 0.0
			if up[i] {
				v = 1
			}
			upG.WithLabelValues(lv...).Set(v)
			restartsG.WithLabelValues(lv...).Set(float64(k.restarts))
		}
		own, err := reg.Gather()
		return metrics.Merge(append(lists, own)...), err
	})
}

// HostCollector exports the figures of the last heartbeat (CPU, memory, the data dir's disk).
func (s *Supervisor) HostCollector() prometheus.Collector { return hostCollector{s} }

type hostCollector struct{ s *Supervisor }

func (hostCollector) Describe(chan<- *prometheus.Desc) {} // unchecked collector

func (c hostCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	h := c.s.host
	c.s.mu.Unlock()
	for _, g := range []struct {
		name, help string
		v          float64
	}{
		{metrics.HostCPUPercent, "host CPU busy percent between heartbeats", h.cpu},
		{metrics.HostMemoryUsedBytes, "host memory in use (total minus available)", float64(h.memUsed)},
		{metrics.HostMemoryTotalBytes, "host memory", float64(h.memTotal)},
		{metrics.HostDiskUsedBytes, "disk used on the file system of the data dir", float64(h.diskUsed)},
		{metrics.HostDiskTotalBytes, "size of the file system of the data dir", float64(h.diskTotal)},
	} {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(g.name, g.help, nil, nil), prometheus.GaugeValue, g.v)
	}
}

package cli

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/alert"
	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/cm"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/supervisor"
	"github.com/omsdev/oms/internal/tsdb"
)

// nodeMonitor is a node's monitoring wiring: its own series (host, TSDB writer, audit and alert
// figures, labelled region and host) and its components' (scraped by the supervisor), sampled
// every interval into the recent window and, with tsdb_enabled, InfluxDB.
type nodeMonitor struct {
	reg      prometheus.Registerer
	gather   prometheus.Gatherer
	window   *metrics.Window
	writer   *tsdb.Writer // nil without tsdb_enabled
	interval time.Duration
	log      *slog.Logger
}

func newNodeMonitor(cfg config.Config, hostIP string, interval time.Duration, sup *supervisor.Supervisor, log *slog.Logger) *nodeMonitor {
	reg := prometheus.NewRegistry()
	m := &nodeMonitor{reg: prometheus.WrapRegistererWith(prometheus.Labels{metrics.LabelRegion: cfg.CMRegion, metrics.LabelHost: hostIP}, reg),
		gather: prometheus.Gatherers{reg, sup.Gatherer()}, window: metrics.NewWindow(), interval: interval, log: log}
	m.reg.MustRegister(sup.HostCollector())
	if cfg.TSDBEnabled {
		wc := tsdb.FromConfig(cfg)
		wc.Interval = min(interval, tsdb.DefaultInterval)
		m.writer = tsdb.NewWriter(wc, log)
		m.reg.MustRegister(m.writer.Collectors()...)
	}
	return m
}

// handler adds /metrics and the window to the supervisor's endpoints.
func (m *nodeMonitor) handler(sup http.Handler) http.Handler {
	mux := http.NewServeMux()
	own := metrics.Handler(m.gather, m.window)
	// Scrapers need a cluster certificate too: a node's, or a monitor's (`oms cert issue`).
	mux.Handle("GET /metrics", clustertls.Guard(clustertls.MayScrape, own))
	mux.Handle("GET "+metrics.WindowPath, clustertls.Guard(clustertls.IsNode, own))
	mux.Handle("/", sup)
	return mux
}

func (m *nodeMonitor) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	sinks := []metrics.Sink{m.window}
	if m.writer != nil {
		sinks = append(sinks, m.writer)
		g.Go(func() error { return m.writer.Run(gctx) })
	}
	g.Go(func() error { return metrics.RunSampler(gctx, m.gather, m.interval, m.log, sinks...) })
	return g.Wait()
}

// auditExportLease is held by the one node that delivers the audit log to the configured sink.
const auditExportLease = "audit-exporter"

// runAuditExport delivers the audit log to the configured sink (audit_enabled) while this node
// holds the export lease; without a sink it only waits for ctx.
func (m *nodeMonitor) runAuditExport(ctx context.Context, db *sql.DB, cfg config.Config, hostIP string) error {
	m.reg.MustRegister(audit.WriteFailures)
	sink := audit.SinkFromConfig(cfg)
	if sink == nil {
		return nil
	}
	exp := audit.NewExporter(db, cfg.RMDB, sink, 0, m.log)
	m.reg.MustRegister(exp.Collectors()...)
	return exp.Run(ctx, leaseHolder(db, cfg.CMDB, auditExportLease, hostIP))
}

// leaseHolder reports, each time it is called, whether hostIP holds (took or renewed) the lease.
func leaseHolder(db *sql.DB, cmDB, lease, hostIP string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, ok, err := cm.AcquireLease(ctx, db, sqlgen.QuoteIdent(cmDB), lease, hostIP, cm.DefaultLeaseTTL)
		return err == nil && ok
	}
}

// alertLease is held by the one node (of all regions) that evaluates the alert rules and sends
// the notifications.
const alertLease = "alert-evaluator"

func (m *nodeMonitor) runAlerts(ctx context.Context, db *sql.DB, cfg config.Config, hostIP string, n *alert.Notifier, interval time.Duration) error {
	ev := alert.NewEvaluator(db, cfg.CMDB, cfg.RMDB, interval, n, m.log)
	m.reg.MustRegister(ev.Collectors()...)
	return ev.Run(ctx, leaseHolder(db, cfg.CMDB, alertLease, hostIP))
}

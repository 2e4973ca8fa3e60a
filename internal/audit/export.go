package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Exporter defaults.
const (
	DefaultExportInterval = time.Second
	exportBatch           = 500
	maxBackoff            = 30 * time.Second
	// settle is how old a row must be before it is exported: ids are taken at insert and rows
	// become visible at commit, so a younger row with a smaller id could still appear; waiting
	// keeps delivery in id order without skipping it.
	settle = 2 * time.Second
)

// Sink receives audit records in id order. Send must be all-or-nothing from the cursor's point of
// view: an error means the batch is sent again (receivers deduplicate by record id).
type Sink interface {
	Name() string // stable identity, the key of its cursor
	Send(ctx context.Context, recs []Record) error
}

// SinkFromConfig returns the configured sink, or nil when audit_enabled is false.
func SinkFromConfig(c config.Config) Sink {
	if !c.AuditEnabled {
		return nil
	}
	switch c.AuditSink {
	case config.AuditSinkFile:
		return &FileSink{Path: c.AuditFile}
	case config.AuditSinkHTTP:
		return &HTTPSink{URL: c.AuditHTTPURL}
	}
	return nil
}

// Exporter delivers audit_log rows to one sink from its durable cursor. Run it on every node with
// a leader check: only the holder of the export lease sends.
type Exporter struct {
	db       *sql.DB
	rmName   string
	rm       string // quoted
	sink     Sink
	log      *slog.Logger
	interval time.Duration
	settle   time.Duration

	delivered, failures prometheus.Counter
	backlog             prometheus.Gauge
}

// NewExporter returns an exporter of rmDB's audit log to sink.
func NewExporter(db *sql.DB, rmDB string, sink Sink, interval time.Duration, log *slog.Logger) *Exporter {
	if interval <= 0 {
		interval = DefaultExportInterval
	}
	l := prometheus.Labels{metrics.LabelSink: sink.Name()}
	return &Exporter{db: db, rmName: rmDB, rm: sqlgen.QuoteIdent(rmDB), sink: sink, log: log, interval: interval, settle: settle,
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.AuditSinkRecordsTotal, Help: "audit records delivered to the sink", ConstLabels: l}),
		failures:  prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.AuditSinkFailures, Help: "failed deliveries to the audit sink (retried)", ConstLabels: l}),
		backlog:   prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.AuditSinkBacklog, Help: "audit records not yet delivered to the sink", ConstLabels: l}),
	}
}

// Collectors are the exporter's series.
func (e *Exporter) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.delivered, e.failures, e.backlog}
}

// Run exports while leader reports true, until ctx ends. A failing sink is retried with backoff.
func (e *Exporter) Run(ctx context.Context, leader func(context.Context) bool) error {
	wait := e.interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = e.interval
		if !leader(ctx) {
			continue
		}
		for {
			n, err := e.ExportOnce(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				e.log.Warn("audit sink fails; records wait in the MetaDB", "sink", e.sink.Name(), "err", err)
				wait = min(2*max(wait, e.interval), maxBackoff)
				break
			}
			if n < exportBatch {
				break
			}
		}
	}
}

// ExportOnce sends the next batch after the cursor and advances it; it returns how many records
// were delivered.
func (e *Exporter) ExportOnce(ctx context.Context) (int, error) {
	name := e.sink.Name()
	if _, err := e.db.ExecContext(ctx, "INSERT IGNORE INTO "+e.rm+".audit_sinks (sink) VALUES (?)", name); err != nil {
		return 0, fmt.Errorf("audit cursor of %s: %w", name, err)
	}
	var cursor int64
	if err := e.db.QueryRowContext(ctx, "SELECT last_id FROM "+e.rm+".audit_sinks WHERE sink = ?", name).Scan(&cursor); err != nil {
		return 0, fmt.Errorf("audit cursor of %s: %w", name, err)
	}
	recs, err := Query(ctx, e.db, e.rmName, Filter{AfterID: cursor, SettledFor: e.settle, Limit: exportBatch})
	if err != nil {
		return 0, err
	}
	var pending int64
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+e.rm+".audit_log WHERE id > ?", cursor).Scan(&pending); err == nil {
		e.backlog.Set(float64(pending))
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if err := e.sink.Send(ctx, recs); err != nil {
		e.failures.Inc()
		_, _ = e.db.ExecContext(ctx, "UPDATE "+e.rm+".audit_sinks SET failing_since = COALESCE(failing_since, NOW(6)), last_error = ? WHERE sink = ?",
			Truncate(err.Error(), 1000), name)
		return 0, fmt.Errorf("deliver audit records %d..%d to %s: %w", recs[0].ID, recs[len(recs)-1].ID, name, err)
	}
	last := recs[len(recs)-1].ID
	// Compare-and-set: a node that lost the lease mid-batch does not move the cursor back.
	res, err := e.db.ExecContext(ctx, "UPDATE "+e.rm+".audit_sinks SET last_id = ?, delivered_total = delivered_total + ?, failing_since = NULL, last_error = '' WHERE sink = ? AND last_id = ?",
		last, len(recs), name, cursor)
	if err != nil {
		return 0, fmt.Errorf("advance audit cursor of %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		e.delivered.Add(float64(len(recs)))
		e.backlog.Set(float64(max(0, pending-int64(len(recs)))))
	}
	return len(recs), nil
}

// FileSink appends records as JSON lines to Path (fsync'd per batch), rotating it to Path.1 ...
// Path.<Keep> when it reaches MaxBytes. It writes on the node that holds the export lease.
type FileSink struct {
	Path     string
	MaxBytes int64 // default 100 MiB
	Keep     int   // rotated files kept, default 5
}

// Name implements Sink.
func (f *FileSink) Name() string { return "file:" + f.Path }

// Send implements Sink.
func (f *FileSink) Send(_ context.Context, recs []Record) error {
	maxBytes, keep := f.MaxBytes, f.Keep
	if maxBytes <= 0 {
		maxBytes = 100 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o750); err != nil {
		return err
	}
	if st, err := os.Stat(f.Path); err == nil && st.Size() >= maxBytes {
		for i := keep - 1; i >= 1; i-- {
			_ = os.Rename(f.Path+"."+strconv.Itoa(i), f.Path+"."+strconv.Itoa(i+1))
		}
		if err := os.Rename(f.Path, f.Path+".1"); err != nil {
			return fmt.Errorf("rotate %s: %w", f.Path, err)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	fh, err := os.OpenFile(f.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	if _, err := fh.Write(buf.Bytes()); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// HTTPSink POSTs each batch as {"records": [...]} to URL (the stand-in for the guide's SLS). Any
// 2xx answer delivers the batch; the Idempotency-Key header (first and last id) lets the receiver
// drop a batch sent again after a failover.
type HTTPSink struct {
	URL    string
	Client *http.Client // default: 10 s timeout
}

// Name implements Sink.
func (h *HTTPSink) Name() string { return "http:" + h.URL }

// Send implements Sink.
func (h *HTTPSink) Send(ctx context.Context, recs []Record) error {
	body, err := json.Marshal(struct {
		Records []Record `json:"records"`
	}{recs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("oms-audit-%d-%d", recs[0].ID, recs[len(recs)-1].ID))
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return errors.New("HTTP " + resp.Status + ": " + strings.TrimSpace(string(msg)))
	}
	return nil
}

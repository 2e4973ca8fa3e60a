// Package tsdb is oms's time-series database client: InfluxDB 1.x over HTTP (the guide's
// tsdb_service: INFLUXDB), with the credentials check the deployment runs and the Writer a node
// uses to report its series (tsdb_enabled).
//
// The Writer never slows the data path: the node's sampler hands it points (Add only appends to
// a bounded buffer), and one goroutine writes them in batches every interval. When InfluxDB is
// down or slow the buffer fills and the oldest points are dropped and counted.
package tsdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metrics"
)

// Defaults of WriterConfig.
const (
	DefaultDatabase  = "oms"
	DefaultInterval  = 10 * time.Second
	DefaultMaxPoints = 200_000 // about a day of a busy node's series at 10 s... bounded memory (~40 MB)
	DefaultBatch     = 5_000   // lines per POST: InfluxDB recommends 5,000-10,000
	DefaultTimeout   = 5 * time.Second
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	URL      string // tsdb_url: host:port or http(s)://host:port
	Username string
	Password config.Secret
	Database string
	Interval time.Duration
	// MaxPoints bounds the buffer: past it the oldest points are dropped (and counted).
	MaxPoints int
	Batch     int
	Timeout   time.Duration
}

// FromConfig is the Writer configuration of a node's config.yaml.
func FromConfig(c config.Config) WriterConfig {
	return WriterConfig{URL: c.TSDBURL, Username: c.TSDBUsername, Password: c.TSDBPassword}
}

// Writer writes points to InfluxDB in line protocol. Add is safe from any goroutine; Run is the
// one writing goroutine.
type Writer struct {
	cfg    WriterConfig
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	lines   [][]byte
	head    uint64 // how many lines ever left the front of lines (written or dropped)
	created bool

	written, dropped, errs prometheus.Counter
	buffered               prometheus.GaugeFunc
}

// NewWriter returns a writer; nothing is sent before Run.
func NewWriter(cfg WriterConfig, log *slog.Logger) *Writer {
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxPoints <= 0 {
		cfg.MaxPoints = DefaultMaxPoints
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	w := &Writer{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, log: log,
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.TSDBPointsTotal, Help: "points written to the time-series database"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.TSDBDroppedTotal, Help: "points dropped because the buffer was full (InfluxDB down or slow)"}),
		errs:    prometheus.NewCounter(prometheus.CounterOpts{Name: metrics.TSDBWriteErrorsTotal, Help: "failed writes to the time-series database"}),
	}
	w.buffered = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.TSDBBufferedPoints, Help: "points waiting to be written"},
		func() float64 { w.mu.Lock(); defer w.mu.Unlock(); return float64(len(w.lines)) })
	return w
}

// Collectors are the writer's own series.
func (w *Writer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.written, w.dropped, w.errs, w.buffered}
}

// Add encodes points and buffers them; it never blocks on the network.
func (w *Writer) Add(pts []metrics.Point) {
	enc := make([][]byte, 0, len(pts))
	for _, p := range pts {
		if l := Line(p); l != nil {
			enc = append(enc, l)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, enc...)
	if over := len(w.lines) - w.cfg.MaxPoints; over > 0 {
		w.lines = append(w.lines[:0:0], w.lines[over:]...)
		w.head += uint64(over)
		w.dropped.Add(float64(over))
	}
}

// Run writes the buffer every interval until ctx ends, then makes one last bounded attempt.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
			w.flush(fctx)
			cancel()
			return nil
		case <-t.C:
			w.flush(ctx)
		}
	}
}

// flush sends buffered lines in batches, oldest first, stopping at the first failure (the rest
// waits for the next interval).
func (w *Writer) flush(ctx context.Context) {
	for ctx.Err() == nil {
		w.mu.Lock()
		n := min(len(w.lines), w.cfg.Batch)
		batch, at := w.lines[:n:n], w.head
		created := w.created
		w.mu.Unlock()
		if n == 0 {
			return
		}
		if !created {
			if err := w.createDatabase(ctx); err != nil {
				w.failed(err)
				return
			}
		}
		if err := w.post(ctx, batch); err != nil {
			w.failed(err)
			return
		}
		w.written.Add(float64(n))
		w.mu.Lock()
		// Add may have dropped from the front meanwhile: remove only what is still there.
		if end := at + uint64(n); end > w.head {
			drop := min(int(end-w.head), len(w.lines))
			w.lines = w.lines[drop:]
			w.head += uint64(drop)
		}
		w.mu.Unlock()
	}
}

func (w *Writer) failed(err error) {
	w.errs.Inc()
	w.log.Warn("cannot write to the time-series database; points stay buffered", "url", w.cfg.URL, "err", err)
}

func (w *Writer) createDatabase(ctx context.Context) error {
	q := url.Values{"q": {"CREATE DATABASE " + strconv.Quote(w.cfg.Database)}}
	if err := w.do(ctx, "/query", "application/x-www-form-urlencoded", strings.NewReader(q.Encode()), http.StatusOK); err != nil {
		return fmt.Errorf("create database %s: %w", w.cfg.Database, err)
	}
	w.mu.Lock()
	w.created = true
	w.mu.Unlock()
	return nil
}

func (w *Writer) post(ctx context.Context, lines [][]byte) error {
	body := bytes.Join(lines, []byte{'\n'})
	path := "/write?" + url.Values{"db": {w.cfg.Database}, "precision": {"ms"}}.Encode()
	err := w.do(ctx, path, "text/plain; charset=utf-8", bytes.NewReader(body), http.StatusNoContent)
	if err != nil && strings.Contains(err.Error(), "database not found") {
		w.mu.Lock()
		w.created = false
		w.mu.Unlock()
	}
	return err
}

func (w *Writer) do(ctx context.Context, path, ctype string, body io.Reader, want int) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, BaseURL(w.cfg.URL)+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	req.SetBasicAuth(w.cfg.Username, w.cfg.Password.Reveal())
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != want {
		return fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Line encodes one point in InfluxDB line protocol (millisecond precision); nil for a point
// without fields.
func Line(p metrics.Point) []byte {
	if len(p.Fields) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(escape(p.Name, ", "))
	for _, t := range p.Tags {
		if t.Value == "" {
			continue // InfluxDB refuses empty tag values
		}
		b.WriteByte(',')
		b.WriteString(escape(t.Key, ",= "))
		b.WriteByte('=')
		b.WriteString(escape(t.Value, ",= "))
	}
	for i, f := range p.Fields {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(escape(f.Key, ",= "))
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(f.Value, 'g', -1, 64))
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(p.Time.UnixMilli(), 10))
	return b.Bytes()
}

// escape backslash-escapes the characters line protocol reserves in this position, and turns
// newlines (which no escape allows) into escaped spaces.
func escape(s, special string) string {
	if !strings.ContainsAny(s, special+"\\\n") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\ `) // every position escapes a space
		case r == '\\' || strings.ContainsRune(special, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

package component

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/omserr"
)

// Spec is what a supervisor gives one component process (through a pipe: `--spec /dev/fd/3`;
// tests and benchmarks write it to a file). Kind-specific settings are in Config and decoded by the
// component's own package (unknown fields are an error there too). It holds passwords: never on
// the command line, in the environment or in a file the supervisor leaves behind.
type Spec struct {
	Kind   string `json:"kind"`
	TaskID string `json:"task_id"`
	// Epoch is the fencing token of this assignment (see internal/cm): a component must stop
	// writing when a newer epoch exists.
	Epoch int64 `json:"epoch"`
	// StatusAddr is where /status and /metrics are served ("127.0.0.1:0" picks a port; the
	// chosen address is written to WorkDir/status.addr).
	StatusAddr string `json:"status_addr,omitempty"`
	// WorkDir holds the component's local files (Store segments, reports, logs).
	WorkDir string          `json:"work_dir"`
	Config  json.RawMessage `json:"config"`
	// ConsumerPositions are the positions the task's consumers last reported to the MetaDB (for a
	// Store: its Incr-Syncs' applied watermarks). A Store whose local log is gone (it moved to
	// another node) starts from the oldest of them instead of its configured start.
	ConsumerPositions []string `json:"consumer_positions,omitempty"`
	// TLS names the component's cluster certificate, key and CA files: its status port and (a
	// Store) its consumer port serve mutual TLS, and its clients (Incr-Sync to the Store)
	// present the certificate. The supervisor always sets it; a hand-written spec without it
	// (tests, benchmarks) serves plain HTTP to anyone.
	TLS *clustertls.Files `json:"tls,omitempty"`
	// PlainPeer: the other end of the component's link between nodes (a Store's Incr-Sync, an
	// Incr-Sync's Store) runs on a node of a release that speaks plain HTTP (v0.1.0), during a
	// rolling upgrade: that link is plain HTTP, as the old release speaks it; the status port
	// keeps TLS. The supervisor sets it from the peer host's version and restarts the component
	// with TLS once the peer is upgraded.
	PlainPeer bool `json:"plain_peer,omitempty"`
}

// TLSSource is the spec's cluster TLS material, nil without TLS.
func (s Spec) TLSSource() (clustertls.Source, error) {
	if s.TLS == nil {
		return nil, nil
	}
	return s.TLS.Source()
}

// PeerTLSSource is the TLS material of the link to the component's peer (a Store's consumer
// port, an Incr-Sync's Store client): nil (plain HTTP) without TLS or with PlainPeer.
func (s Spec) PeerTLSSource() (clustertls.Source, error) {
	if s.PlainPeer {
		return nil, nil
	}
	return s.TLSSource()
}

// ReadSpec reads and checks a spec file.
func ReadSpec(path string) (Spec, error) {
	var s Spec
	f, err := os.Open(path)
	if err != nil {
		return s, omserr.Wrap(err, omserr.SpecUnreadable, "cannot read component spec "+path, "check the --spec path")
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, omserr.Wrap(err, omserr.SpecInvalid, "component spec "+path+" is not valid JSON of the spec shape", "fix the file; the supervisor writes it from the task")
	}
	if s.Kind == "" || s.WorkDir == "" {
		return s, omserr.New(omserr.SpecInvalid, "component spec "+path+" needs kind and work_dir", "set both")
	}
	return s, nil
}

// DecodeConfig decodes the kind-specific part strictly into v.
func (s Spec) DecodeConfig(v any) error {
	if len(s.Config) == 0 {
		return omserr.New(omserr.SpecInvalid, "component spec has no config for kind "+s.Kind, "add a config object")
	}
	dec := json.NewDecoder(bytesReader(s.Config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return omserr.Wrap(err, omserr.SpecInvalid, "config of "+s.Kind+" spec is invalid", "fix the named field")
	}
	return nil
}

// Host runs unit through its lifecycle, serving its status while it runs, until Run returns or
// ctx is cancelled (SIGTERM in the process). It returns Run's error (nil when finished or paused).
// The state and error it serves and writes once Init or Run returned are Outcome's.
func Host(ctx context.Context, spec Spec, unit Unit, log *slog.Logger) error {
	if err := os.MkdirAll(spec.WorkDir, 0o700); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	h := &hosted{unit: unit, fallback: omserr.ComponentFailed}
	if fc, ok := unit.(FailureCoder); ok {
		h.fallback = fc.FailureCode()
	}
	srv, err := serveStatus(spec, h, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := unit.Init(ctx); err != nil {
		h.end(ctx, err)
		writeFinalStatus(spec, h.Status())
		return fmt.Errorf("init %s: %w", spec.Kind, err)
	}
	runErr := unit.Run(ctx)
	if cerr := unit.Close(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("close %s: %w", spec.Kind, cerr)
	}
	if h.end(ctx, runErr) == StatePaused {
		writeFinalStatus(spec, h.Status())
		log.Info("component paused", "kind", spec.Kind, "task", spec.TaskID)
		return nil
	}
	writeFinalStatus(spec, h.Status())
	return runErr
}

// hosted is the unit as Host serves it: its Status with the outcome set once there is one.
type hosted struct {
	unit     Unit
	fallback string

	mu    sync.Mutex
	state string // "" while Init or Run is under way
	err   *omserr.Error
}

func (h *hosted) end(ctx context.Context, err error) string {
	state, e := Outcome(ctx, err, h.fallback)
	h.mu.Lock()
	h.state, h.err = state, e
	h.mu.Unlock()
	return state
}

// Status is the unit's, with the outcome's state and error once Init or Run returned.
func (h *hosted) Status() Status {
	st := h.unit.Status()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != "" {
		st.State, st.Error = h.state, h.err
	}
	return st
}

// FinalStatusFile is written to the work dir when Run has returned: the component's last Status
// (final counts of a finished job), for the supervisor, which can no longer poll /status then.
const FinalStatusFile = "status.final.json"

func writeFinalStatus(spec Spec, st Status) {
	raw, err := json.Marshal(st)
	if err != nil {
		return
	}
	tmp := filepath.Join(spec.WorkDir, "."+FinalStatusFile+".tmp")
	if os.WriteFile(tmp, raw, 0o644) == nil {
		_ = os.Rename(tmp, filepath.Join(spec.WorkDir, FinalStatusFile))
	}
}

func serveStatus(spec Spec, h *hosted, log *slog.Logger) (*http.Server, error) {
	addr := spec.StatusAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	src, err := spec.TLSSource()
	if err != nil {
		return nil, err
	}
	ln, err := clustertls.Listen(addr, src)
	if err != nil {
		return nil, omserr.Wrap(err, omserr.StatusListen, "cannot listen on status address "+addr, "pick a free address or 127.0.0.1:0")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&statusCollector{status: h.Status, kind: spec.Kind, task: spec.TaskID})
	if in, ok := h.unit.(Instrumented); ok {
		prometheus.WrapRegistererWith(prometheus.Labels{metrics.LabelTask: spec.TaskID}, reg).MustRegister(in.Collectors()...)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", httpx.Server{}.Handle(func(*http.Request) (any, error) { return h.Status(), nil }))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Only the supervisor (a node certificate) reads a component's status and metrics.
	srv := clustertls.NewServer(clustertls.Guard(clustertls.IsNode, mux), log)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "err", err)
		}
	}()
	// Atomic write: the supervisor may read it at any moment.
	tmp := filepath.Join(spec.WorkDir, ".status.addr.tmp")
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err == nil {
		_ = os.Rename(tmp, filepath.Join(spec.WorkDir, "status.addr"))
	}
	return srv, nil
}

// statusCollector exports Status.Metrics and the lag under the names of internal/metrics at
// scrape time; the node adds the project, region and host labels when it aggregates.
type statusCollector struct {
	status     func() Status
	kind, task string
}

func (c *statusCollector) Describe(chan<- *prometheus.Desc) {} // unchecked collector

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	labels := prometheus.Labels{metrics.LabelTask: c.task}
	emit := func(s metrics.Series, v float64) {
		typ := prometheus.GaugeValue
		if s.Counter {
			typ = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(s.Name, s.Help, nil, labels), typ, v)
	}
	for name, v := range st.Metrics {
		if s, ok := metrics.StatusSeries(c.kind, name); ok {
			emit(s, v)
		}
	}
	emit(metrics.LagSeries(c.kind), st.LagSeconds)
}

// Instrumented is a Unit with Prometheus collectors of its own (histograms, per-table counters)
// that its /metrics serves beside the Status figures.
type Instrumented interface {
	Collectors() []prometheus.Collector
}

// Package supervisor is a node's host agent: it writes the node's heartbeat (CPU, memory, disk and
// its components) to the region's heartbeat database, runs the component tasks the CM assigned to
// this host as child processes of the same binary (`oms component <kind> --spec /dev/fd/3`: the
// spec with the passwords through a pipe, never in a file, argv or the environment; each child
// with a cluster certificate of its own, see internal/clustertls), restarts a crashed component with backoff, reports
// each component's /status into its task row, and kills processes it no longer owns.
//
// It talks to the MetaDB (cm tasks, heartbeat database) and to its children's status servers. A
// component dies with its node (parent-death signal, see startDiesWithUs), so nothing of a dead
// node keeps working while its tasks are placed elsewhere; fencing by epoch still stops a frozen
// or partitioned writer, and a restarted node kills what an earlier life left (killOrphans).
package supervisor

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/safepath"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/verify"
	"github.com/omsdev/oms/internal/verifyresult"
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval = time.Duration(config.DefaultHeartbeatInterval)
	DefaultPollInterval      = time.Second
	// MaxRestarts is how many consecutive crashes make a task FAILED (the project shows the error;
	// ResumeProject tries again). A component whose final status NeedsOperator is FAILED at once.
	MaxRestarts   = 8
	maxBackoff    = 30 * time.Second
	stopGrace     = 10 * time.Second
	statusTimeout = 2 * time.Second
	driveParallel = 8
)

// Options configure a supervisor.
type Options struct {
	Config     config.Config
	HostIP     string
	DataDir    string // run/<task> holds each component's spec, pid, logs and files
	Binary     string // the oms binary to re-execute (os.Executable)
	Heartbeat  time.Duration
	Poll       time.Duration
	StatusHost string // address components serve /status on (default HostIP)
	// Certs issues each component a cluster certificate (its status port and Store port serve
	// mutual TLS with it) and is the supervisor's own certificate for polling them. Nil: no
	// cluster TLS (tests of the supervisor alone).
	Certs Certs
}

// Certs is the node's cluster certificate keeper (clusterca.Keeper).
type Certs interface {
	Source() clustertls.Source
	Issuer() string
	Issue(id clustertls.Identity, hosts []string) (clustertls.Leaf, error)
}

// Supervisor runs one host's components.
type Supervisor struct {
	db    *sql.DB
	opt   Options
	hb    string
	rm    string // unquoted rm database name (verification results)
	tasks *task.Table
	keys  *secret.Keyring
	log   *slog.Logger

	mu    sync.Mutex
	procs map[string]*proc
	cpu   cpuSampler
	host  hostSample // the last heartbeat's figures, for the host collector
}

// New returns a supervisor.
func New(db *sql.DB, opt Options, keys *secret.Keyring, log *slog.Logger) *Supervisor {
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = DefaultHeartbeatInterval
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultPollInterval
	}
	if opt.StatusHost == "" {
		opt.StatusHost = opt.HostIP
	}
	n := metadb.NamesFrom(opt.Config)
	return &Supervisor{db: db, opt: opt, hb: sqlgen.QuoteIdent(n.Heartbeat), rm: n.RM, tasks: task.NewTable(db, n.CM), keys: keys, log: log, procs: map[string]*proc{}}
}

func (s *Supervisor) runDir() string { return filepath.Join(s.opt.DataDir, "run") }

// storeDir holds the Stores' work directories (their change logs): the guide's <install>/store,
// the directory to put on a large disk.
func (s *Supervisor) storeDir() string { return filepath.Join(s.opt.DataDir, "store") }

// workDirs are the parents of every task's work directory.
func (s *Supervisor) workDirs() []string { return []string{s.runDir(), s.storeDir()} }

// taskDir is a task's work directory: its id (from the MetaDB) encoded as one path element
// under the store dir for a Store, the run dir for the others, so no id can name (or remove)
// anything outside them.
func (s *Supervisor) taskDir(t task.Task) (string, error) {
	if t.Kind == task.KindStore {
		return safepath.Join(s.storeDir(), t.ID)
	}
	return safepath.Join(s.runDir(), t.ID)
}

// Run kills orphans left by an earlier life of this node, then heartbeats and reconciles until ctx
// ends; on the way out it stops its components (SIGTERM: they pause at their checkpoints).
func (s *Supervisor) Run(ctx context.Context) error {
	for _, d := range s.workDirs() {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
	}
	s.killOrphans()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.heartbeatLoop(gctx) })
	g.Go(func() error { return s.reconcileLoop(gctx) })
	err := g.Wait()
	s.stopAll()
	return err
}

func (s *Supervisor) reconcileLoop(ctx context.Context) error {
	t := time.NewTicker(s.opt.Poll)
	defer t.Stop()
	for {
		if err := s.reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("supervisor reconcile failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func specHash(t task.Task) string {
	h := sha256.Sum256(t.Spec.Config)
	return hex.EncodeToString(h[:8])
}

// reconcile makes the children match the tasks assigned to this host.
func (s *Supervisor) reconcile(ctx context.Context) error {
	tasks, err := s.tasks.OnHost(ctx, s.opt.HostIP)
	if err != nil {
		return err
	}
	mine := map[string]task.Task{}
	for _, t := range tasks {
		mine[t.ID] = t
	}
	s.mu.Lock()
	procs := make(map[string]*proc, len(s.procs))
	for k, v := range s.procs {
		procs[k] = v
	}
	s.mu.Unlock()
	plain := s.plainPeers(ctx, tasks)

	// Stop what we no longer own or should not run (each stop may wait stopGrace: in parallel).
	var stops errgroup.Group
	stops.SetLimit(driveParallel)
	for id, p := range procs {
		t, ok := mine[id]
		moved := !ok || t.Epoch != p.epoch
		plainNow, known := plain[id]
		peerChanged := known && plainNow != p.plainPeer
		if !moved && t.Desired == task.DesiredRunning && p.hash == specHash(t) && !peerChanged {
			continue
		}
		switch {
		case moved:
			s.log.Info("task no longer ours: stopping its component", "task", id, "epoch", p.epoch)
		case peerChanged:
			s.log.Info("the component's peer changed between plain HTTP and TLS: restarting it", "task", id, "plain_peer", plainNow)
		}
		stops.Go(func() error {
			p.stop()
			removeSecrets(p.workDir)
			s.forget(id)
			return nil
		})
	}
	_ = stops.Wait()
	// Each task is driven on its own (a status poll, maybe a start), up to
	// driveParallel at once: one slow component or a node that just took over dozens of tasks
	// must not make every other component wait a whole pass.
	var g errgroup.Group
	g.SetLimit(driveParallel)
	var news reports
	// A long pass (a node that just took over dozens of tasks starts them all) writes what it has
	// every reportFlushEvery, so a slow component does not hold the others' news until its end.
	passDone, flusherDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flusherDone)
		tick := time.NewTicker(reportFlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-passDone:
				return
			case <-tick.C:
				s.flush(ctx, &news)
			}
		}
	}()
	for _, t := range tasks {
		g.Go(func() error { s.reconcileTask(ctx, &news, t, plain[t.ID]); return nil })
	}
	_ = g.Wait()
	close(passDone)
	<-flusherDone
	s.flush(ctx, &news)
	return nil
}

// reportFlushEvery is how often a pass still under way writes the news it collected.
const reportFlushEvery = 250 * time.Millisecond

// flush writes the news collected so far in one statement (see reports): a task moved meanwhile
// keeps the new owner's row, and the next pass finds it gone from this host and stops its
// component.
func (s *Supervisor) flush(ctx context.Context, rs *reports) {
	rs.mu.Lock()
	list := rs.list
	rs.list = nil
	rs.mu.Unlock()
	if len(list) == 0 {
		return
	}
	if _, err := s.tasks.ReportAll(ctx, s.opt.HostIP, list); err != nil && ctx.Err() == nil {
		s.log.Warn("cannot report task status", "tasks", len(list), "err", err)
	}
}

// reports collects a pass's task reports that tell something new. A report that tells nothing
// new against the row t as the pass read it (same state, address and restarts, no news in the
// status: component.Status.NewsOver) is not written at all: an idle node's tasks cost the MetaDB
// nothing, their liveness is in the node's heartbeat (ComponentInfo.Up, SeenAt). The others go
// in one statement per pass, or per reportFlushEvery of a long pass (task.Table.ReportAll, fenced
// by host and epoch like every report): a node's news costs one statement, however many tasks
// moved their position.
type reports struct {
	mu   sync.Mutex
	list []task.Report
}

func (rs *reports) add(t task.Task, state task.State, addr string, restarts int, st *component.Status) {
	if state == t.State && restarts == t.Restarts && (addr == "" || addr == t.Addr) && !st.NewsOver(t.Status) {
		return
	}
	rs.mu.Lock()
	rs.list = append(rs.list, task.Report{ID: t.ID, Epoch: t.Epoch, State: state, Addr: addr, Restarts: restarts, Status: st})
	rs.mu.Unlock()
}

// reconcileTask brings one task of this host to its desired state.
func (s *Supervisor) reconcileTask(ctx context.Context, rs *reports, t task.Task, plainPeer bool) {
	switch t.Desired {
	case task.DesiredReleased:
		if t.State != task.Released {
			if dir, err := s.taskDir(t); err == nil {
				_ = os.RemoveAll(dir)
			}
			rs.add(t, task.Released, "", 0, nil)
		}
		return
	case task.DesiredStopped:
		if t.State != task.Stopped && t.State != task.Finished {
			rs.add(t, task.Stopped, "", 0, nil)
		}
		return
	}
	if t.State == task.Finished || t.State == task.Failed {
		s.forget(t.ID) // the row says so: the exited child needs no more attention
		return
	}
	s.mu.Lock()
	p := s.procs[t.ID]
	s.mu.Unlock()
	if p == nil {
		dir, err := s.taskDir(t)
		if err != nil {
			s.log.Error("task id unusable as a directory name", "task", t.ID, "err", err)
			return
		}
		p = s.newProc(t, dir)
		p.plainPeer = plainPeer
		s.mu.Lock()
		s.procs[t.ID] = p
		s.mu.Unlock()
	}
	s.drive(ctx, rs, t, p)
}

func (s *Supervisor) newProc(t task.Task, dir string) *proc {
	p := &proc{taskID: t.ID, project: t.ProjectID, kind: t.Kind, epoch: t.Epoch, hash: specHash(t), workDir: dir, scheme: "http"}
	if s.opt.Certs != nil {
		p.client.Transport = clustertls.Transport(s.opt.Certs.Source(), nil)
		p.scheme = "https"
	}
	return p
}

func (s *Supervisor) forget(id string) {
	s.mu.Lock()
	delete(s.procs, id)
	s.mu.Unlock()
}

// drive starts, restarts and observes one component.
func (s *Supervisor) drive(ctx context.Context, rs *reports, t task.Task, p *proc) {
	if code, exited := p.exited(); exited {
		p.readFinal()
		if code == 0 {
			st := p.lastStatus()
			if st == nil || st.State != component.StatePaused {
				if t.Kind == task.KindFullVerify {
					s.uploadVerification(ctx, t, p)
				}
				rs.add(t, task.Finished, "", p.restarts, st)
				s.log.Info("component finished", "task", t.ID, "kind", t.Kind)
				return
			}
		}
		p.restarts++
		if st := p.lastStatus(); st.NeedsOperator() {
			// A restart would meet the same error: the project shows it (and skip/retry) now.
			rs.add(t, task.Failed, "", p.restarts, st)
			s.log.Error("component failed; it needs the operator", "task", t.ID, "kind", t.Kind, "code", st.Error.Code)
			s.forget(t.ID)
			return
		}
		if p.restarts >= MaxRestarts {
			st := p.lastStatus()
			if st == nil {
				st = &component.Status{Kind: t.Kind, TaskID: t.ID, Epoch: t.Epoch, State: component.StateFailed}
			}
			if st.Error == nil {
				st.Error = omserr.New(omserr.ComponentCrashed, fmt.Sprintf("%s exited %d times in a row (last exit code %d)", t.Kind, p.restarts, code),
					"read "+filepath.Join(p.workDir, component.LogFile)+" on "+s.opt.HostIP+", fix the cause, then resume the project")
			}
			rs.add(t, task.Failed, "", p.restarts, st)
			s.log.Error("component keeps failing; giving up", "task", t.ID, "kind", t.Kind, "restarts", p.restarts)
			s.forget(t.ID)
			return
		}
		p.reset(backoff(p.restarts))
		s.log.Warn("component exited; restarting after backoff", "task", t.ID, "kind", t.Kind, "code", code, "restarts", p.restarts)
		rs.add(t, task.Assigned, "", p.restarts, p.lastStatus())
		return
	}
	if !p.started() {
		if time.Now().Before(p.notBefore) {
			return
		}
		if err := s.start(ctx, t, p); err != nil {
			p.restarts++
			p.notBefore = time.Now().Add(backoff(p.restarts))
			s.log.Error("cannot start component", "task", t.ID, "kind", t.Kind, "err", err)
			st := &component.Status{Kind: t.Kind, TaskID: t.ID, Epoch: t.Epoch, State: component.StateFailed,
				Error: omserr.New(omserr.ComponentStartFailed, err.Error(), "check that this oms binary has the component kind and the data dir is writable")}
			state := task.Assigned
			if p.restarts >= MaxRestarts {
				state = task.Failed
				s.forget(t.ID)
			}
			rs.add(t, state, "", p.restarts, st)
		}
		return
	}
	st, addr := p.poll(ctx)
	state := task.Assigned
	if st != nil {
		state = task.Running
		if st.State == component.StateRunning || st.State == component.StateFinished {
			p.healthySince()
		}
	}
	rs.add(t, state, addr, p.restarts, st)
	if err := s.renewCert(t, p); err != nil {
		s.log.Warn("cannot renew the component's cluster certificate; retrying", "task", t.ID, "err", err)
	}
}

func backoff(n int) time.Duration {
	d := time.Second << min(n, 6)
	return min(d, maxBackoff)
}

// start issues the component's certificate and starts the child; its spec (passwords opened)
// goes through a pipe, never into a file or the environment.
func (s *Supervisor) start(ctx context.Context, t task.Task, p *proc) error {
	if err := os.MkdirAll(p.workDir, 0o700); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	_ = os.Chmod(p.workDir, 0o700) // a work dir of an older version may be 0755
	cfg, err := s.keys.OpenJSON(t.Spec.Config)
	if err != nil {
		return err
	}
	cfg = s.fillListen(cfg)
	spec := component.Spec{Kind: t.Kind, TaskID: t.ID, Epoch: t.Epoch, StatusAddr: s.opt.StatusHost + ":0", WorkDir: p.workDir, Config: cfg, PlainPeer: p.plainPeer}
	if t.Kind == task.KindStore {
		// A Store that moved here has no log: it starts where its consumers are (the MetaDB
		// knows), not at the project's start.
		if spec.ConsumerPositions, err = s.tasks.ConsumerPositions(ctx, t); err != nil {
			return fmt.Errorf("read the store's consumer positions: %w", err)
		}
	}
	if s.opt.Certs != nil {
		p.certIssuer = ""
		if err := s.renewCert(t, p); err != nil {
			return err
		}
		files := clustertls.FilesIn(certDir(p.workDir))
		spec.TLS = &files
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	_ = os.Remove(filepath.Join(p.workDir, "spec.json")) // written by older versions
	_ = os.Remove(filepath.Join(p.workDir, "status.addr"))
	_ = os.Remove(filepath.Join(p.workDir, component.FinalStatusFile))
	if err := p.launch(s.opt.Binary, raw); err != nil {
		return err
	}
	s.log.Info("component started", "task", t.ID, "kind", t.Kind, "epoch", t.Epoch, "pid", p.pid())
	return nil
}

func certDir(workDir string) string { return filepath.Join(workDir, "tls") }

// removeSecrets deletes what a stopped or moved component leaves that an attacker on this host
// could use: its certificate and key, and a spec file of an older version (with passwords).
func removeSecrets(workDir string) {
	_ = os.RemoveAll(certDir(workDir))
	_ = os.Remove(filepath.Join(workDir, "spec.json"))
}

// renewCert (re)issues the component's certificate when it has none, the cluster CA was rotated,
// or it nears its end; the running component re-reads the files.
func (s *Supervisor) renewCert(t task.Task, p *proc) error {
	if s.opt.Certs == nil {
		return nil
	}
	issuer := s.opt.Certs.Issuer()
	if p.certIssuer == issuer && time.Until(p.certNotAfter) > clusterca.RenewBefore {
		return nil
	}
	leaf, err := s.opt.Certs.Issue(clustertls.Task(t.ID), []string{s.opt.StatusHost})
	if err != nil {
		return err
	}
	dir := certDir(p.workDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := clustertls.FilesIn(dir).Write(leaf); err != nil {
		return err
	}
	p.certIssuer, p.certNotAfter = issuer, leaf.NotAfter
	return nil
}

// fillListen gives a config's empty or host-less listen address ("listen", "listen_addr") this
// node's IP, so a Store serves where Incr-Sync on another node can reach it.
func (s *Supervisor) fillListen(cfg []byte) []byte {
	var m map[string]any
	if json.Unmarshal(cfg, &m) != nil {
		return cfg
	}
	changed := false
	for _, key := range []string{"listen", "listen_addr"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		if str, _ := v.(string); str == "" || str[0] == ':' || strings.HasPrefix(str, "0.0.0.0:") {
			port := "0"
			if i := strings.LastIndexByte(str, ':'); i >= 0 {
				port = str[i+1:]
			}
			m[key] = net.JoinHostPort(s.opt.StatusHost, port)
			changed = true
		}
	}
	if !changed {
		return cfg
	}
	out, err := json.Marshal(m)
	if err != nil {
		return cfg
	}
	return out
}

func (s *Supervisor) stopAll() {
	s.mu.Lock()
	procs := s.procs
	s.procs = map[string]*proc{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// ComponentInfo is one child as /supervisor/components shows it.
type ComponentInfo struct {
	TaskID   string `json:"task_id"`
	Kind     string `json:"kind"`
	Epoch    int64  `json:"epoch"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	// Up: the component answered its last status poll; SeenAt: when one last answered (this
	// node's clock, like the heartbeat's node_time). The node's heartbeat carries them: an idle
	// task's row is not rewritten, so a reader that asks whether the component is alive now (the
	// lag alert) reads them there (task.LiveIn).
	Up     bool              `json:"up"`
	SeenAt time.Time         `json:"seen_at,omitzero"`
	Status *component.Status `json:"status,omitempty"`
}

// Components lists the children.
func (s *Supervisor) Components() []ComponentInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ComponentInfo, 0, len(s.procs))
	for _, p := range s.procs {
		up, seen := p.answering()
		out = append(out, ComponentInfo{TaskID: p.taskID, Kind: p.kind, Epoch: p.epoch, PID: p.pid(), Restarts: p.restarts, Up: up, SeenAt: seen, Status: p.lastStatus()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out
}

// Handler serves GET /supervisor/health (up to anyone, details to nodes) and GET
// /supervisor/components (nodes only).
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /supervisor/health", clustertls.Health(func(*http.Request) (map[string]any, error) {
		return map[string]any{"host": s.opt.HostIP, "components": len(s.Components())}, nil
	}))
	mux.Handle("GET /supervisor/components", clustertls.Guard(clustertls.IsNode, httpx.Server{}.Handle(func(*http.Request) (any, error) {
		return s.Components(), nil
	})))
	mux.Handle("GET "+component.LogTailPath, clustertls.Guard(clustertls.IsNode, httpx.Server{}.Handle(s.logTail)))
	return mux
}

// uploadVerification stores a finished full verification's report and fix SQL in the MetaDB so
// every node's OpenAPI serves them (the component, data plane, only writes files). A failure is
// retried a few times, then logged: the files stay in the output dir on this host.
func (s *Supervisor) uploadVerification(ctx context.Context, t task.Task, p *proc) {
	var cfg verify.Config
	raw, err := s.keys.OpenJSON(t.Spec.Config)
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if err != nil {
		s.log.Error("cannot read the verification spec; its result is not uploaded", "task", t.ID, "err", err)
		return
	}
	dir := cfg.OutputDirIn(p.workDir)
	for attempt := 1; ; attempt++ {
		err = verifyresult.Store(ctx, s.db, s.rm, t.ProjectID, t.ID, s.opt.HostIP, dir)
		if err == nil {
			s.log.Info("verification result uploaded", "task", t.ID, "project", t.ProjectID)
			return
		}
		if attempt == 3 || ctx.Err() != nil {
			s.log.Error("cannot upload the verification result; it stays in the output dir", "task", t.ID, "dir", dir, "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
}

package supervisor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/task"
)

// fakeUnit runs until paused, or, with fail_code in its config, fails at once with that code
// (at source transaction stopped_at when given), as Incr-Sync does at a row the target refuses.
type fakeUnit struct {
	spec component.Spec
	cfg  fakeConfig
}

type fakeConfig struct {
	FailCode  string `json:"fail_code"`
	StoppedAt string `json:"stopped_at"`
}

func (u fakeUnit) Init(context.Context) error { return nil }
func (u fakeUnit) Run(ctx context.Context) error {
	if u.cfg.FailCode != "" {
		return omserr.New(u.cfg.FailCode, "the fake component fails", "nothing")
	}
	<-ctx.Done()
	return ctx.Err()
}
func (u fakeUnit) Close() error { return nil }

// Status reports RUNNING at the position written in the work dir's file "position" (a test moves
// it), with a lag that jitters below a second like an idle Incr-Sync's between Store heartbeats.
func (u fakeUnit) Status() component.Status {
	pos, _ := os.ReadFile(filepath.Join(u.spec.WorkDir, "position"))
	return component.Status{Kind: u.spec.Kind, TaskID: u.spec.TaskID, Epoch: u.spec.Epoch, State: component.StateRunning,
		StoppedAt: u.cfg.StoppedAt, Position: string(pos), LagSeconds: float64(time.Now().Nanosecond()) / 1e9, UpdatedAt: time.Now()}
}

func runFakeComponent(specPath string) int {
	spec, err := component.ReadSpec(specPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// What a real component does with its spec: the password reaches it (through the pipe).
	if !bytes.Contains(spec.Config, []byte(dsPassword)) {
		fmt.Fprintln(os.Stderr, "the spec has no password")
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var cfg fakeConfig
	_ = json.Unmarshal(spec.Config, &cfg)
	if err := component.Host(ctx, spec, fakeUnit{spec, cfg}, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// assignFake creates a task of the fake kind with cfg and assigns it to 127.0.0.1.
func assignFake(t *testing.T, tasks *task.Table, id string, cfg map[string]any) {
	t.Helper()
	ctx := context.Background()
	if err := tasks.Ensure(ctx, id, "p1", "fake", "r1", cfg); err != nil {
		t.Fatal(err)
	}
	tk, _, err := tasks.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tasks.Assign(ctx, tk, "127.0.0.1"); err != nil || !ok {
		t.Fatalf("assign %s: %v %v", id, ok, err)
	}
}

// freshMetaDB is a migrated MetaDB with its data-source keys.
func freshMetaDB(t *testing.T) (metadbtest.MetaDB, *secret.Keyring) {
	t.Helper()
	m := metadbtest.Fresh(t)
	keys, err := secret.Load(context.Background(), m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	return m, keys
}

const (
	dsPassword    = "ds-Pa55word-in-spec"
	adminPassword = "admin-Pa55word-in-env"
)

// TestComponentSecretsAndTLS: a component the supervisor starts gets its passwords through a
// pipe (no file on the host holds them), none of the node's secrets in its environment, a
// certificate of its own (0600 in a 0700 dir) and a status port that refuses plain HTTP and
// strangers but answers the supervisor; when its task moves to another host, its certificate
// and key are gone from the old host.
func TestComponentSecretsAndTLS(t *testing.T) {
	t.Setenv("OMS_ADMIN_PASSWORD", adminPassword)
	t.Setenv("OMS_PASSWORD", adminPassword)
	t.Setenv("OMS_SSH_PASSWORD", adminPassword)
	m, keys := freshMetaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	certs, err := clusterca.NewKeeper(ctx, m.DB, m.Names.CM, keys, "127.0.0.1", clusterca.OperatorCert{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	tasks := task.NewTable(m.DB, m.Names.CM)
	if err := tasks.Ensure(ctx, "t1", "p1", "fake", "r1", map[string]any{"source": map[string]any{"password": keys.SealString(dsPassword)}}); err != nil {
		t.Fatal(err)
	}
	tk, _, err := tasks.Get(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tasks.Assign(ctx, tk, "127.0.0.1"); err != nil || !ok {
		t.Fatalf("assign: %v %v", ok, err)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	cfg := config.Config{MetaHost: "127.0.0.1", CMDB: m.Names.CM, HeartbeatDB: m.Names.Heartbeat, RMDB: m.Names.RM, CMRegion: "r1"}
	sup := New(m.DB, Options{Config: cfg, HostIP: "127.0.0.1", DataDir: dataDir, Binary: bin, Poll: 200 * time.Millisecond, Certs: certs}, keys, slog.Default())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	defer func() { stop(); <-done }()

	// The supervisor polls the child's status over mutual TLS: RUNNING in the task row.
	var running task.Task
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		running, _, err = tasks.Get(ctx, "t1")
		if err == nil && running.State == task.Running {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dataDir, "run", "t1", "component.log"))
			t.Fatalf("task never RUNNING (state %s, err %v); component log:\n%s", running.State, err, log)
		}
	}
	work := filepath.Join(dataDir, "run", "t1")
	raw, err := os.ReadFile(filepath.Join(work, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(raw))[0])
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(environ, []byte(adminPassword)) || bytes.Contains(environ, []byte("OMS_ADMIN_PASSWORD")) {
		t.Errorf("the child's environment holds the node's secrets: %q", environ)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if bytes.Contains(cmdline, []byte(dsPassword)) {
		t.Errorf("password on the command line: %q", cmdline)
	}
	assertNoFileHolds(t, dataDir, dsPassword)
	for path, want := range map[string]fs.FileMode{work: 0o700, filepath.Join(work, "tls"): 0o700, filepath.Join(work, "tls", "key.pem"): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %o", path, st.Mode(), err, want)
		}
	}

	// The status port: plain HTTP and strangers get nothing, the node's certificate works.
	addr, _ := os.ReadFile(filepath.Join(work, "status.addr"))
	if resp, err := http.Get("http://" + string(addr) + "/status"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || bytes.Contains(b, []byte("RUNNING")) {
			t.Errorf("plain HTTP status: %d %s", resp.StatusCode, b)
		}
	}
	a, _ := clusterca.Load(ctx, m.DB, m.Names.CM, keys)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Pool(), MinVersion: tls.VersionTLS12}}}
	if resp, err := anon.Get("https://" + string(addr) + "/status"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status without a client certificate: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// Failover: the task moves to another host. The old host stops the child and keeps no key.
	if _, ok, err := tasks.Assign(ctx, running, "127.0.0.9"); err != nil || !ok {
		t.Fatalf("move: %v %v", ok, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, statErr := os.Stat(filepath.Join(work, "tls"))
		if os.IsNotExist(statErr) && syscall.Kill(pid, 0) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the move: tls dir %v, child alive %v", statErr, syscall.Kill(pid, 0) == nil)
		}
	}
	assertNoFileHolds(t, dataDir, dsPassword)
	assertNoFileHolds(t, dataDir, "PRIVATE KEY")
}

func assertNoFileHolds(t *testing.T, dir, secret string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds %q", path, secret)
		}
		return nil
	})
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "OMS_ADMIN_PASSWORD=x", "OMS_PASSWORD=y", "LC_ALL=C", "HOME=/root", "AWS_SECRET_ACCESS_KEY=z", "OMS_HOST_IP=1.2.3.4"})
	if strings.Join(got, " ") != "PATH=/bin LC_ALL=C HOME=/root" {
		t.Errorf("childEnv = %v", got)
	}
}

// TestFailureNeedingOperatorIsFailedAtOnce: a component that stops at a source transaction (what
// the operator's "skip the event" skips) or with a permanent code is FAILED after its first exit,
// with its error, not restarted MaxRestarts times over minutes; one that cannot reach its target
// is restarted with backoff.
func TestFailureNeedingOperatorIsFailedAtOnce(t *testing.T) {
	m, keys := freshMetaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tasks := task.NewTable(m.DB, m.Names.CM)
	failing := map[string]fakeConfig{
		"at-event":  {FailCode: omserr.IncrApplyFailed, StoppedAt: "0-1-42"},
		"permanent": {FailCode: omserr.StoreBinlogOff},
		"transient": {FailCode: omserr.IncrTargetUnreachable},
	}
	for id, fc := range failing {
		assignFake(t, tasks, id, map[string]any{"source": map[string]any{"password": keys.SealString(dsPassword)}, "fail_code": fc.FailCode, "stopped_at": fc.StoppedAt})
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{MetaHost: "127.0.0.1", CMDB: m.Names.CM, HeartbeatDB: m.Names.Heartbeat, RMDB: m.Names.RM, CMRegion: "r1"}
	sup := New(m.DB, Options{Config: cfg, HostIP: "127.0.0.1", DataDir: t.TempDir(), Binary: bin, Poll: 200 * time.Millisecond}, keys, slog.Default())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	defer func() { stop(); <-done }()

	get := func(id string) task.Task {
		tk, _, err := tasks.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	// The backoff before a third start is 2 s + 4 s: the transient one has been restarted twice
	// well before 30 s, while the others must be FAILED after their first exit.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		a, p, tr := get("at-event"), get("permanent"), get("transient")
		if a.State == task.Failed && p.State == task.Failed && tr.Restarts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: at-event %s (restarts %d), permanent %s (restarts %d), transient %s (restarts %d)",
				a.State, a.Restarts, p.State, p.Restarts, tr.State, tr.Restarts)
		}
	}
	for id, fc := range failing {
		tk := get(id)
		if id == "transient" {
			if tk.State == task.Failed {
				t.Errorf("transient failure: FAILED after %d restarts, want restarts up to %d", tk.Restarts, MaxRestarts)
			}
			continue
		}
		if tk.Restarts != 1 || tk.Status == nil || tk.Status.Error == nil || tk.Status.Error.Code != fc.FailCode || tk.Status.StoppedAt != fc.StoppedAt {
			t.Errorf("%s: restarts %d, status %+v; want FAILED after one exit with code %s at %q", id, tk.Restarts, tk.Status, fc.FailCode, fc.StoppedAt)
		}
	}
}

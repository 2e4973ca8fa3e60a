package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// process is `oms component <kind> --spec` as a real child process, restartable after a kill.
type process struct {
	t          *testing.T
	kind, dir  string
	cmd        *exec.Cmd
	exited     chan struct{}
	runs       int
	statusHTTP http.Client
}

func newProcess(t *testing.T, kind, task string, config any) *process {
	t.Helper()
	p := &process{t: t, kind: kind, dir: t.TempDir(), statusHTTP: http.Client{Timeout: 5 * time.Second}}
	p.writeSpec(task, config)
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

// writeSpec (re)writes the spec; the next start reads it.
func (p *process) writeSpec(task string, config any) {
	p.t.Helper()
	raw, err := json.Marshal(config)
	if err != nil {
		p.t.Fatal(err)
	}
	spec := component.Spec{Kind: p.kind, TaskID: task, Epoch: 1, StatusAddr: "127.0.0.1:0", WorkDir: p.dir, Config: raw}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(p.dir, "spec.json"), b, 0o600); err != nil {
		p.t.Fatal(err)
	}
}

func (p *process) start() {
	p.t.Helper()
	for _, f := range []string{"status.addr", component.FinalStatusFile} {
		_ = os.Remove(filepath.Join(p.dir, f)) // a killed run's address and outcome are stale
	}
	p.runs++
	logf, err := os.Create(p.logPath())
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(testenv.OMSBinary(p.t), "component", p.kind, "--spec", filepath.Join(p.dir, "spec.json"))
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(p.cmd, p.exited)
}

func (p *process) logPath() string { return filepath.Join(p.dir, fmt.Sprintf("run%d.log", p.runs)) }

func (p *process) kill(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// running says whether the process has not exited.
func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// status is the live /status, or after the process ended its final status; ok false while
// neither is there yet.
func (p *process) status() (st component.Status, ok bool) {
	if !p.running() {
		b, err := os.ReadFile(filepath.Join(p.dir, component.FinalStatusFile))
		return st, err == nil && json.Unmarshal(b, &st) == nil
	}
	addr, err := os.ReadFile(filepath.Join(p.dir, "status.addr"))
	if err != nil {
		return st, false
	}
	resp, err := p.statusHTTP.Get("http://" + strings.TrimSpace(string(addr)) + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

func (p *process) logTail() string { return scenario.Tail(p.logPath(), 3000) }

package scenario

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
)

// ComponentProcess is `oms component <kind> --spec` as a real child process of a test, restartable
// after a kill from the same spec and work directory, as a supervisor restarts it. Each run logs
// to its own file (run1.log, run2.log...).
type ComponentProcess struct {
	t      testing.TB
	Kind   string
	Dir    string // the work directory (spec.json, status.addr, the component's own files)
	cmd    *exec.Cmd
	exited chan struct{}
	runs   int
	client http.Client
}

// NewComponentProcess writes the spec of task (config is the component's Config) into a fresh work
// directory; the process is killed when the test ends.
func NewComponentProcess(t testing.TB, kind, task string, config any) *ComponentProcess {
	t.Helper()
	c := &ComponentProcess{t: t, Kind: kind, Dir: t.TempDir(), client: http.Client{Timeout: 5 * time.Second}}
	c.WriteSpec(task, config)
	t.Cleanup(func() { c.Kill(syscall.SIGKILL) })
	return c
}

// WriteSpec (re)writes the spec; the next Start reads it.
func (c *ComponentProcess) WriteSpec(task string, config any) {
	c.t.Helper()
	raw, err := json.Marshal(config)
	if err != nil {
		c.t.Fatal(err)
	}
	spec := component.Spec{Kind: c.Kind, TaskID: task, Epoch: 1, StatusAddr: "127.0.0.1:0", WorkDir: c.Dir, Config: raw}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(c.SpecPath(), b, 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// SpecPath is where the spec is.
func (c *ComponentProcess) SpecPath() string { return filepath.Join(c.Dir, "spec.json") }

// Start runs the component once more.
func (c *ComponentProcess) Start() {
	c.t.Helper()
	for _, f := range []string{"status.addr", component.FinalStatusFile} {
		_ = os.Remove(filepath.Join(c.Dir, f)) // a killed run's address and outcome are stale
	}
	c.runs++
	logf, err := os.Create(c.LogPath())
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(testenv.OMSBinary(c.t), "component", c.Kind, "--spec", c.SpecPath())
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test binary
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(c.cmd, c.exited)
}

// Kill sends sig and waits for the process to end (SIGKILL after 20 s).
func (c *ComponentProcess) Kill(sig syscall.Signal) {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// Running says whether the last run has not ended.
func (c *ComponentProcess) Running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Status is the live /status, or after the process ended its final status; ok is false while
// neither is there yet.
func (c *ComponentProcess) Status() (st component.Status, ok bool) {
	if !c.Running() {
		b, err := os.ReadFile(filepath.Join(c.Dir, component.FinalStatusFile))
		return st, err == nil && json.Unmarshal(b, &st) == nil
	}
	addr, err := os.ReadFile(filepath.Join(c.Dir, "status.addr"))
	if err != nil {
		return st, false
	}
	resp, err := c.client.Get("http://" + strings.TrimSpace(string(addr)) + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

// WaitStatus polls Status until cond holds; it fails the test if the process ends first or the
// deadline passes, with the log's tail.
func (c *ComponentProcess) WaitStatus(d time.Duration, what string, cond func(component.Status) bool) component.Status {
	c.t.Helper()
	var st component.Status
	WaitFor(c.t, d, what, func() (bool, string) {
		var ok bool
		st, ok = c.Status()
		if !c.Running() && !(ok && cond(st)) {
			c.t.Fatalf("%s process ended while waiting for %s:\n%s", c.Kind, what, c.LogTail())
		}
		return ok && cond(st), fmt.Sprintf("%+v", st)
	})
	return st
}

// LogPath is the log file of the last run.
func (c *ComponentProcess) LogPath() string {
	return filepath.Join(c.Dir, fmt.Sprintf("run%d.log", c.runs))
}

// LogTail is the last 3000 bytes of the last run's log.
func (c *ComponentProcess) LogTail() string { return Tail(c.LogPath(), 3000) }

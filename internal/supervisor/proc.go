package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/omsdev/oms/internal/component"
)

// proc is one child component process of a task at one epoch. Its fields other than the
// mutex-guarded ones are only touched by the reconcile goroutine.
type proc struct {
	taskID, project, kind, hash, workDir string
	epoch                                int64
	restarts                             int
	notBefore                            time.Time
	scheme                               string    // of the status URL: https with cluster TLS
	certIssuer                           string    // CA fingerprint of the component's certificate
	certNotAfter                         time.Time // its expiry
	plainPeer                            bool      // component.Spec.PlainPeer it was started with

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process was reaped
	exitCode int
	status   *component.Status
	up       bool      // the last status poll answered
	seenAt   time.Time // when a status poll last answered
	addr     string
	client   http.Client
}

func (p *proc) started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// exited reports whether the started process ended, and its exit code.
func (p *proc) exited() (int, bool) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return 0, false
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.exitCode, true
	default:
		return 0, false
	}
}

// reset forgets the ended process so the next reconcile starts a new one after delay.
func (p *proc) reset(delay time.Duration) {
	p.mu.Lock()
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	p.notBefore = time.Now().Add(delay)
	_ = os.Remove(filepath.Join(p.workDir, "pid"))
}

func (p *proc) healthySince() {
	// A component that reports RUNNING again has recovered: its crash count starts over.
	p.restarts = 0
}

// readFinal takes the status the component wrote when its Run returned, if any.
func (p *proc) readFinal() {
	raw, err := os.ReadFile(filepath.Join(p.workDir, component.FinalStatusFile))
	if err != nil {
		return
	}
	var st component.Status
	if json.Unmarshal(raw, &st) == nil {
		p.mu.Lock()
		p.status = &st
		p.mu.Unlock()
	}
}

func (p *proc) lastStatus() *component.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// specFD is the descriptor a child reads its spec from (`--spec /dev/fd/3`): a pipe, so the
// passwords in it are never in a file on this host.
const specFD = 3

// launch starts `oms component <kind> --spec /dev/fd/3` in its own process group (a signal to
// the node's terminal does not reach it) with the work dir as its current directory (how
// killOrphans recognises it), the spec written into the pipe, a scrubbed environment (childEnv)
// and output to component.log. The child dies with the node (parent-death signal SIGKILL): a
// component of a dead node must not keep working while its task is placed elsewhere.
func (p *proc) launch(binary string, spec []byte) error {
	logf, err := os.OpenFile(filepath.Join(p.workDir, component.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open component log: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return fmt.Errorf("spec pipe: %w", err)
	}
	cmd := exec.Command(binary, "component", p.kind, "--spec", fmt.Sprintf("/dev/fd/%d", specFD))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = p.workDir
	cmd.Env = childEnv(os.Environ())
	cmd.ExtraFiles = []*os.File{pr} // fd 3
	if err := startDiesWithUs(cmd); err != nil {
		logf.Close()
		pr.Close()
		pw.Close()
		return fmt.Errorf("start %s: %w", p.kind, err)
	}
	pr.Close()
	go func() {
		// The child reads it at once; if it died first the write fails and its exit is reported.
		_, _ = pw.Write(spec)
		pw.Close()
	}()
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.status, p.addr, p.up = cmd, done, nil, "", false
	p.mu.Unlock()
	_ = os.WriteFile(filepath.Join(p.workDir, "pid"), []byte(fmt.Sprintf("%d %d\n", cmd.Process.Pid, p.epoch)), 0o600)
	// The reaper: Wait's error is the exit status, recorded for drive.
	go func() {
		err := cmd.Wait()
		logf.Close()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		p.mu.Lock()
		p.exitCode = code
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// stop sends SIGTERM (the component pauses at its checkpoint), then SIGKILL after stopGrace.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopGrace):
		_ = cmd.Process.Kill()
		<-done
	}
	_ = os.Remove(filepath.Join(p.workDir, "pid"))
}

// poll reads the component's /status; addr is where it serves consumers (serve.addr or
// store.addr when the component writes one, else its status address).
func (p *proc) poll(ctx context.Context) (*component.Status, string) {
	p.mu.Lock()
	addr := p.addr
	p.mu.Unlock()
	if addr == "" {
		raw, err := os.ReadFile(filepath.Join(p.workDir, "status.addr"))
		if err != nil {
			return nil, ""
		}
		addr = strings.TrimSpace(string(raw))
	}
	serve := addr
	for _, f := range []string{"serve.addr", "store.addr"} {
		if raw, err := os.ReadFile(filepath.Join(p.workDir, f)); err == nil {
			serve = strings.TrimSpace(string(raw))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, p.scheme+"://"+addr+"/status", nil)
	st, err := p.fetchStatus(req)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = err == nil
	if err != nil {
		return p.status, serve
	}
	p.status, p.addr, p.seenAt = st, addr, time.Now()
	return st, serve
}

func (p *proc) fetchStatus(req *http.Request) (*component.Status, error) {
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var st component.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// answering reports whether the component answered its last status poll, and when one last
// answered.
func (p *proc) answering() (bool, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up, p.seenAt
}

// killOrphans stops component processes recorded in the run dir by an earlier life of this node
// that survived it (the parent-death signal covers a node that dies, not one whose children were
// re-parented some other way, e.g. a node started by an older version): nothing in this process
// owns them, and the tasks they served were either moved (they are
// fenced) or will be started again by reconcile from their checkpoints.
func (s *Supervisor) killOrphans() {
	for _, parent := range s.workDirs() {
		s.killOrphansIn(parent)
	}
}

func (s *Supervisor) killOrphansIn(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		dir := filepath.Join(parent, e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "pid"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(raw))
		if len(fields) == 0 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || !isComponentOf(pid, dir) {
			_ = os.Remove(filepath.Join(dir, "pid"))
			continue
		}
		s.log.Warn("killing orphan component left by an earlier run of this node", "pid", pid, "task", e.Name())
		// Its own process group (Setpgid) goes with it: anything the component started.
		target := pid
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			target = -pid
		}
		_ = syscall.Kill(target, syscall.SIGTERM)
		deadline := time.Now().Add(stopGrace)
		for time.Now().Before(deadline) && isComponentOf(pid, dir) {
			time.Sleep(100 * time.Millisecond)
		}
		if isComponentOf(pid, dir) {
			_ = syscall.Kill(target, syscall.SIGKILL)
		}
		_ = os.Remove(filepath.Join(dir, "pid"))
	}
	// Whatever is still assigned here starts again with a fresh certificate.
	for _, e := range entries {
		removeSecrets(filepath.Join(parent, e.Name()))
	}
}

// childEnvKeep are the variables a component inherits from the node; everything else (the admin
// password, OMS_PASSWORD, SSH passwords, any token) stays with the node.
var childEnvKeep = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "GOCOVERDIR", "GODEBUG", "GOGC", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK"}

// childEnv is env reduced to childEnvKeep and LC_*.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LC_") || slices.Contains(childEnvKeep, k) {
			out = append(out, kv)
		}
	}
	return out
}

// isComponentOf reports whether pid is alive and an `oms component ...` whose current directory
// is dir, or which names <dir>/spec.json (older versions) — so a reused pid of an unrelated process
// is never killed.
func isComponentOf(pid int, dir string) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
			return false
		}
	}
	args := strings.Split(string(raw), "\x00")
	if len(args) <= 3 || args[1] != "component" {
		return false
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && cwd == dir {
		return true
	}
	return strings.Contains(string(raw), filepath.Join(dir, "spec.json"))
}

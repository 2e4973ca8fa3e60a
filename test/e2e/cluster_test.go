// Package e2e holds end-to-end scenarios that start the real oms binary: several `oms node`
// processes on one MetaDB, real MariaDB sources and targets, the OpenAPI and the CLI.
package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const adminPassword = "e2e-admin-pw"

// node is one `oms node` process.
type node struct {
	ip                           string
	consolePort, cmPort, supPort int
	dataDir, logPath, configPath string
	flags                        []string // extra flags of every start
	cmd                          *exec.Cmd
	done                         chan struct{}
}

func (n *node) url() string { return fmt.Sprintf("http://%s:%d", n.ip, n.consolePort) }

// writeConfig writes a one-region config.yaml for the nodes ips on MetaDB meta.
func writeConfig(t *testing.T, dir string, meta *testenv.Instance, prefix string, ips []string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "oms_meta_host: 127.0.0.1\noms_meta_port: %d\noms_meta_user: root\noms_meta_password: ''\n", meta.Port)
	fmt.Fprintf(&b, "drc_rm_db: %s_rm\ndrc_cm_db: %s_cm\ndrc_cm_heartbeat_db: %s_cm_hb\n", prefix, prefix, prefix)
	b.WriteString("cm_url: http://127.0.0.1:8088\ncm_location: 1\ncm_region: cn-hangzhou\ncm_region_cn: cn-hangzhou\ncm_is_default: true\ncm_nodes:\n")
	for _, ip := range ips {
		fmt.Fprintf(&b, " - %s\n", ip)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newNode(t *testing.T, dir, configPath, ip string) *node {
	t.Helper()
	n := &node{ip: ip, consolePort: testenv.FreePort(t), cmPort: testenv.FreePort(t), supPort: testenv.FreePort(t), configPath: configPath,
		dataDir: filepath.Join(dir, "node-"+ip), logPath: filepath.Join(dir, "node-"+ip+".log")}
	return n
}

// start runs the node and waits until its console and CM answer.
func (n *node) start(t *testing.T) { n.startWith(t, "http") }

// startWith starts the node with extra flags; scheme is the console's (https with a certificate).
func (n *node) startWith(t *testing.T, scheme string, extra ...string) {
	t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"node", "-c", n.configPath, "--host-ip", n.ip, "--data-dir", n.dataDir,
		"--console-port", strconv.Itoa(n.consolePort), "--cm-port", strconv.Itoa(n.cmPort), "--supervisor-port", strconv.Itoa(n.supPort)}, append(n.flags, extra...)...)
	cmd := exec.Command(testenv.OMSBinary(t), args...)
	cmd.Env = append(os.Environ(), "OMS_ADMIN_PASSWORD="+adminPassword)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // an interrupted test (or benchmark) leaves no node behind
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	done := n.done
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() { n.stop() })
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed test certificate
	scenario.WaitFor(t, 60*time.Second, "node "+n.ip+" healthy", func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("node %s exited during start:\n%s", n.ip, n.logTail())
		default:
		}
		for _, u := range []string{fmt.Sprintf("%s://%s:%d/oms/health", scheme, n.ip, n.consolePort), fmt.Sprintf("https://%s:%d/cm/health", n.ip, n.cmPort), fmt.Sprintf("https://%s:%d/supervisor/health", n.ip, n.supPort)} {
			resp, err := client.Get(u)
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return false, u + ": " + resp.Status
			}
		}
		return true, ""
	})
}

func (n *node) kill9() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

func (n *node) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.kill9()
	}
}

func (n *node) logTail() string { return scenario.Tail(n.logPath, 6000) }

// killComponentsUnder kills every `oms component` process whose spec lies under dir (orphans of
// killed nodes), so a test leaves nothing running.
func killComponentsUnder(dir string) {
	for _, pid := range componentPIDs(dir, "") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// componentPIDs lists live `oms component [kind]` processes with a spec under dir.
func componentPIDs(dir, kind string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		args := strings.Split(string(raw), "\x00")
		if len(args) < 5 || args[1] != "component" || (kind != "" && args[2] != kind) {
			continue
		}
		// The supervisor runs each child in its task dir (spec through a pipe, --spec /dev/fd/3).
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.HasPrefix(args[4], dir+"/") || strings.HasPrefix(cwd, dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// cluster is a MetaDB and two nodes of one region.
type cluster struct {
	dir   string
	nodes []*node
	cli   *api.Client
}

func startCluster(t *testing.T, meta *testenv.Instance, ips ...string) *cluster {
	t.Helper()
	return startClusterWith(t, meta, clusterOpts{}, ips...)
}

// clusterOpts adds lines to the nodes' config.yaml and flags to every node start.
type clusterOpts struct {
	config string
	flags  []string
}

func startClusterWith(t *testing.T, meta *testenv.Instance, o clusterOpts, ips ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { killComponentsUnder(dir) })
	prefix := fmt.Sprintf("e2e%d", time.Now().UnixNano()%1_000_000)
	cfg := writeConfig(t, dir, meta, prefix, ips)
	if o.config != "" {
		f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString(o.config)
		f.Close()
	}
	c := &cluster{dir: dir}
	for _, ip := range ips {
		n := newNode(t, dir, cfg, ip)
		n.flags = o.flags
		n.start(t)
		c.nodes = append(c.nodes, n)
	}
	c.cli = api.NewClient(c.nodes[0].url(), "admin", adminPassword, false)
	scenario.LogsOnFailure(t, 4000, filepath.Join(dir, "node-*.log"), filepath.Join(dir, "node-*", "run", "*", "component.log"), filepath.Join(dir, "node-*", "store", "*", "component.log"))
	return c
}

func (c *cluster) nodeByIP(ip string) *node {
	for _, n := range c.nodes {
		if n.ip == ip {
			return n
		}
	}
	return nil
}

// runCLI runs the real binary with the cluster's credentials.
func (c *cluster) runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.OMSBinary(t), args...)
	cmd.Env = append(os.Environ(), "OMS_SERVER="+c.nodes[0].url(), "OMS_USER=admin", "OMS_PASSWORD="+adminPassword)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

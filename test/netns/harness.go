// Package netns builds hosts for end-to-end tests as Linux network namespaces on one machine:
// one bridge per region in the root namespace (which routes between regions and holds the region
// VIPs), one namespace per host joined by a veth pair, sshd in each host, per-host /etc/hosts
// (ip netns exec bind-mounts /etc/netns/<ns>/hosts); the inter-region path goes through
// internal/testenv/latency. Everything it creates is removed in t.Cleanup, also when the test fails.
package netns

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/testenv"
)

// Net is one test's set of namespaces and bridges.
type Net struct {
	t       testing.TB
	id      string // short unique tag in every name (interface names have 15 characters)
	Dir     string
	Octet   int // 10.<Octet>.<region>.<host>
	bridges []string
	hosts   []*Host
	procs   []*exec.Cmd
	fwd     string // ip_forward before the test
}

// Host is one host namespace.
type Host struct {
	Name   string // namespace name
	IP     string
	Region int
}

// Skip reasons are checked in this order; each names what is missing.
func requirements() string {
	if os.Geteuid() != 0 {
		return "needs root (ip netns, veth, bridges)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs the ip command (iproute2)"
	}
	probe := fmt.Sprintf("omsprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return "ip netns is not available here: " + strings.TrimSpace(string(out))
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
	return ""
}

// New returns an empty network, or skips the test with the reason it cannot run.
func New(t testing.TB) *Net {
	t.Helper()
	if why := requirements(); why != "" {
		testenv.SkipOrFail(t, "netns e2e: "+why)
	}
	n := &Net{t: t, id: strconv.Itoa(os.Getpid() % 100000), Dir: t.TempDir(), Octet: 100 + os.Getpid()%100}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		n.fwd = strings.TrimSpace(string(b))
	}
	t.Cleanup(n.cleanup)
	n.must("sysctl", "-qw", "net.ipv4.ip_forward=1")
	return n
}

func (n *Net) must(args ...string) string {
	n.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Gateway is the root namespace's address on region r's bridge.
func (n *Net) Gateway(r int) string { return fmt.Sprintf("10.%d.%d.254", n.Octet, r) }

// VIP is region r's virtual IP (an address of the root namespace on the region's bridge).
func (n *Net) VIP(r int) string { return fmt.Sprintf("10.%d.%d.100", n.Octet, r) }

// HostIP is the IP of host h (1-based) of region r.
func (n *Net) HostIP(r, h int) string { return fmt.Sprintf("10.%d.%d.%d", n.Octet, r, h) }

func (n *Net) bridge(r int) string { return fmt.Sprintf("ob%s_%d", n.id, r) }

// AddRegion creates region r's bridge with its gateway and VIP addresses.
func (n *Net) AddRegion(r int) {
	br := n.bridge(r)
	n.must("ip", "link", "add", br, "type", "bridge")
	n.bridges = append(n.bridges, br)
	n.must("ip", "addr", "add", n.Gateway(r)+"/24", "dev", br)
	n.must("ip", "addr", "add", n.VIP(r)+"/32", "dev", br)
	n.must("ip", "link", "set", br, "up")
}

// AddHost creates host h of region r: a namespace with lo up, a veth into the region's bridge
// and a default route via the root namespace.
func (n *Net) AddHost(r, h int) *Host {
	host := &Host{Name: fmt.Sprintf("oms%s-r%dh%d", n.id, r, h), IP: n.HostIP(r, h), Region: r}
	n.must("ip", "netns", "add", host.Name)
	n.hosts = append(n.hosts, host)
	outer, inner := fmt.Sprintf("ov%s%d%d", n.id, r, h), fmt.Sprintf("iv%s%d%d", n.id, r, h)
	n.must("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
	n.must("ip", "link", "set", outer, "master", n.bridge(r), "up")
	n.must("ip", "link", "set", inner, "netns", host.Name)
	n.must("ip", "-n", host.Name, "link", "set", "lo", "up")
	n.must("ip", "-n", host.Name, "link", "set", inner, "name", "eth0")
	n.must("ip", "-n", host.Name, "addr", "add", host.IP+"/24", "dev", "eth0")
	n.must("ip", "-n", host.Name, "link", "set", "eth0", "up")
	n.must("ip", "-n", host.Name, "route", "add", "default", "via", n.Gateway(r))
	return host
}

// SetHosts writes the host's /etc/hosts (seen by every process started with ip netns exec,
// sshd and its children included).
func (n *Net) SetHosts(h *Host, entries map[string]string) {
	dir := filepath.Join("/etc/netns", h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("127.0.0.1 localhost\n")
	for name, ip := range entries {
		fmt.Fprintf(&b, "%s %s\n", ip, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), b.Bytes(), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// Start runs a long-lived process in the host's namespace (nil: the root namespace), with its
// output in Dir/<name>.log; it is killed at cleanup.
func (n *Net) Start(h *Host, name string, args ...string) *exec.Cmd {
	n.t.Helper()
	if h != nil {
		args = append([]string{"ip", "netns", "exec", h.Name}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	logf, err := os.Create(filepath.Join(n.Dir, name+".log"))
	if err != nil {
		n.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", name, err)
	}
	n.procs = append(n.procs, cmd)
	go func() { _ = cmd.Wait(); logf.Close() }()
	return cmd
}

// Log returns what a process started with Start wrote.
func (n *Net) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, name+".log"))
	return string(b)
}

// SSH is the key that logs in as root to every host's sshd.
type SSH struct {
	KeyFile string
	Port    int
}

// StartSSHD starts sshd in every host, accepting root with a fresh ed25519 key.
func (n *Net) StartSSHD() SSH {
	n.t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/sshd"); e != nil {
			testenv.SkipOrFail(n.t, "netns e2e: needs sshd (Debian package openssh-server)")
		}
		sshd = "/usr/sbin/sshd"
	}
	dir := filepath.Join(n.Dir, "ssh")
	_ = os.MkdirAll(dir, 0o700)
	key := filepath.Join(dir, "id_ed25519")
	n.must("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	n.must("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key"))
	pub, _ := os.ReadFile(key + ".pub")
	_ = os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	_ = os.MkdirAll("/run/sshd", 0o755)
	cfg := fmt.Sprintf(`Port 22
HostKey %s/host_key
PermitRootLogin yes
PasswordAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PidFile none
`, dir, dir)
	cfgPath := filepath.Join(dir, "sshd_config")
	_ = os.WriteFile(cfgPath, []byte(cfg), 0o600)
	// The hosts' root sessions must not run this machine's shell start-up files: an interactive
	// tool set-up there (pyenv's rehash lock, seen stale after a killed session) would stall every
	// SSH command by a minute. sshd runs in a private mount namespace with an empty ~/.bashrc.
	args := []string{sshd, "-D", "-e", "-f", cfgPath}
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, ".bashrc")); err == nil {
			empty := filepath.Join(dir, "empty_bashrc")
			_ = os.WriteFile(empty, nil, 0o644)
			args = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
				`mount --bind "$0" "$1" && shift && exec "$@"`, empty, filepath.Join(home, ".bashrc")}, args...)
		}
	}
	for _, h := range n.hosts {
		n.Start(h, "sshd-"+h.Name, args...)
	}
	for _, h := range n.hosts {
		n.WaitTCP(net.JoinHostPort(h.IP, "22"), 10*time.Second)
	}
	return SSH{KeyFile: key, Port: 22}
}

// WaitTCP polls until addr accepts connections.
func (n *Net) WaitTCP(addr string, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s does not accept connections: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
}

// Exec runs a command in a host namespace and returns its combined output.
func (n *Net) Exec(ctx context.Context, h *Host, args ...string) (string, error) {
	full := append([]string{"netns", "exec", h.Name}, args...)
	out, err := exec.CommandContext(ctx, "ip", full...).CombinedOutput()
	return string(out), err
}

// KillHost kills every process in the host's namespace (a host failure).
func (n *Net) KillHost(h *Host) {
	out, _ := exec.Command("ip", "netns", "pids", h.Name).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func (n *Net) cleanup() {
	defer func(start time.Time) { n.t.Logf("netns cleanup took %v", time.Since(start)) }(time.Now())
	for _, h := range n.hosts {
		n.KillHost(h) // the oms nodes started over SSH live in the namespace, detached from us
	}
	for _, p := range n.procs {
		if p.Process != nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		}
	}
	for _, h := range n.hosts {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := exec.Command("ip", "netns", "pids", h.Name).Output()
			if strings.TrimSpace(string(out)) == "" {
				break
			}
			n.KillHost(h)
			time.Sleep(50 * time.Millisecond) // polling interval
		}
		_ = exec.Command("ip", "netns", "del", h.Name).Run()
		_ = os.RemoveAll(filepath.Join("/etc/netns", h.Name))
	}
	for _, br := range n.bridges {
		_ = exec.Command("ip", "link", "del", br).Run()
	}
	if n.fwd != "" && n.fwd != "1" {
		_ = exec.Command("sysctl", "-qw", "net.ipv4.ip_forward="+n.fwd).Run()
	}
}

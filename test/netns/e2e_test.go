package netns

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/latency"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	wanDelay = 30 * time.Millisecond
	metaUser = "oms_e2e"
	metaPW   = "Meta-pw-7"
	adminPW  = "Admin-pw-7"
)

// cluster is the environment of the multi-region tests: two regions, sshd on every host, a
// MetaDB in region 1 that region 2 reaches through the latency proxy.
type cluster struct {
	n       *Net
	hosts   map[string]*Host // by IP
	meta    *testenv.Instance
	proxy   *latency.Proxy
	ssh     SSH
	bin     string
	pkg     string // installation package built from bin (deployFlags)
	dir     string
	regions []config.Config
}

func newCluster(t *testing.T, hostsPerRegion int) *cluster {
	return newClusterOf(t, hostsPerRegion, hostsPerRegion)
}

// newClusterOf builds len(hostsPerRegion) regions (at least two), region r with
// hostsPerRegion[r-1] hosts. Regions after the second reach the MetaDB in region 1 directly.
func newClusterOf(t *testing.T, hostsPerRegion ...int) *cluster {
	return buildCluster(t, true, hostsPerRegion...)
}

// buildCluster is newClusterOf; requireSSL false lets the oms user connect to the MetaDB in
// clear (a release before MySQL TLS, v0.1.0, must run on it).
func buildCluster(t *testing.T, requireSSL bool, hostsPerRegion ...int) *cluster {
	n := New(t)
	c := &cluster{n: n, hosts: map[string]*Host{}, bin: testenv.OMSBinary(t), dir: t.TempDir()}
	for r := 1; r <= len(hostsPerRegion); r++ {
		n.AddRegion(r)
		for h := 1; h <= hostsPerRegion[r-1]; h++ {
			host := n.AddHost(r, h)
			c.hosts[host.IP] = host
		}
	}
	// The MetaDB lives in region 1 (bound to region 1's gateway); region 2 reaches the same name,
	// metadb.oms.test, through the latency proxy: the inter-region path of the control plane.
	// Like every MariaDB of these tests it offers TLS and the oms user must use it (REQUIRE
	// SSL), so a node or component that connected in clear would fail the test.
	c.meta = endpointSSL(t, n, 1, requireSSL)
	port := strconv.Itoa(c.meta.Port)
	p, err := latency.Start(net.JoinHostPort(n.Gateway(2), port), net.JoinHostPort(n.Gateway(1), port), wanDelay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c.proxy = p
	for _, h := range c.hosts {
		gw := n.Gateway(h.Region)
		if h.Region > 2 {
			gw = n.Gateway(1)
		}
		n.SetHosts(h, map[string]string{"metadb.oms.test": gw})
	}
	c.ssh = n.StartSSHD()
	for r := 1; r <= len(hostsPerRegion); r++ {
		cfg := config.Config{MetaHost: "metadb.oms.test", MetaPort: c.meta.Port, MetaUser: metaUser, MetaPassword: metaPW,
			RMDB: "e2e_rm", CMDB: "e2e_cm", HeartbeatDB: "e2e_cm_hb", CMURL: "http://" + n.VIP(r) + ":8088",
			CMLocation: r, CMRegion: fmt.Sprintf("cn-r%d", r), CMRegionCN: fmt.Sprintf("cn-r%d", r), CMIsDefault: r == 1,
			TSDBService: "INFLUXDB"}
		if r > 1 {
			cfg.HeartbeatDB = fmt.Sprintf("e2e_cm_hb_%d", r)
		}
		for h := 1; h <= hostsPerRegion[r-1]; h++ {
			cfg.CMNodes = append(cfg.CMNodes, n.HostIP(r, h))
		}
		c.regions = append(c.regions, cfg)
	}
	_ = os.WriteFile(filepath.Join(c.dir, "admin_password"), []byte(adminPW), 0o600)
	return c
}

// oms runs the oms binary in host h's namespace (the deploying host, as in the guide).
func (c *cluster) oms(ctx context.Context, h *Host, args ...string) (string, error) {
	full := append([]string{"netns", "exec", h.Name, c.bin}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// deployFlags install from an installation package laid out like `make dist`'s, so the
// package path of -d is what the scenario deploys.
func (c *cluster) deployFlags(h *Host) []string {
	if c.pkg == "" {
		c.pkg = buildPackage(c.n.t, c.bin, c.dir)
	}
	return []string{"-i", h.IP, "-o", filepath.Join(c.dir, "nodes", "{ip}"), "-d", c.pkg,
		"--ssh-key", c.ssh.KeyFile, "--admin-password-file", filepath.Join(c.dir, "admin_password"), "--health-timeout", "60s"}
}

func healthy(addr string) error {
	cl := &http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get("http://" + addr + "/oms/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", addr, resp.Status, body)
	}
	return nil
}

// Two regions of two hosts each deploy from one cluster file with `oms deploy -c`, run from a
// node of region 1; `oms config set` updates region 2's nodes; behind region 2's VIP (haproxy)
// the console stays reachable when one node of region 2 stops.
func TestMultiRegionDeployFromClusterFile(t *testing.T) {
	c := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	src, dst := endpoint(t, c.n, 1), endpoint(t, c.n, 2) // the source in region 1, the target in region 2
	shop.Seed(t, src.DB())
	deployer := c.hosts[c.n.HostIP(1, 1)]
	clusterFile := filepath.Join(c.dir, "oms-cluster.yaml")
	// Region 2 listed first: the default region must still deploy first.
	if err := os.WriteFile(clusterFile, config.FormatCluster([]config.Config{c.regions[1], c.regions[0]}), 0o600); err != nil {
		t.Fatal(err)
	}

	// A broken copy is refused with every problem before any host is touched.
	bad := c.regions[1]
	bad.CMIsDefault, bad.CMLocation, bad.CMNodes = true, 1, []string{c.n.HostIP(1, 2), c.n.HostIP(2, 2)}
	badFile := filepath.Join(c.dir, "bad.yaml")
	os.WriteFile(badFile, config.FormatCluster([]config.Config{c.regions[0], bad}), 0o600)
	out, err := c.oms(ctx, deployer, append([]string{"deploy", "-c", badFile}, c.deployFlags(deployer)...)...)
	if code := scenario.ExitCode(err); code != 3 {
		t.Fatalf("bad cluster file: exit %d, want 3\n%s", code, out)
	}
	for _, want := range []string{"cm_is_default is true in 2 regions", `"1" is also used by region`, "is also listed in region", "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad cluster file output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "nodes")); err == nil {
		t.Fatal("a refused deployment touched a host")
	}

	start := time.Now()
	out, err = c.oms(ctx, deployer, append([]string{"deploy", "-c", clusterFile}, c.deployFlags(deployer)...)...)
	if err != nil {
		t.Fatalf("oms deploy: %v\n%s", err, out)
	}
	t.Logf("deployed 4 nodes in 2 regions in %v", time.Since(start))
	if i1, i2 := strings.Index(out, "Region cn-r1"), strings.Index(out, "Region cn-r2"); i1 < 0 || i2 < i1 {
		t.Fatalf("default region cn-r1 must deploy first:\n%s", out)
	}
	for _, h := range c.hosts {
		if err := healthy(net.JoinHostPort(h.IP, "8089")); err != nil {
			t.Fatalf("node %s: %v", h.IP, err)
		}
	}
	if c.proxy.Accepted() == 0 {
		t.Fatal("region 2 never reached the MetaDB through the inter-region proxy")
	}
	var hosts, regions int
	c.meta.DB().QueryRow("SELECT COUNT(*) FROM e2e_cm.hosts").Scan(&hosts)
	c.meta.DB().QueryRow("SELECT COUNT(*) FROM e2e_cm.regions").Scan(&regions)
	var def string
	c.meta.DB().QueryRow("SELECT region FROM e2e_cm.regions WHERE is_default = 1").Scan(&def)
	if hosts != 4 || regions != 2 || def != "cn-r1" {
		t.Fatalf("MetaDB: %d hosts, %d regions, default %q", hosts, regions, def)
	}

	// oms config set: one command updates every node of region 2 (rolling restart).
	out, err = c.oms(ctx, deployer, append([]string{"config", "set", "cm_region_cn", "cn-r2-east", "--region", "cn-r2", "-c", clusterFile}, c.deployFlags(deployer)...)...)
	if err != nil {
		t.Fatalf("oms config set: %v\n%s", err, out)
	}
	for h := 1; h <= 2; h++ {
		b, _ := os.ReadFile(filepath.Join(c.dir, "nodes", c.n.HostIP(2, h), "conf/config.yaml"))
		if !strings.Contains(string(b), "cm_region_cn: cn-r2-east") {
			t.Fatalf("node %s config not updated:\n%s", c.n.HostIP(2, h), b)
		}
		if err := healthy(net.JoinHostPort(c.n.HostIP(2, h), "8089")); err != nil {
			t.Fatalf("after config set: %v", err)
		}
	}

	// Region VIPs: haproxy in front of 8088/8089 of each region.
	for r := 1; r <= 2; r++ {
		cfg := haproxyConfig(c.n.VIP(r), c.regions[r-1].CMNodes)
		p := filepath.Join(c.dir, fmt.Sprintf("haproxy-%d.cfg", r))
		os.WriteFile(p, []byte(cfg), 0o644)
		hp, err := exec.LookPath("haproxy")
		if err != nil {
			if _, e := os.Stat("/usr/sbin/haproxy"); e != nil {
				testenv.SkipOrFail(t, "region VIP part needs haproxy (Debian package haproxy)")
			}
			hp = "/usr/sbin/haproxy"
		}
		c.n.Start(nil, fmt.Sprintf("haproxy-%d", r), hp, "-db", "-f", p)
		c.n.WaitTCP(net.JoinHostPort(c.n.VIP(r), "8089"), 10*time.Second)
	}
	vip := net.JoinHostPort(c.n.VIP(2), "8089")
	if err := healthy(vip); err != nil {
		t.Fatalf("region 2 VIP: %v", err)
	}

	// A project from region 1 to region 2 with live writes.
	cli, pid, wl := crossRegionProject(t, c, src, dst)
	defer wl.Halt()
	comps, _ := cli.DescribeProjectComponents(ctx, pid)
	incr, _ := scenario.Component(comps, "incr-sync")

	// The region-2 host running the Incr-Sync fails: the console stays reachable through the
	// region's VIP and the Incr-Sync moves to the other region-2 node.
	down := incr.Host
	c.n.KillHost(c.hosts[down])
	deadline := time.Now().Add(10 * time.Second)
	for healthy(net.JoinHostPort(down, "8089")) == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling until the node is gone
	}
	for i := 0; i < 20; i++ {
		if err := healthy(vip); err != nil {
			t.Fatalf("request %d through the VIP after node %s stopped: %v\nhaproxy log:\n%s", i, down, err, c.n.Log("haproxy-2"))
		}
	}
	cmVIP := net.JoinHostPort(c.n.VIP(2), "8088")
	if conn, err := net.DialTimeout("tcp", cmVIP, 2*time.Second); err != nil {
		t.Fatalf("CM through the VIP: %v", err)
	} else {
		conn.Close()
	}

	other := c.n.HostIP(2, 1)
	if other == down {
		other = c.n.HostIP(2, 2)
	}
	moved := scenario.WaitFor(t, 60*time.Second, "incr-sync running on the other region-2 node", func() (bool, string) {
		comps, err := cli.DescribeProjectComponents(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		cur, _ := scenario.Component(comps, "incr-sync")
		return cur.Host == other && cur.State == "RUNNING" && cur.Epoch > incr.Epoch, fmt.Sprintf("%+v", cur)
	})
	t.Logf("incr-sync moved from %s to %s %.1fs after the host failed", down, other, moved.Seconds())
	wl.Halt()
	t.Logf("live workload committed %d transactions", wl.Txns())
	scenario.WaitFor(t, 60*time.Second, "target == source (row level)", func() (bool, string) {
		return shop.Same(src.DB(), dst.DB())
	})
}

// haproxyConfig is a region VIP: 8088 and 8089 of the VIP spread over the region's nodes, with
// fast health checks so a stopped node leaves the pool within a second, and redispatch so a
// request that hits it is retried on another node.
func haproxyConfig(vip string, nodes []string) string {
	var b strings.Builder
	b.WriteString(`global
  log stdout format raw local0
defaults
  mode tcp
  log global
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
`)
	for _, port := range []string{"8088", "8089"} {
		fmt.Fprintf(&b, "listen oms_%s\n  bind %s:%s\n  balance roundrobin\n", port, vip, port)
		for i, n := range nodes {
			fmt.Fprintf(&b, "  server n%d %s:%s check inter 300ms fall 1 rise 2\n", i+1, n, port)
		}
	}
	return b.String()
}

// buildPackage writes oms-e2e-linux-amd64.tar.gz with <top>/bin/oms, as make dist does.
func buildPackage(t testing.TB, bin, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "oms-e2e-linux-amd64.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, e := range []struct {
		name string
		body []byte
	}{{"oms-e2e-linux-amd64/README.md", []byte("oms")}, {"oms-e2e-linux-amd64/bin/oms", raw}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o755, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

package cli_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
)

func TestDeployCheckNeedsConfig(t *testing.T) {
	out, code := run(t, "deploy", "--check")
	if code != 2 || !strings.Contains(out, "--check checks a config file: give -c FILE") {
		t.Fatalf("exit %d, want 2 (usage):\n%s", code, out)
	}
}

// A deploy run with -d PACKAGE removes the folder it unpacked into, and the MySQL driver's own
// log lines never reach the terminal (here: a "MetaDB" that closes every connection).
func TestDeployPackageCleanupAndNoDriverLines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dir := t.TempDir()
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: ln.Addr().(*net.TCPAddr).Port, MetaUser: "root", MetaPassword: "pw",
		RMDB: "oms_rm", CMDB: "oms_cm", HeartbeatDB: "oms_cm_hb", CMURL: "http://127.0.0.1:8088", CMLocation: 1,
		CMRegion: "cn-a", CMRegionCN: "cn-a", CMIsDefault: true, CMNodes: []string{"127.0.0.1"}}
	cluster := filepath.Join(dir, "oms-cluster.yaml")
	os.WriteFile(cluster, config.FormatCluster([]config.Config{c}), 0o600)
	pkg := filepath.Join(dir, "oms-v9-linux-amd64.tar.gz")
	f, _ := os.Create(pkg)
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "oms-v9-linux-amd64/bin/oms", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg})
	tw.Write([]byte("#!v9"))
	tw.Close()
	zw.Close()
	f.Close()
	tmp := t.TempDir()
	cmd := exec.Command(testenv.OMSBinary(t), "deploy", "-c", cluster, "-d", pkg, "-i", "127.0.0.1", "-o", filepath.Join(dir, "nodes"), "--check")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "OMS_ADMIN_PASSWORD=secret123")
	b, err := cmd.CombinedOutput()
	out := string(b)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "MetaDB: ") {
		t.Fatalf("want the MetaDB check to fail (exit 3): %v\n%s", err, out)
	}
	if strings.Contains(out, "[mysql]") || strings.Contains(out, "packets.go") {
		t.Fatalf("a raw driver log line reached the terminal:\n%s", out)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "oms-package-*")); len(left) != 0 {
		t.Fatalf("-d PACKAGE left %v behind", left)
	}
}

func TestUpgradeNeedsClusterAndPackage(t *testing.T) {
	out, code := run(t, "upgrade", "-c", "oms-cluster.yaml")
	if code != 2 || !strings.Contains(out, "give -c CLUSTER_FILE and -d PACKAGE") {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
}

// With --cluster, the CLI reaches the default region's console through its cm_url (VIP) host.
func TestClientReachesDefaultRegionThroughCMURL(t *testing.T) {
	hit := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: 3306, MetaUser: "root", MetaPassword: "pw", RMDB: "oms_rm", CMDB: "oms_cm",
		HeartbeatDB: "oms_cm_hb", CMURL: "http://127.0.0.1:8088", CMLocation: 1, CMRegion: "cn-a", CMRegionCN: "cn-a",
		CMIsDefault: true, CMNodes: []string{"127.0.0.1"}, ConsolePort: port}
	cluster := filepath.Join(t.TempDir(), "oms-cluster.yaml")
	os.WriteFile(cluster, config.FormatCluster([]config.Config{c}), 0o600)
	out, code := run(t, "host", "list", "--cluster", cluster, "--server", "http://127.0.0.1:1")
	if code == 0 {
		t.Fatalf("an explicit --server must win:\n%s", out)
	}
	if len(hit) != 0 {
		t.Fatalf("the cm_url console was asked although --server was given")
	}
	out, _ = run(t, "host", "list", "--cluster", cluster) // the stand-in is no real console: only where the request goes counts
	if len(hit) == 0 {
		t.Fatalf("no request reached the default region's console at %s:\n%s", srv.URL, out)
	}
	if out, code := run(t, "host", "list", "--cluster", cluster, "--region", "cn-x"); code != 2 || !strings.Contains(out, "region cn-x is not in the cluster file") {
		t.Fatalf("unknown region: exit %d\n%s", code, out)
	}
}

package deploy

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
)

// Console TLS chosen in the wizard is kept in the cluster file, so a later `oms deploy -c` (and
// config apply and add-node, which install through Target.Node) installs the same certificate
// and waits on https.
func TestWizardTLSKeptForLaterDeploys(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "oms")
	key, crt := filepath.Join(dir, "console.key"), filepath.Join(dir, "console.crt")
	for _, f := range []string{bin, key, crt} {
		os.WriteFile(f, []byte("x\n"), 0o600)
	}
	in := lines(
		"1", "1", "127.0.0.1", "3306", "root", "", "oms", "y", // MetaDB
		"cn-a", "", "10.1.0.100:8088", "10.1.0.1", "1", "", "y", // region
		"n", "n", "n", "secret123", "secret123", // no tsdb, no audit, no change, admin
		"", "y", "y", key, crt, // node: dir, install, TLS with key and certificate
	)
	var tr strings.Builder
	rec := &recorder{}
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{HostIP: "10.1.0.1", Binary: bin, OutDir: dir, Deployer: rec})
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("wizard: %v\n%s", err, tr.String())
	}
	if len(rec.nodes) != 1 || rec.nodes[0].TLSKey != key || rec.nodes[0].TLSCrt != crt {
		t.Fatalf("wizard node: %+v", rec.nodes)
	}
	cl, err := config.LoadCluster(filepath.Join(dir, ClusterFileName))
	if err != nil {
		t.Fatal(err)
	}
	cs := cl.Configs()
	if cs[0].HTTPSKey != key || cs[0].HTTPSCrt != crt {
		t.Fatalf("the cluster file lost the console TLS: key %q crt %q", cs[0].HTTPSKey, cs[0].HTTPSCrt)
	}
	again := &recorder{}
	if err := DeployCluster(context.Background(), again, cs, Target{InstallDir: "/home/oms", HostIP: "10.1.0.1", Binary: bin}, io.Discard); err != nil {
		t.Fatal(err)
	}
	n := again.nodes[0]
	if n.TLSKey != key || n.TLSCrt != crt {
		t.Fatalf("deploy -c node without TLS: %+v", n)
	}
	nc := string(nodeConfig(n))
	if !strings.Contains(nc, "https_key: /home/oms/conf/tls/https.key") || !strings.Contains(nc, "https_crt: /home/oms/conf/tls/https.crt") {
		t.Fatalf("node config:\n%s", nc)
	}
	if u := healthURL(n); !strings.HasPrefix(u, "https://10.1.0.1:8089/") {
		t.Fatalf("health URL %s, want https", u)
	}
	n.TLSKey, n.TLSCrt = "", ""
	if nc := string(nodeConfig(n)); strings.Contains(nc, "https_") || !strings.HasPrefix(healthURL(n), "http://") {
		t.Fatalf("without TLS: %s\n%s", healthURL(n), nc)
	}
}

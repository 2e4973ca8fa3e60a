package netns

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
)

// The wizard, driven by an answers file (no terminal), deploys region 1 on one host from that
// host and then a new region 2 of two hosts over SSH; `oms deploy add-node` then scales region 1
// out to a second host and updates cm_nodes on the first.
func TestWizardDeployAndScaleOut(t *testing.T) {
	c := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // five node installs on a loaded machine
	defer cancel()
	n := c.n
	r1h1, r1h2, r2h1, r2h2 := n.HostIP(1, 1), n.HostIP(1, 2), n.HostIP(2, 1), n.HostIP(2, 2)
	answers := strings.Join([]string{
		"2", "1", // multiple regions, no configuration file
		"metadb.oms.test", strconv.Itoa(c.meta.Port), metaUser, metaPW, "wz", "y",
		"cn-r1", "", n.VIP(1), "", r1h1, "1", "", "y", "y", // region 1: VIP without port, then the port; heartbeat database proposed
		"n",                                        // no time-series database
		"y", "file", "/var/log/oms-audit.log", "y", // audit export to a file
		"n",              // modify nothing
		adminPW, adminPW, // console admin
		"", "y", "n", // node r1h1 (this host)
		"y",                                                                  // a new region
		"cn-r2", "", "2", n.VIP(2) + ":8088", r2h1 + "," + r2h2, "", "", "y", // region 2: heartbeat database and cm_is_default n proposed
		"", "", "", "", "y", "n", // node r2h1: dir, ssh user, no password, key (default), binary, tls
		"", "", "", "", "y", "n", // node r2h2
		"n", // no further region
	}, "\n") + "\n"
	ansFile := filepath.Join(c.dir, "answers.txt")
	os.WriteFile(ansFile, []byte(answers), 0o600)
	wizDir := filepath.Join(c.dir, "wiz")
	deployer := c.hosts[r1h1]
	flags := []string{"-i", r1h1, "-o", filepath.Join(c.dir, "nodes", "{ip}"), "-d", c.bin, "--ssh-key", c.ssh.KeyFile, "--health-timeout", "60s"}
	out, err := c.oms(ctx, deployer, append([]string{"deploy", "--answers", ansFile, "--out", wizDir}, flags...)...)
	if err != nil {
		t.Fatalf("wizard deploy: %v\n%s", err, out)
	}
	for _, want := range []string{"OMS has been deployed in regions [cn-r1]. Deploy OMS in a new region?",
		"Existing regions: cn-r1 (cm_location 1)", "drc_cm_heartbeat_db: wz_cm_hb_2", "Deployment finished."} {
		if !strings.Contains(out, want) {
			t.Errorf("wizard output lacks %q", want)
		}
	}
	for _, ip := range []string{r1h1, r2h1, r2h2} {
		if err := healthy(ip + ":8089"); err != nil {
			t.Fatalf("node %s: %v\n%s", ip, err, out)
		}
	}
	clusterFile := filepath.Join(wizDir, "oms-cluster.yaml")
	cl, err := config.LoadCluster(clusterFile)
	if err != nil || cl.Err() != nil {
		t.Fatalf("written cluster file: %v %v", err, cl.Err())
	}

	// Scale out region 1.
	out, err = c.oms(ctx, deployer, append([]string{"deploy", "add-node", "-c", clusterFile, "--region", "cn-r1", "--ip", r1h2,
		"--admin-password-file", filepath.Join(c.dir, "admin_password")}, flags...)...)
	if err != nil {
		t.Fatalf("add-node: %v\n%s", err, out)
	}
	if err := healthy(r1h2 + ":8089"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(c.dir, "nodes", r1h1, "conf/config.yaml"))
	if !strings.Contains(string(b), "- "+r1h2) {
		t.Fatalf("cm_nodes of %s not updated:\n%s", r1h1, b)
	}
	var hosts int
	c.meta.DB().QueryRow("SELECT COUNT(*) FROM wz_cm.hosts WHERE region = 'cn-r1'").Scan(&hosts)
	if hosts != 2 {
		t.Fatalf("region cn-r1 has %d registered hosts, want 2", hosts)
	}
	cl, _ = config.LoadCluster(clusterFile)
	if cs := cl.Configs(); len(cs[0].CMNodes) != 2 {
		t.Fatalf("cluster file not updated: %+v", cs[0].CMNodes)
	}
}

package netns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// The guide's procedure, region after region in separate runs while a project runs: region 1 is
// deployed with `oms deploy -c`, a project runs in it under writes; a second run, the wizard
// driven by an answers file, reads the deployment from the MetaDB and adds region 2; a third
// run, `oms deploy -c` with a file of region 3 alone, adds region 3; `oms deploy add-node`
// scales region 3 out. Every node is healthy, `oms host list` shows the three regions, and the
// project never moved, kept its lag low and ends equal to the source row by row.
func TestRegionAfterRegion(t *testing.T) {
	c := newClusterOf(t, 1, 1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	n := c.n
	r1h1, r2h1, r3h1, r3h2 := n.HostIP(1, 1), n.HostIP(2, 1), n.HostIP(3, 1), n.HostIP(3, 2)
	deployer := c.hosts[r1h1]
	flags := c.deployFlags(deployer)

	// Run 1: region 1 alone, from a file.
	first := filepath.Join(c.dir, "region1.yaml")
	os.WriteFile(first, config.FormatCluster(c.regions[:1]), 0o600)
	if out, err := c.oms(ctx, deployer, append([]string{"deploy", "-c", first}, flags...)...); err != nil {
		t.Fatalf("run 1 (region 1): %v\n%s", err, out)
	}

	// A project inside region 1 under writes.
	src, dst := endpoint(t, n, 1), endpoint(t, n, 1)
	shop.Seed(t, src.DB())
	cli, pid, wl := regionProject(t, c, src, dst)
	defer wl.Halt()
	before, err := taskPlacement(c.meta.DB())
	if err != nil {
		t.Fatal(err)
	}

	// Run 2: the wizard adds region 2; it shows region 1, proposes the next heartbeat database
	// and a non-default region.
	answers := strings.Join([]string{
		"1", "1", // single region (a region exists: multiple), no configuration file
		"metadb.oms.test", strconv.Itoa(c.meta.Port), metaUser, metaPW, "e2e", "y",
		"y",                                                     // the databases exist: continue
		"cn-r2", "", "2", n.VIP(2) + ":8088", r2h1, "", "", "y", // heartbeat database and cm_is_default n proposed
		"n", "n", // no monitoring, no audit
		"n",              // modify nothing
		adminPW, adminPW, // console admin
		"", "", "", "", "y", "n", // node r2h1: dir, ssh user, no password, key (default), binary, tls
		"n", // no further region
	}, "\n") + "\n"
	ansFile := filepath.Join(c.dir, "answers.txt")
	os.WriteFile(ansFile, []byte(answers), 0o600)
	wizDir := filepath.Join(c.dir, "wiz")
	out, err := c.oms(ctx, deployer, append([]string{"deploy", "--answers", ansFile, "--out", wizDir}, flags...)...)
	if err != nil {
		t.Fatalf("run 2 (wizard, region 2): %v\n%s", err, out)
	}
	for _, want := range []string{"Regions already deployed (registered in the MetaDB): cn-r1 (cm_location 1, default)",
		"drc_cm_heartbeat_db: e2e_cm_hb_2", "Deployment finished."} {
		if !strings.Contains(out, want) {
			t.Errorf("wizard output lacks %q:\n%s", want, out)
		}
	}
	cl, err := config.LoadCluster(filepath.Join(wizDir, "oms-cluster.yaml"))
	if err != nil || cl.Err() != nil {
		t.Fatalf("the wizard's cluster file: %v %v", err, cl.Err())
	}
	if cs := cl.Configs(); len(cs) != 2 || cs[0].CMRegion != "cn-r1" || !cs[0].CMIsDefault || cs[1].CMRegion != "cn-r2" || cs[1].CMIsDefault {
		t.Fatalf("the wizard's cluster file does not keep region 1 and add region 2: %+v", cs)
	}

	// Run 3: a file of region 3 alone extends the deployment; then scale region 3 out.
	r3 := c.regions[2]
	r3.CMNodes = []string{r3h1}
	third := filepath.Join(c.dir, "region3.yaml")
	os.WriteFile(third, config.FormatCluster([]config.Config{r3}), 0o600)
	if out, err := c.oms(ctx, deployer, append([]string{"deploy", "-c", third}, flags...)...); err != nil {
		t.Fatalf("run 3 (-c, region 3): %v\n%s", err, out)
	}
	if out, err := c.oms(ctx, deployer, append([]string{"deploy", "add-node", "-c", third, "--region", "cn-r3", "--ip", r3h2}, flags...)...); err != nil {
		t.Fatalf("add-node: %v\n%s", err, out)
	}

	for _, ip := range []string{r1h1, r2h1, r3h1, r3h2} {
		if err := healthy(ip + ":8089"); err != nil {
			t.Fatalf("node %s: %v", ip, err)
		}
	}
	hosts, err := cli.ListHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string][]string{}
	for _, h := range hosts {
		regions[h.Region] = append(regions[h.Region], h.IP+" "+h.State)
	}
	for r, want := range map[string]int{"cn-r1": 1, "cn-r2": 1, "cn-r3": 2} {
		sort.Strings(regions[r])
		if len(regions[r]) != want || strings.Contains(strings.Join(regions[r], ","), "DOWN") {
			t.Fatalf("host list: region %s has %v, want %d ONLINE hosts (all: %v)", r, regions[r], want, regions)
		}
	}
	var def string
	c.meta.DB().QueryRow("SELECT GROUP_CONCAT(region) FROM e2e_cm.regions WHERE is_default = 1").Scan(&def)
	if def != "cn-r1" {
		t.Fatalf("default regions: %q, want cn-r1", def)
	}

	// The project: never moved, caught up, equal to the source.
	if now, _ := taskPlacement(c.meta.DB()); now != before {
		t.Fatalf("the project's tasks moved while regions were added:\nbefore %s\nnow    %s", before, now)
	}
	scenario.WaitFor(t, 30*time.Second, "incr-sync lag under 5 s", func() (bool, string) {
		comps, err := cli.DescribeProjectComponents(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		incr, _ := scenario.Component(comps, "incr-sync")
		return incr.State == "RUNNING" && incr.LagSeconds < 5, fmt.Sprintf("%+v", incr)
	})
	wl.Halt()
	scenario.WaitFor(t, 60*time.Second, "target == source (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
}

// regionProject runs a project inside region 1 (source and target there) under writes, until
// its full verification found no difference.
func regionProject(t *testing.T, c *cluster, src, dst *testenv.Instance) (*api.Client, string, *scenario.Workload) {
	cli, pid, w, _ := runProject(t, c, src, 1, dst, 1)
	return cli, pid, w
}

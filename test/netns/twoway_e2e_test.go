package netns

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestTwoWayAcrossRegions: a two-way project between a region-1 and a region-2 database. The
// forward direction copies and verifies; the reverse starts after the copy; each direction's
// Store runs in its source's region and its Incr-Sync in its target's. Then both regions take
// writes on the same tables (conflicts decided by region priority), and afterwards they hold the
// same rows; `project show` prints both directions and the clock skew; the conflicts are listed
// once each.
func TestTwoWayAcrossRegions(t *testing.T) {
	c := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	src, dst := endpoint(t, c.n, 1), endpoint(t, c.n, 2)
	shop.Seed(t, src.DB())
	startNodes(t, c)
	scenario.LogsOnFailure(t, 2500, filepath.Join(c.dir, "nodes", "*", "run", "*", "component.log"), filepath.Join(c.dir, "nodes", "*", "store", "*", "component.log"))
	cli, s, d := regionDataSources(t, c, src, dst)
	p, err := cli.CreateProject(ctx, api.CreateProjectRequest{Name: "aa", SourceEndpointID: s.ID, SinkEndpointID: d.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: scenario.ShopTables}}}, StartImmediately: true,
		TwoWay: &api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "priority"}}})
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	scenario.WaitVerified(t, cli, p.ID, 120*time.Second)
	rev := p.TwoWay.PeerID
	scenario.WaitStep(t, cli, rev, api.StepIncr, api.StepMonitoring, 90*time.Second)
	for _, id := range []string{p.ID, rev} {
		comps, err := cli.DescribeProjectComponents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		store, _ := scenario.Component(comps, "store")
		incr, _ := scenario.Component(comps, "incr-sync")
		want := map[string][2]int{p.ID: {1, 2}, rev: {2, 1}}[id]
		if c.hosts[store.Host] == nil || c.hosts[store.Host].Region != want[0] || c.hosts[incr.Host] == nil || c.hosts[incr.Host].Region != want[1] {
			t.Fatalf("placement of %s: want the Store in region %d and the Incr-Sync in region %d, got %+v", id, want[0], want[1], comps)
		}
	}

	w1 := shop.StartWorkload(src.DB(), 1, writePause)
	w2 := shop.StartWorkload(dst.DB(), 1, writePause)
	time.Sleep(10 * time.Second) //nolint:forbidigo // writes in both regions for a while; not synchronisation
	w1.Halt()
	w2.Halt()
	scenario.WaitFor(t, 90*time.Second, "region 1 == region 2 (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
	t.Logf("%d + %d transactions in the two regions; regions equal", w1.Txns(), w2.Txns())

	for _, id := range []string{p.ID, rev} {
		got, err := cli.DescribeProject(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != api.StateRunning {
			t.Fatalf("project %s is %s: %s %s", id, got.Status, got.ErrorCode, got.ErrorMessage)
		}
	}
	list, err := cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: p.ID, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, x := range list {
		k := fmt.Sprint(x.TaskID, x.GTID, x.RowNo)
		if seen[k] {
			t.Fatalf("conflict %s listed twice", k)
		}
		seen[k] = true
	}
	t.Logf("%d conflicts recorded", len(list))
	scenario.WaitFor(t, 60*time.Second, "clock skew measured", func() (bool, string) {
		got, err := cli.DescribeProject(ctx, p.ID)
		if err != nil || got.TwoWay == nil {
			return false, fmt.Sprint(err)
		}
		return got.TwoWay.ClockSkewSeconds != nil, fmt.Sprintf("%+v", got.TwoWay)
	})
	cmd := exec.CommandContext(ctx, c.bin, "project", "show", p.ID)
	cmd.Env = append(os.Environ(), "OMS_SERVER=http://"+c.n.HostIP(1, 1)+":8089", "OMS_USER=admin", "OMS_PASSWORD="+adminPW)
	raw, err := cmd.CombinedOutput()
	out := string(raw)
	if err != nil || !strings.Contains(out, "two-way forward direction cn-r1 -> cn-r2") || !strings.Contains(out, "other direction "+rev) || !strings.Contains(out, "clock skew") {
		t.Fatalf("oms project show: %v\n%s", err, out)
	}
	t.Logf("oms project show:\n%s", out)
}

package netns

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// taskPlacement is every task's host and epoch, as the MetaDB has them.
func taskPlacement(db *sql.DB) (string, error) {
	rows, err := db.Query("SELECT id, host, epoch FROM e2e_cm.tasks ORDER BY id")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, host string
		var epoch int64
		if err := rows.Scan(&id, &host, &epoch); err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%s@%s/%d", id, host, epoch))
	}
	return strings.Join(out, " "), rows.Err()
}

// notOnline lists the hosts the MetaDB does not have ONLINE.
func notOnline(db *sql.DB) (string, error) {
	rows, err := db.Query("SELECT ip, state FROM e2e_cm.hosts WHERE state <> 'ONLINE'")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ip, state string
		if err := rows.Scan(&ip, &state); err != nil {
			return "", err
		}
		out = append(out, ip+" "+state)
	}
	sort.Strings(out)
	return strings.Join(out, ", "), rows.Err()
}

// startNodes runs `oms node` on every host, each in its namespace with its region's config.yaml
// (deployment itself is TestMultiRegionDeployFromClusterFile's subject).
func startNodes(t *testing.T, c *cluster) {
	t.Helper()
	t.Setenv("OMS_ADMIN_PASSWORD", adminPW)
	// Region 1's first node first: it creates the admin user.
	ips := []string{c.n.HostIP(1, 1), c.n.HostIP(1, 2), c.n.HostIP(2, 1), c.n.HostIP(2, 2)}
	for _, ip := range ips {
		h := c.hosts[ip]
		cfgPath := filepath.Join(c.dir, fmt.Sprintf("config-%d.yaml", h.Region))
		if err := os.WriteFile(cfgPath, config.Format(c.regions[h.Region-1]), 0o600); err != nil {
			t.Fatal(err)
		}
		c.n.Start(h, "node-"+ip, c.bin, "node", "-c", cfgPath, "--host-ip", ip, "--data-dir", filepath.Join(c.dir, "nodes", ip))
		scenario.WaitFor(t, 60*time.Second, "node "+ip+" healthy", func() (bool, string) {
			if err := healthy(net.JoinHostPort(ip, "8089")); err != nil {
				return false, err.Error() + "\n" + c.n.Log("node-"+ip)
			}
			return true, ""
		})
	}
}

// TestRegionPartition cuts region 2 (the Incr-Sync's region, with the target) off from the MetaDB
// and from region 1 (the Store's region, with the source) for 60 s under writes, then heals: no
// host of region 2 is marked down, no task is reassigned (no epoch changes, so nothing runs
// twice), and after healing the Incr-Sync catches up and the target matches the source row by
// row.
func TestRegionPartition(t *testing.T) {
	c := newCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	src, dst := endpoint(t, c.n, 1), endpoint(t, c.n, 2)
	shop.Seed(t, src.DB())
	startNodes(t, c)
	cli, pid, wl := crossRegionProject(t, c, src, dst)
	defer wl.Halt()
	meta := c.meta.DB()
	before, err := taskPlacement(meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tasks before the partition: %s", before)

	// The partition: region 2's path to the MetaDB (the inter-region proxy) stops, and hosts of
	// the two regions cannot reach each other (nor region 2 the source, nor region 1 the target).
	subnet := func(r int) string { return fmt.Sprintf("10.%d.%d.0/24", c.n.Octet, r) }
	routes := func(verb string) {
		for _, h := range c.hosts {
			other := 3 - h.Region
			if out, err := c.n.Exec(ctx, h, "ip", "route", verb, "blackhole", subnet(other)); err != nil {
				t.Fatalf("ip route %s blackhole %s in %s: %v %s", verb, subnet(other), h.IP, err, out)
			}
		}
	}
	c.proxy.Partition()
	routes("add")
	cut := time.Now()
	healed := false
	heal := func() {
		if !healed {
			healed = true
			c.proxy.Heal()
			routes("del")
		}
	}
	defer heal()
	for time.Since(cut) < 60*time.Second {
		if now, err := taskPlacement(meta); err == nil && now != before {
			t.Fatalf("a task was reassigned during the partition (%.0fs in):\nbefore %s\nnow    %s", time.Since(cut).Seconds(), before, now)
		}
		if down, err := notOnline(meta); err == nil && down != "" {
			t.Fatalf("hosts marked down during the partition (%.0fs in): %s", time.Since(cut).Seconds(), down)
		}
		time.Sleep(500 * time.Millisecond) // polling the MetaDB
	}
	heal()
	t.Logf("partition of region 2 healed after %.1fs: no host marked down, no task reassigned", time.Since(cut).Seconds())
	healedAt := time.Now()
	for time.Since(healedAt) < 20*time.Second {
		if now, err := taskPlacement(meta); err == nil && now != before {
			t.Fatalf("a task was reassigned after the partition healed:\nbefore %s\nnow    %s", before, now)
		}
		if down, err := notOnline(meta); err == nil && down != "" {
			t.Fatalf("hosts marked down after the partition healed: %s", down)
		}
		time.Sleep(500 * time.Millisecond) // polling the MetaDB
	}
	caught := scenario.WaitFor(t, 90*time.Second, "incr-sync lag back under 5 s", func() (bool, string) {
		comps, err := cli.DescribeProjectComponents(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		incr, _ := scenario.Component(comps, "incr-sync")
		return incr.State == "RUNNING" && incr.LagSeconds < 5, fmt.Sprintf("%+v", incr)
	})
	t.Logf("incr-sync lag under 5 s %.1fs after healing (%.1fs after the watch)", time.Since(healedAt).Seconds(), caught.Seconds())
	wl.Halt()
	scenario.WaitFor(t, 60*time.Second, "target == source (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
	digest, _ := shop.Digest(src.DB())
	t.Logf("row-level comparison after the partition: source == target (%s); %d transactions", digest, wl.Txns())
	if now, _ := taskPlacement(meta); now != before {
		t.Fatalf("tasks moved: before %s, now %s", before, now)
	}
}

package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
)

const (
	// workloadPause between transactions of one workload worker: about 100 transactions a second
	// with two workers, a steady OLTP load this 2-core machine sustains next to the cluster.
	workloadPause = 15 * time.Millisecond
	e2eTables     = 2
	e2eTableRows  = 5000
)

// seedSource creates sysbench-style tables in db shop of the source.
func seedSource(t *testing.T, src *testenv.Instance) {
	t.Helper()
	db := src.DB()
	mustExec(t, db, "CREATE DATABASE shop")
	for i := 1; i <= e2eTables; i++ {
		mustExec(t, db, fmt.Sprintf(`CREATE TABLE shop.sbtest%d (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0,
			c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_%d (k)) ENGINE=InnoDB`, i, i))
		var vals []string
		for r := 1; r <= e2eTableRows; r++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, '%s', '%s')", r, rand.IntN(e2eTableRows), strings.Repeat(fmt.Sprint(r%10), 100), "pad"))
			if len(vals) == 1000 {
				mustExec(t, db, fmt.Sprintf("INSERT INTO shop.sbtest%d VALUES %s", i, strings.Join(vals, ",")))
				vals = vals[:0]
			}
		}
	}
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// workload runs sysbench-like write transactions on the source until stopped.
type workload struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	txns    atomic.Int64
	lastErr atomic.Value
}

func startWorkload(db *sql.DB, workers int) *workload {
	w := &workload{stop: make(chan struct{})}
	for range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				select {
				case <-w.stop:
					return
				case <-time.After(workloadPause):
				}
				tbl := fmt.Sprintf("shop.sbtest%d", 1+rand.IntN(e2eTables))
				id := 1 + rand.IntN(e2eTableRows*2)
				tx, err := db.Begin()
				if err != nil {
					w.lastErr.Store(err.Error())
					continue
				}
				_, e1 := tx.Exec("UPDATE "+tbl+" SET k = k + 1 WHERE id = ?", id)
				_, e2 := tx.Exec("UPDATE "+tbl+" SET c = ? WHERE id = ?", fmt.Sprintf("upd-%d", rand.Int()), 1+rand.IntN(e2eTableRows))
				_, e3 := tx.Exec("DELETE FROM "+tbl+" WHERE id = ?", id)
				_, e4 := tx.Exec("INSERT INTO "+tbl+" (id, k, c, pad) VALUES (?, ?, 'ins', 'pad')", id, rand.IntN(1000))
				if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
					_ = tx.Rollback()
					continue
				}
				if tx.Commit() == nil {
					w.txns.Add(1)
				}
			}
		}()
	}
	return w
}

func (w *workload) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// tableDigest is a row-level fingerprint of a table: count and an order-independent checksum.
func tableDigest(db *sql.DB, table string) (string, error) {
	var n int64
	var sum sql.NullString
	err := db.QueryRow("SELECT COUNT(*), SUM(CRC32(CONCAT_WS('#', id, k, c, pad))) FROM "+table).Scan(&n, &sum)
	return fmt.Sprintf("%d/%s", n, sum.String), err
}

func sameData(src, dst *sql.DB) (bool, string) {
	for i := 1; i <= e2eTables; i++ {
		tbl := fmt.Sprintf("shop.sbtest%d", i)
		a, err := tableDigest(src, tbl)
		if err != nil {
			return false, err.Error()
		}
		b, err := tableDigest(dst, tbl)
		if err != nil {
			return false, err.Error()
		}
		if a != b {
			return false, fmt.Sprintf("%s: source %s target %s", tbl, a, b)
		}
	}
	return true, ""
}

func component(comps []api.Component, kind string) (api.Component, bool) {
	for _, c := range comps {
		if c.Kind == kind {
			return c, true
		}
	}
	return api.Component{}, false
}

func stepOf(p api.Project, name string) api.Step {
	for _, s := range p.Steps {
		if s.Name == name {
			return s
		}
	}
	return api.Step{}
}

// TestMigrationFailoverAndFencing is the control plane's acceptance scenario: two nodes of one
// region on one MetaDB; a project source -> target runs every step under live writes and verifies
// with zero differences; kill -9 of the node hosting the Incr-Sync moves it to the other node
// within 30 s; the data converges row for row; the killed node's stale Incr-Sync is fenced
// (INCR_FENCED) and after the node restarts there is exactly one Incr-Sync process.
func TestMigrationFailoverAndFencing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	seedSource(t, src)
	c := startCluster(t, meta, "127.0.0.2", "127.0.0.3")
	ctx := context.Background()

	// Both nodes registered and heartbeating; the CLI lists them.
	waitFor(t, 20*time.Second, "both hosts ONLINE", func() (bool, string) {
		hosts, err := c.cli.ListHosts(ctx)
		if err != nil {
			return false, err.Error()
		}
		online := 0
		for _, h := range hosts {
			if h.State == "ONLINE" && !h.LastBeat.IsZero() {
				online++
			}
		}
		return online == 2, fmt.Sprintf("%+v", hosts)
	})
	if out, err := c.runCLI(t, "host", "list"); err != nil || !strings.Contains(out, "127.0.0.2") || !strings.Contains(out, "127.0.0.3") {
		t.Fatalf("oms host list: %v\n%s", err, out)
	}

	wl := startWorkload(src.DB(), 2)
	defer wl.halt()

	pid := createShopProject(t, c, src, dst)
	t.Logf("project %s created and started", pid)

	// Every step runs: the copy, then Incr-Sync catches up past the end of the copy.
	waitFor(t, 60*time.Second, "incremental transfer caught up", func() (bool, string) {
		p, err := c.cli.DescribeProject(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		if p.Status == api.StateFailed {
			t.Fatalf("project failed: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		comps, _ := c.cli.DescribeProjectComponents(ctx, pid)
		return stepOf(p, api.StepIncr).Status == api.StepMonitoring, fmt.Sprintf("steps %+v; components %+v", p.Steps, comps)
	})
	// Verification under live writes reports zero differences.
	var proj api.Project
	waitFor(t, 90*time.Second, "full verification finished", func() (bool, string) {
		p, err := c.cli.DescribeProject(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		proj = p
		if p.Status == api.StateFailed {
			t.Fatalf("project failed: %s %s", p.ErrorCode, p.ErrorMessage)
		}
		return stepOf(p, api.StepFullVerifier).Status == api.StepFinished, fmt.Sprintf("%s %+v", p.Status, p.Steps)
	})
	for _, s := range proj.Steps {
		t.Logf("step %-24s %-10s %5.1f%% %s", s.Name, s.Status, s.Progress, s.Message)
	}
	if v := stepOf(proj, api.StepFullVerifier); v.Metrics["differences"] != 0 {
		t.Fatalf("verification found %v differences: %s", v.Metrics["differences"], v.Message)
	}
	if out, err := c.runCLI(t, "project", "show", pid); err != nil || !strings.Contains(out, api.StepIncr) {
		t.Fatalf("oms project show: %v\n%s", err, out)
	} else {
		t.Logf("oms project show:\n%s", out)
	}

	// kill -9 the node hosting the Incr-Sync.
	comps, err := c.cli.DescribeProjectComponents(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	incr, ok := component(comps, "incr-sync")
	if !ok || incr.Host == "" {
		t.Fatalf("no placed incr-sync: %+v", comps)
	}
	victim := c.nodeByIP(incr.Host)
	var survivor *node
	for _, n := range c.nodes {
		if n != victim {
			survivor = n
		}
	}
	c.cli = api.NewClient(survivor.url(), "admin", adminPassword, false)
	staleSpec := filepath.Join(victim.dataDir, "run", incr.ID, "spec.json")
	t.Logf("killing node %s (incr-sync epoch %d)", victim.ip, incr.Epoch)
	victim.kill9()
	moved := waitFor(t, 30*time.Second, "incr-sync running on the other node", func() (bool, string) {
		comps, err := c.cli.DescribeProjectComponents(ctx, pid)
		if err != nil {
			return false, err.Error()
		}
		cur, _ := component(comps, "incr-sync")
		return cur.Host == survivor.ip && cur.State == "RUNNING" && cur.Epoch > incr.Epoch, fmt.Sprintf("%+v", cur)
	})
	t.Logf("incr-sync moved to %s %.1fs after the kill", survivor.ip, moved.Seconds())

	// The killed node's Incr-Sync kept running as an orphan (components outlive their node). The
	// new epoch fences it: its next apply transaction fails with INCR_FENCED, or it never gets to
	// write at all because the Store serves the consumer's newer connection.
	staleLog := filepath.Join(victim.dataDir, "run", incr.ID, "component.log")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		raw, _ := os.ReadFile(staleLog)
		if strings.Contains(string(raw), "INCR_FENCED") {
			t.Logf("the orphan incr-sync of %s was fenced", victim.ip)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if raw, _ := os.ReadFile(staleLog); !strings.Contains(string(raw), "INCR_FENCED") {
		s := string(raw)
		if len(s) > 3000 {
			s = s[len(s)-3000:]
		}
		t.Logf("orphan incr-sync not fenced by a write attempt within 20 s (alive: %v); its log:\n%s", componentPIDs(victim.dataDir, "incr-sync"), s)
	}

	// Writes continue a little on the new owner, then stop; the target converges row for row.
	time.Sleep(3 * time.Second) //nolint:forbidigo // let the workload run across the failover; not synchronisation
	wl.halt()
	t.Logf("workload committed %d transactions", wl.txns.Load())
	waitFor(t, 60*time.Second, "source == target (row level)", func() (bool, string) { return sameData(src.DB(), dst.DB()) })

	// Restart the killed node: it kills what is left of its orphan and does not take the task back.
	victim.start(t)
	waitFor(t, 20*time.Second, "one incr-sync process", func() (bool, string) {
		pids := componentPIDs(c.dir, "incr-sync")
		return len(pids) == 1, fmt.Sprintf("incr-sync processes: %v", pids)
	})
	// A stale writer started by hand with the old epoch is refused.
	cmd := exec.Command(testenv.OMSBinary(t), "component", "incr-sync", "--spec", staleSpec)
	fenced, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(fenced), "INCR_FENCED") {
		t.Fatalf("stale incr-sync with epoch %d: err=%v, want INCR_FENCED:\n%s", incr.Epoch, err, fenced)
	}
	comps, _ = c.cli.DescribeProjectComponents(ctx, pid)
	if cur, _ := component(comps, "incr-sync"); cur.Host != survivor.ip {
		t.Fatalf("incr-sync went back to %s after the restart", cur.Host)
	}
	if ok, why := sameData(src.DB(), dst.DB()); !ok {
		t.Fatalf("after restart: %s", why)
	}

	// Release stops and removes every component.
	if out, err := c.runCLI(t, "project", "release", pid); err != nil {
		t.Fatalf("oms project release: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "project RELEASED", func() (bool, string) {
		p, err := c.cli.DescribeProject(ctx, pid)
		return err == nil && p.Status == api.StateReleased, p.Status
	})
	waitFor(t, 15*time.Second, "no component processes", func() (bool, string) {
		pids := componentPIDs(c.dir, "")
		return len(pids) == 0, fmt.Sprint(pids)
	})
}

// createShopProject creates and starts a project copying shop.sbtest* from src to dst with the
// CLI and returns its id.
func createShopProject(t *testing.T, c *cluster, src, dst *testenv.Instance) string {
	t.Helper()
	projectYAML := filepath.Join(c.dir, "project.yaml")
	if err := os.WriteFile(projectYAML, []byte(fmt.Sprintf(`name: e2e-shop
source: {name: e2e-src, host: 127.0.0.1, port: %d, userName: root, password: ""}
sink: {name: e2e-dst, host: 127.0.0.1, port: %d, userName: root, password: ""}
transferMapping:
  tables:
    - {db: shop, table: "sbtest*"}
start: true
`, src.Port, dst.Port)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := c.runCLI(t, "project", "create", "-f", projectYAML)
	if err != nil {
		t.Fatalf("oms project create: %v\n%s", err, out)
	}
	return strings.Fields(out)[0]
}

package netns

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
	"github.com/omsdev/oms/internal/verify"
)

// maxUpgradeLag is the most the project may fall behind while its nodes are replaced.
const maxUpgradeLag = 30 * time.Second

// The previous release, built from git history, deploys two regions of two hosts; a project
// from region 1 to region 2 runs under writes; `oms upgrade` of this build replaces every node,
// one at a time. Throughout, the project's end-to-end lag (a probe row written on the source
// every 250 ms, timed until the target has it) stays under 30 s and no component runs as two
// processes at once; afterwards every node runs this build and a full verification of source and
// target finds 0 differences.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	rel := testenv.PreviousRelease()
	began := time.Now()
	oldBin := testenv.ReleaseBinary(t, rel)
	// v0.1.0 connects to MySQL in clear: its MetaDB, source and target accept that.
	c := buildCluster(t, false, 2, 2)
	t.Logf("%s built, 4 hosts up in %v", rel.Tag, time.Since(began).Round(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	src, dst := endpointSSL(t, c.n, 1, false), endpointSSL(t, c.n, 2, false)
	shop.Seed(t, src.DB())
	if _, err := src.DB().Exec("CREATE TABLE shop.sbtest_probe (id INT PRIMARY KEY, seq BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	deployer := c.hosts[c.n.HostIP(1, 1)]
	clusterFile := filepath.Join(c.dir, "oms-cluster.yaml")
	if err := os.WriteFile(clusterFile, config.FormatCluster(c.regions), 0o600); err != nil {
		t.Fatal(err)
	}
	oldDir := filepath.Join(c.dir, "release")
	os.MkdirAll(oldDir, 0o700)
	oldFlags := c.deployFlags(deployer)
	oldFlags[5] = buildPackage(t, oldBin, oldDir) // -d: the previous release's package
	out, err := c.run(ctx, oldBin, deployer, append([]string{"deploy", "-c", clusterFile}, oldFlags...)...)
	if err != nil {
		t.Fatalf("%s oms deploy: %v\n%s", rel.Tag, err, out)
	}
	assertVersions(t, c, rel.Tag)
	t.Logf("%s deployed on 4 nodes at %v", rel.Tag, time.Since(began).Round(time.Second))

	cli, pid, wl, _, _ := startProject(t, c, src, dst)
	t.Logf("project verified at %v", time.Since(began).Round(time.Second))
	defer wl.Halt()
	mon := watchUpgrade(t, c, src, dst)
	defer mon.stop()

	start := time.Now()
	out, err = c.oms(ctx, deployer, append([]string{"upgrade", "-c", clusterFile, "--drain-timeout", "90s"}, c.deployFlags(deployer)...)...)
	if err != nil {
		t.Fatalf("oms upgrade: %v\n%s\n%s", err, out, mon.report())
	}
	t.Logf("upgraded 4 nodes from %s in %v:\n%s", rel.Tag, time.Since(start).Round(time.Second), out)
	newVersion := strings.Fields(mustOutput(t, c.bin, "version"))[1]
	assertVersions(t, c, newVersion)
	// The project runs on the new build: a probe written after the upgrade reaches the target.
	after, _ := mon.progress()
	scenario.WaitFor(t, 30*time.Second, "a probe written after the upgrade on the target", func() (bool, string) {
		_, seen := mon.progress()
		return seen > after, fmt.Sprintf("target has probe %d, want > %d", seen, after)
	})
	mon.stop()
	if err := mon.err(); err != nil {
		t.Fatalf("during the upgrade: %v\n%s", err, mon.report())
	}
	t.Logf("during the upgrade: %s", mon.report())
	comps, err := cli.DescribeProjectComponents(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"store", "incr-sync"} {
		if cp, ok := scenario.Component(comps, k); !ok || cp.State != "RUNNING" {
			t.Fatalf("%s after the upgrade: %+v", k, comps)
		}
	}

	wl.Halt()
	scenario.WaitFor(t, 60*time.Second, "target == source (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
	fullVerify(t, src, dst)
	t.Logf("%d transactions during the test; 0 differences after the upgrade", wl.Txns())
}

// run runs binary bin in host h's namespace.
func (c *cluster) run(ctx context.Context, bin string, h *Host, args ...string) (string, error) {
	full := append([]string{"netns", "exec", h.Name, bin}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustOutput(t *testing.T, bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	return string(out)
}

// assertVersions: every host of both regions is registered and reports version v.
func assertVersions(t *testing.T, c *cluster, v string) {
	t.Helper()
	rows, err := c.meta.DB().Query("SELECT ip, version FROM e2e_cm.hosts ORDER BY ip")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var ip, hv string
		rows.Scan(&ip, &hv)
		if hv != v {
			t.Errorf("host %s runs %q, want %q", ip, hv, v)
		}
		got = append(got, ip)
	}
	if len(got) != 4 {
		t.Fatalf("registered hosts %v, want 4", got)
	}
}

// fullVerify runs oms's full verification of the shop tables, source against target.
func fullVerify(t *testing.T, src, dst *testenv.Instance) {
	t.Helper()
	ep := func(i *testenv.Instance) mysqlconn.Config {
		return mysqlconn.Config{Host: "127.0.0.1", Port: i.Port, User: "root"}
	}
	cfg := verify.Config{Source: ep(src), Target: ep(dst), RecheckRounds: new(int), OutputDir: t.TempDir(),
		Selection: selection.Config{Tables: []selection.Rule{{DB: "shop", Table: scenario.ShopTables}}}}
	v, err := verify.New(cfg, t.TempDir(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.RunUnit(t, v, 2*time.Minute); err != nil {
		t.Fatalf("full verification: %v", err)
	}
	r := v.Result()
	if n := r.Different + r.OnlyInSource + r.OnlyInTarget + int64(r.SchemaDifferent); n != 0 || len(r.Tables) < shop.Tables+1 {
		t.Fatalf("full verification after the upgrade: %d differences over %d tables: %+v", n, len(r.Tables), r)
	}
}

// upgradeWatch samples, every 250 ms, the project's end-to-end lag and the component processes
// of every host.
type upgradeWatch struct {
	t        *testing.T
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	pending  []probe // probe writes the target did not have yet, oldest first
	written  int64   // newest probe seq committed on the source
	seen     int64   // newest probe seq the target has
	maxLag   time.Duration
	problems []string
	samples  int
	once     sync.Once
}

func watchUpgrade(t *testing.T, c *cluster, src, dst *testenv.Instance) *upgradeWatch {
	w := &upgradeWatch{t: t, done: make(chan struct{})}
	nodesDir := filepath.Join(c.dir, "nodes") + "/"
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var seq int64
		for {
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
			seq++
			if _, err := src.DB().Exec("REPLACE INTO shop.sbtest_probe VALUES (1, ?)", seq); err == nil {
				w.mu.Lock()
				w.pending = append(w.pending, probe{seq, time.Now()})
				w.written = seq
				w.mu.Unlock()
			}
			var got int64
			_ = dst.DB().QueryRow("SELECT seq FROM shop.sbtest_probe WHERE id = 1").Scan(&got)
			twice := componentsRunningTwice(nodesDir)
			w.mu.Lock()
			if got > w.seen {
				w.seen = got
				for len(w.pending) > 0 && w.pending[0].seq <= got {
					w.pending = w.pending[1:]
				}
			}
			if lag := w.lagLocked(); lag > w.maxLag {
				w.maxLag = lag
			}
			if len(twice) > 0 {
				w.problems = append(w.problems, fmt.Sprintf("%s: %s", time.Now().Format("15:04:05.000"), strings.Join(twice, "; ")))
			}
			w.samples++
			w.mu.Unlock()
		}
	}()
	return w
}

type probe struct {
	seq int64
	at  time.Time
}

// lagLocked: how long the oldest probe write the target does not have yet has been waiting.
func (w *upgradeWatch) lagLocked() time.Duration {
	if len(w.pending) == 0 {
		return 0
	}
	return time.Since(w.pending[0].at)
}

// progress returns the newest probe seq written on the source and the newest the target has.
func (w *upgradeWatch) progress() (written, seen int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written, w.seen
}

func (w *upgradeWatch) stop() { w.once.Do(func() { close(w.done); w.wg.Wait() }) }

func (w *upgradeWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []string
	if w.maxLag >= maxUpgradeLag {
		errs = append(errs, fmt.Sprintf("the lag reached %v (limit %v)", w.maxLag.Round(100*time.Millisecond), maxUpgradeLag))
	}
	if len(w.problems) > 0 {
		errs = append(errs, fmt.Sprintf("a component ran as two processes in %d samples, first %s", len(w.problems), w.problems[0]))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

func (w *upgradeWatch) report() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d samples, max lag %v, %d samples with a component twice", w.samples, w.maxLag.Round(100*time.Millisecond), len(w.problems))
}

// componentsRunningTwice lists the tasks that have a live `oms component` process in more than
// one node directory under nodesDir (a process's working directory is <node>/run/<task> or
// <node>/store/<task>). Every namespace shares the PID namespace, so /proc sees them all.
func componentsRunningTwice(nodesDir string) []string {
	ents, _ := os.ReadDir("/proc")
	byTask := map[string][]string{}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "\x00component\x00") {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
			continue // a zombie does no work
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, nodesDir) {
			continue
		}
		node, _, _ := strings.Cut(strings.TrimPrefix(cwd, nodesDir), "/")
		byTask[filepath.Base(cwd)] = append(byTask[filepath.Base(cwd)], node+"(pid "+e.Name()+")")
	}
	var twice []string
	for task, where := range byTask {
		if len(where) > 1 {
			sort.Strings(where)
			twice = append(twice, task+" on "+strings.Join(where, ", "))
		}
	}
	sort.Strings(twice)
	return twice
}

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestBenchManyProjects is the many-projects benchmark of issue 20 (bench/many_projects.sh runs
// it; `make test` skips it): N small projects (default 60) on 3 nodes of one region. It prints
// the placement per node and its balance, the idle CPU of each node (the node and its
// components), the MetaDB's queries/s while idle, and how long after a node is killed all of its
// components run elsewhere; every table is equal on both sides at the end (CHECKSUM TABLE).
func TestBenchManyProjects(t *testing.T) {
	if os.Getenv("OMS_BENCH_MANY_PROJECTS") == "" {
		t.Skip("a benchmark: bench/many_projects.sh runs it")
	}
	projects := 60
	if v, err := strconv.Atoi(os.Getenv("PROJECTS")); err == nil && v > 0 {
		projects = v
	}
	ctx := context.Background()
	insts := testenv.StartN(t, 3)
	meta, src, dst := insts[0], insts[1], insts[2]
	for i := range projects {
		db := fmt.Sprintf("p%02d", i)
		mustExecDB(t, src, "CREATE DATABASE "+db,
			"CREATE TABLE "+db+".t (id INT PRIMARY KEY, v VARCHAR(40), n INT) ENGINE=InnoDB",
			"INSERT INTO "+db+".t SELECT seq, CONCAT('row ', seq), seq % 7 FROM "+db+".seq_1_to_200")
	}
	c := startCluster(t, meta, "127.0.0.21", "127.0.0.22", "127.0.0.23")
	srcDS, err := c.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "many-src", Host: "127.0.0.1", Port: src.Port, UserName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	dstDS, err := c.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "many-dst", Host: "127.0.0.1", Port: dst.Port, UserName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	began := time.Now()
	for i := range projects {
		_, err := c.cli.CreateProject(ctx, api.CreateProjectRequest{Name: fmt.Sprintf("many-%02d", i), SourceEndpointID: srcDS.ID, SinkEndpointID: dstDS.ID,
			TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: fmt.Sprintf("p%02d", i), Table: "t"}}}, EnableFullVerify: &off, StartImmediately: true})
		if err != nil {
			t.Fatalf("project %d: %v", i, err)
		}
	}
	t.Logf("created %d projects in %.1fs", projects, time.Since(began).Seconds())
	scenario.WaitFor(t, time.Duration(max(projects, 12))*10*time.Second, "every project in incremental sync", func() (bool, string) {
		ps, err := c.cli.ListProjects(ctx, api.ListProjectsRequest{})
		if err != nil {
			return false, err.Error()
		}
		syncing, example := 0, ""
		for _, p := range ps {
			if p, err = c.cli.DescribeProject(ctx, p.ID); err != nil { // with its steps
				return false, err.Error()
			}
			if scenario.Step(p, api.StepIncr).Status != api.StepMonitoring {
				example = fmt.Sprintf("; %s is %s, steps %+v", p.Name, p.Status, p.Steps)
			}
			if p.Status == api.StateFailed {
				t.Fatalf("project %s failed: %s %s", p.Name, p.ErrorCode, p.ErrorMessage)
			}
			if scenario.Step(p, api.StepIncr).Status == api.StepMonitoring {
				syncing++
			}
		}
		return syncing == projects, fmt.Sprintf("%d/%d syncing%s", syncing, projects, example)
	})
	t.Logf("all %d projects in incremental sync %.1fs after the first was created", projects, time.Since(began).Seconds())

	perHost := running(t, c)
	counts := map[string]int{}
	for h, ids := range perHost {
		counts[h] = len(ids)
	}
	lo, hi := minMax(counts, c)
	fmt.Printf("placement: %s running components per node; most/least = %.2f (target <= 1.5)\n", describe(counts), float64(hi)/float64(max(lo, 1)))

	// Idle: no writes anywhere. The MetaDB's general log (a table) names the statements.
	const window = 10 * time.Second
	mustExecDB(t, meta, "TRUNCATE TABLE mysql.general_log", "SET GLOBAL log_output = 'TABLE'", "SET GLOBAL general_log = ON")
	q0 := questions(t, meta)
	cpu0 := map[string]map[string]float64{}
	for _, n := range c.nodes {
		cpu0[n.ip] = cpuByKind(n)
	}
	time.Sleep(window) //nolint:forbidigo // the measurement window itself
	q1 := questions(t, meta)
	mustExecDB(t, meta, "SET GLOBAL general_log = OFF")
	for _, n := range c.nodes {
		now, total := cpuByKind(n), 0.0
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(now)) {
			pct := 100 * (now[k] - cpu0[n.ip][k]) / window.Seconds()
			total += pct
			parts = append(parts, fmt.Sprintf("%s %.1f%%", k, pct))
		}
		fmt.Printf("idle CPU of node %s with %d components: %.1f%% of one core (%s)\n", n.ip, counts[n.ip], total, strings.Join(parts, ", "))
	}
	fmt.Printf("MetaDB while idle: %.0f queries/s for %d projects on %d nodes; by statement: %s\n", float64(q1-q0)/window.Seconds(), projects, len(c.nodes), idleStatements(t, meta, window))

	// A write in every project, then the node with the most components dies with its children.
	writeAll(t, src, projects, 1000)
	victim := c.nodes[0]
	for _, n := range c.nodes {
		if counts[n.ip] > counts[victim.ip] {
			victim = n
		}
	}
	moved := perHost[victim.ip]
	if victim == c.nodes[0] {
		c.cli = api.NewClient(c.nodes[1].url(), "admin", adminPassword, false)
	}
	killedAt := time.Now()
	victim.kill9()
	killComponentsUnder(victim.dataDir)
	var timeline []string
	last := -1
	took := scenario.WaitFor(t, 120*time.Second, fmt.Sprintf("the %d components of %s running elsewhere", len(moved), victim.ip), func() (bool, string) {
		now := running(t, c)
		elsewhere := 0
		for h, ids := range now {
			if h == victim.ip {
				continue
			}
			for _, id := range ids {
				if slices.Contains(moved, id) {
					elsewhere++
				}
			}
		}
		if elsewhere != last {
			last = elsewhere
			timeline = append(timeline, fmt.Sprintf("%.1fs:%d", time.Since(killedAt).Seconds(), elsewhere))
		}
		return elsewhere == len(moved), fmt.Sprintf("%d/%d", elsewhere, len(moved))
	})
	fmt.Printf("node %s killed with %d components: all running elsewhere after %.1fs (target <= 30 s); running elsewhere over time: %s\n", victim.ip, len(moved), took.Seconds(), strings.Join(timeline, " "))
	writeAll(t, src, projects, 2000)
	scenario.WaitFor(t, 180*time.Second, "every table equal on both sides", func() (bool, string) {
		var differ []string
		for i := range projects {
			tb := fmt.Sprintf("p%02d.t", i)
			if checksum(src, tb) != checksum(dst, tb) {
				differ = append(differ, fmt.Sprintf("%s (%s)", tb, projectState(c, fmt.Sprintf("many-%02d", i))))
			}
		}
		return len(differ) == 0, fmt.Sprintf("%d tables differ: %s", len(differ), strings.Join(differ, "; "))
	})
	fmt.Printf("correctness: CHECKSUM TABLE equal for all %d tables\n", projects)
}

func mustExecDB(t *testing.T, inst *testenv.Instance, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := inst.DB().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// running maps each host to the ids of the components running there.
func running(t *testing.T, c *cluster) map[string][]string {
	t.Helper()
	comps, err := c.cli.ListComponents(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, cp := range comps {
		if cp.State == "RUNNING" {
			out[cp.Host] = append(out[cp.Host], cp.ID)
		}
	}
	return out
}

func minMax(counts map[string]int, c *cluster) (lo, hi int) {
	lo = -1
	for _, n := range c.nodes {
		v := counts[n.ip]
		if lo < 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi
}

func describe(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	return strings.Join(parts, " ")
}

// cpuByKind is the CPU time (user + system, seconds) used so far by a node process ("node") and
// by its component processes of each kind.
func cpuByKind(n *node) map[string]float64 {
	out := map[string]float64{}
	if n.cmd != nil && n.cmd.Process != nil {
		out["node"] = cpuSeconds(n.cmd.Process.Pid)
	}
	for _, kind := range []string{"store", "incr-sync"} {
		for _, pid := range componentPIDs(n.dataDir, kind) {
			out[kind] += cpuSeconds(pid)
		}
	}
	return out
}

// cpuSeconds is a process's CPU time so far (0 when it is gone).
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) <= 12 {
		return 0
	}
	u, _ := strconv.ParseFloat(fields[11], 64) // utime (field 14 of stat)
	k, _ := strconv.ParseFloat(fields[12], 64) // stime
	return (u + k) / 100                       // USER_HZ
}

// idleStatements summarises the MetaDB's general log of the window: statements per second by
// their first words and table, most frequent first.
func idleStatements(t *testing.T, inst *testenv.Instance, window time.Duration) string {
	t.Helper()
	rows, err := inst.DB().Query(`SELECT SUBSTRING_INDEX(REGEXP_REPLACE(CONVERT(argument USING utf8mb4), '\\s+', ' '), ' ', 4) AS stmt, COUNT(*) AS n
		FROM mysql.general_log WHERE command_type IN ('Query', 'Execute') GROUP BY stmt ORDER BY n DESC LIMIT 8`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var stmt string
		var n int
		if rows.Scan(&stmt, &n) == nil {
			parts = append(parts, fmt.Sprintf("%.1f/s %q", float64(n)/window.Seconds(), stmt))
		}
	}
	_, _ = inst.DB().Exec("TRUNCATE TABLE mysql.general_log")
	return strings.Join(parts, ", ")
}

func questions(t *testing.T, inst *testenv.Instance) int64 {
	t.Helper()
	var name string
	var v int64
	if err := inst.DB().QueryRow("SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func writeAll(t *testing.T, inst *testenv.Instance, projects, base int) {
	t.Helper()
	for i := range projects {
		db := fmt.Sprintf("p%02d", i)
		mustExecDB(t, inst, fmt.Sprintf("INSERT INTO %s.t VALUES (%d, 'after', 1)", db, base+i), fmt.Sprintf("UPDATE %s.t SET n = n + 1 WHERE id = %d", db, i+1))
	}
}

func checksum(inst *testenv.Instance, table string) int64 {
	var name string
	var sum *int64
	if err := inst.DB().QueryRow("CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil || sum == nil {
		return -1
	}
	return *sum
}

// projectState describes a project and its components, for the message of a failed check.
func projectState(c *cluster, name string) string {
	ctx := context.Background()
	ps, err := c.cli.ListProjects(ctx, api.ListProjectsRequest{})
	if err != nil {
		return err.Error()
	}
	for _, p := range ps {
		if p.Name != name {
			continue
		}
		comps, _ := c.cli.ListComponents(ctx, p.ID)
		var parts []string
		for _, cp := range comps {
			parts = append(parts, fmt.Sprintf("%s on %s %s epoch %d pos %q lag %.0fs %s %s", cp.Kind, cp.Host, cp.State, cp.Epoch, cp.Position, cp.LagSeconds, cp.ErrorCode, cp.ErrorMessage))
		}
		return fmt.Sprintf("%s %s: %s", p.ID, p.Status, strings.Join(parts, ", "))
	}
	return "no project " + name
}

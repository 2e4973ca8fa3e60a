// Command bidirload drives bench/bidir.sh: two regions A and B (two MariaDB servers already
// running), oms Stores and Incr-Syncs as `oms component` processes, each Store -> Incr-Sync
// stream through a latency proxy (the WAN). Four phases, each: writers for -duration, then until
// both regions hold the same rows; per direction: end-to-end lag p50/p99 (a probe row written on
// one side every 100 ms, timed until it is readable on the other), rows/s applied (from the start
// of writing until the regions are equal), source txn/s, conflicts found.
//
//	one-way  at -rate and at max rate: writers on A only, a plain (one-way) A -> B pipeline
//	two-way  at -rate and at max rate: writers on both sides (disjoint keys plus -conflict on keys
//	         both write), a two-way pair (echo marker, atomic transactions, conflict detection, lww)
//
// then the two-way/one-way ratio of rows/s per direction at each rate.
//
//	go run ./bench/bidirload -oms bin/oms -a 24416 -b 24417 -dir /tmp/omsbench-bidir -duration 30s
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/testenv/latency"
)

var (
	omsBin   = flag.String("oms", "bin/oms", "the oms binary")
	portA    = flag.Int("a", 24416, "port of region A's MariaDB")
	portB    = flag.Int("b", 24417, "port of region B's MariaDB")
	user     = flag.String("user", "root", "database user")
	pass     = flag.String("password", "", "database password")
	dir      = flag.String("dir", "/tmp/omsbench-bidir", "work directory")
	duration = flag.Duration("duration", 30*time.Second, "each phase's writing time")
	rate     = flag.Int("rate", 200, "transactions per second per writing region")
	conflict = flag.Float64("conflict", 0.05, "share of transactions on keys both regions write")
	delay    = flag.Duration("delay", 30*time.Millisecond, "one-way latency added to each Store -> Incr-Sync stream")
	writers  = flag.Int("writers", 4, "writer connections per region")
)

type region struct {
	name string
	port int
	db   *sql.DB
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bidirload:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	a, b := &region{name: "A", port: *portA}, &region{name: "B", port: *portB}
	for _, r := range []*region{a, b} {
		var err error
		r.db, err = sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/?interpolateParams=true", *user, *pass, r.port))
		if err != nil {
			return err
		}
		r.db.SetMaxOpenConns(*writers + 4)
		for _, s := range []string{"DROP DATABASE IF EXISTS app", "DROP DATABASE IF EXISTS __oms", "CREATE DATABASE app",
			"CREATE TABLE app.t (id BIGINT PRIMARY KEY, v VARCHAR(64), ver BIGINT NOT NULL, pad VARCHAR(120))",
			"CREATE TABLE app.probe (id BIGINT PRIMARY KEY, at BIGINT NOT NULL)"} {
			if _, err := r.db.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("region %s: %s: %w", r.name, s, err)
			}
		}
	}
	_ = os.RemoveAll(*dir)
	fmt.Printf("latency added per Store -> Incr-Sync stream: %s; %d writer connections per writing region, %.0f%% of two-way transactions on shared keys, %s of writing per phase\n",
		*delay, *writers, 100**conflict, *duration)
	fmt.Printf("%-8s %-6s %-4s %9s %9s %9s %10s %10s\n", "PHASE", "RATE", "DIR", "LAG_P50", "LAG_P99", "ROWS/S", "SRC_TXN/S", "CONFLICTS")
	rates := []int{*rate, 0}
	rowsPerS := map[string]float64{} // phase/rate/dir -> rows/s
	for _, twoWay := range []bool{false, true} {
		phase, regs, dirs := "one-way", []*region{a}, [][2]*region{{a, b}}
		if twoWay {
			phase, regs, dirs = "two-way", []*region{a, b}, [][2]*region{{a, b}, {b, a}}
		}
		pipes, err := startPipes(ctx, dirs, twoWay)
		if err != nil {
			return err
		}
		for _, rt := range rates {
			res, err := runPhase(ctx, regs, a, b, pipes, rt)
			if err != nil {
				pipes.stop()
				return err
			}
			for _, r := range res {
				fmt.Printf("%-8s %-6s %-4s %7.0fms %7.0fms %9.0f %10.0f %10d\n", phase, rateName(rt), r.dir, r.p50, r.p99, r.rowsPerS, r.srcTxnPerS, r.conflicts)
				rowsPerS[fmt.Sprintf("%s/%d/%s", phase, rt, r.dir)] = r.rowsPerS
			}
		}
		pipes.stop()
	}
	for _, rt := range rates {
		one := rowsPerS[fmt.Sprintf("one-way/%d/AB", rt)]
		if one == 0 {
			continue
		}
		fmt.Printf("two-way/one-way rows/s at rate %s: AB %.2f, BA %.2f (one-way A -> B: %.0f rows/s)\n", rateName(rt),
			rowsPerS[fmt.Sprintf("two-way/%d/AB", rt)]/one, rowsPerS[fmt.Sprintf("two-way/%d/BA", rt)]/one, one)
	}
	same, err := sameRows(ctx, a, b)
	if err != nil {
		return err
	}
	fmt.Printf("regions equal after all phases: %v\n", same)
	if !same {
		return fmt.Errorf("the regions differ")
	}
	return nil
}

func rateName(rt int) string {
	if rt == 0 {
		return "max"
	}
	return fmt.Sprint(rt)
}

// pipes are the running components of a phase: per direction ("AB") the Incr-Sync's work dir.
type pipes struct {
	incrDirs map[string]string
	procs    []*exec.Cmd
	proxies  []*latency.Proxy
}

func (p *pipes) stop() {
	for _, c := range p.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	for _, x := range p.proxies {
		x.Close()
	}
}

// startPipes starts a Store on each direction's source and its Incr-Sync into the target, from
// the source's current position: plain one-way pipelines, or a two-way pair (each Store drops
// the other direction's echoes; conflicts by last-writer-wins on ver, A first on ties).
func startPipes(ctx context.Context, dirs [][2]*region, twoWay bool) (*pipes, error) {
	p := &pipes{incrDirs: map[string]string{}}
	kind := map[bool]string{false: "oneway", true: "twoway"}[twoWay]
	for _, d := range dirs {
		src, dst := d[0], d[1]
		name := src.name + dst.name
		var pos string
		if err := src.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			p.stop()
			return nil, err
		}
		storeAddr := freeAddr()
		conn := func(port int) map[string]any {
			return map[string]any{"host": "127.0.0.1", "port": port, "user": *user, "password": *pass}
		}
		storeCfg := map[string]any{"source": conn(src.port), "start": map[string]string{"gtid_set": pos}, "listen": storeAddr}
		if twoWay {
			storeCfg["echo_tasks"] = []string{"incr-" + kind + "-" + dst.name + src.name}
		}
		storeDir := filepath.Join(*dir, kind, "store-"+src.name)
		st, err := start(ctx, "store", "store-"+kind+"-"+src.name, storeDir, storeCfg)
		if err != nil {
			p.stop()
			return nil, err
		}
		p.procs = append(p.procs, st)
		if err := waitStatus(ctx, storeDir, 60*time.Second); err != nil { // serving before its Incr-Sync connects
			p.stop()
			return nil, fmt.Errorf("store %s: %w", src.name, err)
		}
		proxy, err := latency.Start("127.0.0.1:0", storeAddr, *delay)
		if err != nil {
			p.stop()
			return nil, err
		}
		p.proxies = append(p.proxies, proxy)
		incrCfg := map[string]any{"store_addr": proxy.Addr(), "start_gtid": pos, "target": conn(dst.port), "workers": 4,
			"selection": map[string]any{"tables": []map[string]string{{"db": "app"}}}}
		if twoWay {
			incrCfg["two_way"] = map[string]any{"source_region": src.name, "target_region": dst.name, "ddl_region": "A",
				"conflicts": map[string]any{"default": map[string]string{"policy": "lww", "column": "ver"}, "priority": []string{"A", "B"},
					"tables": map[string]any{"app.probe": map[string]string{"policy": "overwrite"}}}}
		}
		incrDir := filepath.Join(*dir, kind, "incr-"+name)
		in, err := start(ctx, "incr-sync", "incr-"+kind+"-"+name, incrDir, incrCfg)
		if err != nil {
			p.stop()
			return nil, err
		}
		p.procs = append(p.procs, in)
		p.incrDirs[name] = incrDir
	}
	for d, wd := range p.incrDirs {
		if err := waitStatus(ctx, wd, 60*time.Second); err != nil {
			p.stop()
			return nil, fmt.Errorf("incr-sync %s: %w", d, err)
		}
	}
	return p, nil
}

type result struct {
	dir                  string
	p50, p99             float64
	rowsPerS, srcTxnPerS float64
	conflicts            int
}

// runPhase writes on regs for the phase's duration (rt transactions per second per region, 0:
// as fast as the writers go) while probing each running direction, waits until the regions hold
// the same rows, and returns per direction what it measured.
func runPhase(ctx context.Context, regs []*region, a, b *region, p *pipes, rt int) ([]result, error) {
	pctx, stop := context.WithTimeout(ctx, *duration)
	defer stop()
	var wg sync.WaitGroup
	var txns [2]atomic.Int64
	errc := make(chan error, 16)
	for ri, r := range regs {
		base := int64(1+ri) * 100_000_000
		for w := 0; w < *writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(ri*100+w), uint64(time.Now().UnixNano())))
				var tick <-chan time.Time
				if rt > 0 {
					t := time.NewTicker(time.Second * time.Duration(*writers) / time.Duration(rt))
					defer t.Stop()
					tick = t.C
				}
				for pctx.Err() == nil {
					if tick != nil {
						select {
						case <-pctx.Done():
							return
						case <-tick:
						}
					}
					id := base + rnd.Int64N(100000)
					if len(regs) > 1 && rnd.Float64() < *conflict {
						id = rnd.Int64N(200) // shared keys
					}
					_, err := r.db.ExecContext(ctx, "INSERT INTO app.t (id, v, ver, pad) VALUES (?, ?, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED), REPEAT('x', 100))"+
						" ON DUPLICATE KEY UPDATE v = VALUES(v), ver = VALUES(ver)", id, fmt.Sprintf("%s-%d", r.name, rnd.IntN(1e6)))
					if err != nil && !strings.Contains(err.Error(), "Deadlock") && !strings.Contains(err.Error(), "Lock wait") {
						errc <- err
						return
					}
					txns[ri].Add(1)
				}
			}()
		}
	}
	type probeRes struct {
		dir      string
		src, dst *region
		lags     []float64
	}
	var probes []*probeRes
	for _, d := range [][2]*region{{a, b}, {b, a}} {
		if wd := p.incrDirs[d[0].name+d[1].name]; wd != "" {
			probes = append(probes, &probeRes{dir: d[0].name + d[1].name, src: d[0], dst: d[1]})
		}
	}
	for _, pr := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := int64(time.Now().UnixNano()); pctx.Err() == nil; id++ {
				t0 := time.Now()
				if _, err := pr.src.db.ExecContext(ctx, "INSERT INTO app.probe VALUES (?, ?)", id, t0.UnixMicro()); err != nil {
					errc <- err
					return
				}
				for {
					var one int
					if pr.dst.db.QueryRowContext(ctx, "SELECT 1 FROM app.probe WHERE id = ?", id).Scan(&one) == nil {
						pr.lags = append(pr.lags, float64(time.Since(t0).Milliseconds()))
						break
					}
					if st, ok := statusOf(p.incrDirs[pr.dir]); time.Since(t0) > 5*time.Minute || !ok && time.Since(t0) > 10*time.Second || st.Error != nil {
						errc <- fmt.Errorf("probe %d not applied %s (incr-sync %+v; see %s/component.log)", id, pr.dir, st.Error, p.incrDirs[pr.dir])
						stop()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	before := map[string]float64{}
	conflictsBefore := map[string]int{}
	for _, pr := range probes {
		before[pr.dir] = statusMetric(p.incrDirs[pr.dir], "applied_rows_total")
		conflictsBefore[pr.dir] = conflictsOf(ctx, pr.dst, pr.dir)
	}
	t0 := time.Now()
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	// drain: the directions apply what was written
	deadline := time.Now().Add(10 * time.Minute)
	for {
		same, err := sameRows(ctx, a, b)
		if err != nil {
			return nil, err
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the regions did not converge within 10 min")
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(t0).Seconds()
	var out []result
	for _, pr := range probes {
		sort.Float64s(pr.lags)
		r := result{dir: pr.dir, p50: pct(pr.lags, 0.5), p99: pct(pr.lags, 0.99)}
		r.rowsPerS = (statusMetric(p.incrDirs[pr.dir], "applied_rows_total") - before[pr.dir]) / elapsed
		for ri, reg := range regs {
			if reg == pr.src {
				r.srcTxnPerS = float64(txns[ri].Load()) / duration.Seconds()
			}
		}
		r.conflicts = conflictsOf(ctx, pr.dst, pr.dir) - conflictsBefore[pr.dir]
		out = append(out, r)
	}
	return out, nil
}

// conflictsOf counts the conflicts the two-way Incr-Sync of direction dir recorded on dst (0
// for one-way: no conflict table).
func conflictsOf(ctx context.Context, dst *region, dir string) int {
	var n int
	_ = dst.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM __oms.incr_conflict WHERE task_id = ?", "incr-twoway-"+dir).Scan(&n)
	return n
}

func pct(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func sameRows(ctx context.Context, a, b *region) (bool, error) {
	var sums [2]string
	for i, r := range []*region{a, b} {
		if err := r.db.QueryRowContext(ctx, "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', id, v, ver, pad))), 0)) FROM app.t").Scan(&sums[i]); err != nil {
			return false, err
		}
	}
	return sums[0] == sums[1], nil
}

func freeAddr() string {
	return fmt.Sprintf("127.0.0.1:%d", 30000+rand.IntN(20000))
}

func start(ctx context.Context, kind, task, workDir string, cfg any) (*exec.Cmd, error) {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(cfg)
	spec, _ := json.Marshal(component.Spec{Kind: kind, TaskID: task, Epoch: 1, StatusAddr: "127.0.0.1:0", WorkDir: workDir, Config: raw})
	path := filepath.Join(workDir, "spec.json")
	if err := os.WriteFile(path, spec, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(workDir, "component.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, *omsBin, "component", kind, "--spec", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	return cmd, cmd.Start()
}

func statusOf(workDir string) (component.Status, bool) {
	var st component.Status
	addr, err := os.ReadFile(filepath.Join(workDir, "status.addr"))
	if err != nil {
		return st, false
	}
	resp, err := http.Get("http://" + strings.TrimSpace(string(addr)) + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st) == nil
}

func statusMetric(workDir, key string) float64 {
	st, _ := statusOf(workDir)
	return st.Metrics[key]
}

func waitStatus(ctx context.Context, workDir string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if st, ok := statusOf(workDir); ok && st.State == component.StateRunning {
			return nil
		} else if ok && st.Error != nil {
			return fmt.Errorf("%s: %s", st.Error.Code, st.Error.Message)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not running within %s (see %s/component.log)", within, workDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

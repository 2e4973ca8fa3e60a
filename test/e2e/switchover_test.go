package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// switchShop is the switchover scenarios' data: small, the ledger carries the checks.
var switchShop = scenario.Shop{Tables: 2, Rows: 2000}

// ledgerWriter is the application of the switchover scenarios: every transaction inserts one
// ledger row with its own sequence number (and the side it was written on) and updates a shop
// row, on the side it is told to write to. A write refused by read_only is retried on whatever
// side it is told next; only committed sequence numbers are recorded.
type ledgerWriter struct {
	dbs  map[string]*sql.DB // "S" source, "T" target, as the application user
	side atomic.Value       // where to write now; "" pauses
	seq  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
	// writing is held for each transaction: moveTo returns only when the transaction in flight
	// ended, so a snapshot after moveTo("") is complete.
	writing sync.Mutex

	mu        sync.Mutex
	committed map[int64]string // seq -> side
	lastOK    map[string]time.Time
	firstOK   map[string]time.Time
	refused   int
}

func startLedgerWriter(t *testing.T, dbs map[string]*sql.DB, side string, pause time.Duration) *ledgerWriter {
	w := &ledgerWriter{dbs: dbs, stop: make(chan struct{}), committed: map[int64]string{}, lastOK: map[string]time.Time{}, firstOK: map[string]time.Time{}}
	w.side.Store(side)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(pause)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			w.writing.Lock()
			side := w.side.Load().(string)
			if side == "" {
				w.writing.Unlock()
				continue
			}
			seq := w.seq.Add(1)
			err := w.write(w.dbs[side], seq, side)
			w.mu.Lock()
			now := time.Now()
			if err == nil {
				w.committed[seq] = side
				w.lastOK[side] = now
				if w.firstOK[side].IsZero() {
					w.firstOK[side] = now
				}
			} else {
				w.refused++
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != 1290 { // 1290: read_only
					t.Logf("writer: seq %d on %s: %v", seq, side, err)
				}
			}
			w.mu.Unlock()
			w.writing.Unlock()
		}
	}()
	return w
}

func (w *ledgerWriter) write(db *sql.DB, seq int64, side string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if _, err := tx.Exec("INSERT INTO shop.ledger (seq, side) VALUES (?, ?)", seq, side); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := tx.Exec(fmt.Sprintf("UPDATE shop.sbtest%d SET k = k + 1 WHERE id = ?", 1+seq%2), 1+seq%int64(switchShop.Rows)); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// moveTo tells the writer where to write ("" pauses it); resetting the first/last commit times
// of the new side measures the application's downtime.
func (w *ledgerWriter) moveTo(side string) {
	w.writing.Lock()
	defer w.writing.Unlock()
	w.mu.Lock()
	delete(w.firstOK, side)
	w.mu.Unlock()
	w.side.Store(side)
}

// rate is the writer's commits per second on side while it wrote there.
func (w *ledgerWriter) rate(side string) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.committed {
		if s == side {
			n++
		}
	}
	return float64(n) / w.lastOK[side].Sub(w.firstOK[side]).Seconds()
}

// gap is the time between the last commit on from and the first on to.
func (w *ledgerWriter) gap(from, to string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstOK[to].Sub(w.lastOK[from])
}

func (w *ledgerWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

func (w *ledgerWriter) snapshot() map[int64]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int64]string, len(w.committed))
	for k, v := range w.committed {
		out[k] = v
	}
	return out
}

// checkLedger fails the test unless db holds exactly the committed ledger rows (none lost, none
// extra) and its hit counter (a trigger that counts every row written into shop.ledger there,
// by the application or by oms) counted each exactly once: a transaction oms applied twice or
// echoed back to where it came from would count twice.
func checkLedger(t *testing.T, name string, db *sql.DB, committed map[int64]string) {
	t.Helper()
	got := map[int64]string{}
	rows, err := db.Query("SELECT seq, side FROM shop.ledger")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var seq int64
		var side string
		if err := rows.Scan(&seq, &side); err != nil {
			t.Fatal(err)
		}
		got[seq] = side
	}
	rows.Close()
	var lost, extra []int64
	for seq, side := range committed {
		if got[seq] != side {
			lost = append(lost, seq)
		}
	}
	for seq := range got {
		if _, ok := committed[seq]; !ok {
			extra = append(extra, seq)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	if len(lost) > 0 || len(extra) > 0 {
		t.Fatalf("%s: %d committed transactions lost %v, %d not committed present %v", name, len(lost), head(lost), len(extra), head(extra))
	}
	var hits, distinct int64
	if err := db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT seq) FROM echo_audit.hits").Scan(&hits, &distinct); err != nil {
		t.Fatal(err)
	}
	if hits != int64(len(committed)) || distinct != hits {
		var dup []string
		r, _ := db.Query("SELECT seq, COUNT(*) FROM echo_audit.hits GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq LIMIT 10")
		for r != nil && r.Next() {
			var s, n int64
			_ = r.Scan(&s, &n)
			dup = append(dup, fmt.Sprintf("%d x%d", s, n))
		}
		if r != nil {
			r.Close()
		}
		t.Fatalf("%s: %d ledger writes for %d distinct rows (%d committed): duplicated or echoed: %v", name, hits, distinct, len(committed), dup)
	}
}

func head(xs []int64) []int64 {
	if len(xs) > 10 {
		return xs[:10]
	}
	return xs
}

// prepareSwitchSides seeds the source, creates the ledger and the application user on both sides
// (not replicated: sql_log_bin=0), and returns the application's connections.
func prepareSwitchSides(t *testing.T, src, dst *testenv.Instance) map[string]*sql.DB {
	t.Helper()
	switchShop.Seed(t, src.DB())
	if _, err := src.DB().Exec("CREATE TABLE shop.ledger (seq BIGINT NOT NULL PRIMARY KEY, side CHAR(1) NOT NULL, id BIGINT NOT NULL AUTO_INCREMENT UNIQUE)"); err != nil {
		t.Fatal(err)
	}
	dbs := map[string]*sql.DB{}
	for side, inst := range map[string]*testenv.Instance{"S": src, "T": dst} {
		noBinlog(t, inst.DB(), "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'",
			"GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'127.0.0.1'",
			"CREATE DATABASE echo_audit", "CREATE TABLE echo_audit.hits (n BIGINT AUTO_INCREMENT PRIMARY KEY, seq BIGINT NOT NULL)")
		db, err := sql.Open("mysql", fmt.Sprintf("app:app-pw@tcp(127.0.0.1:%d)/shop", inst.Port))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(2)
		t.Cleanup(func() { db.Close() })
		dbs[side] = db
	}
	return dbs
}

// hitTriggers counts every row written into shop.ledger on db (created after the full copy made
// the table on the target; not replicated).
func hitTriggers(t *testing.T, db *sql.DB) {
	noBinlog(t, db, "CREATE TRIGGER shop.ledger_ins AFTER INSERT ON shop.ledger FOR EACH ROW INSERT INTO echo_audit.hits (seq) VALUES (NEW.seq)",
		"CREATE TRIGGER shop.ledger_upd AFTER UPDATE ON shop.ledger FOR EACH ROW INSERT INTO echo_audit.hits (seq) VALUES (NEW.seq)")
}

func noBinlog(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range append([]string{"SET sql_log_bin = 0"}, stmts...) {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// waitConverged waits until both sides hold the same shop rows and ledger.
func waitConverged(t *testing.T, when string, src, dst *sql.DB) {
	t.Helper()
	scenario.WaitFor(t, 60*time.Second, "source == target "+when, func() (bool, string) {
		ok, why := switchShop.Same(src, dst)
		var n1, n2 int
		_ = src.QueryRow("SELECT COUNT(*) FROM shop.ledger").Scan(&n1)
		_ = dst.QueryRow("SELECT COUNT(*) FROM shop.ledger").Scan(&n2)
		return ok && n1 == n2, fmt.Sprintf("%s; ledger source %d target %d", why, n1, n2)
	})
}

func readOnly(t *testing.T, db *sql.DB) bool {
	t.Helper()
	var ro int
	if err := db.QueryRow("SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
		t.Fatal(err)
	}
	return ro == 1
}

// waitSwitched waits until the switch's TRANSFER_APP_SWITCH finished: the new primary is
// writable and the "operator" moves the application.
func waitSwitched(t *testing.T, cli *api.Client, pid string, d time.Duration) api.Project {
	t.Helper()
	var proj api.Project
	scenario.WaitFor(t, d, "TRANSFER_APP_SWITCH finished", func() (bool, string) {
		p, err := cli.DescribeProject(context.Background(), pid)
		if err != nil {
			return false, err.Error()
		}
		proj = p
		st := scenario.Step(p, api.StepAppSwitch)
		for _, s := range p.Steps {
			if s.Status == api.StepFailed {
				t.Fatalf("step %s failed: %s", s.Name, s.Message)
			}
		}
		return st.Status == api.StepFinished && p.Switch != nil && p.Switch.WritableAt != nil, fmt.Sprintf("%s %+v", p.Status, p.Steps)
	})
	return proj
}

// TestSwitchoverAndRollback is issue 18's acceptance scenario: a project under a writer at about
// 200 transactions/s verifies with 0 differences; a dry run prints every step; the switchover
// with --fence sets the source read-only, hands over at the fence and makes the target the
// primary; the writer moves to the target when told and writes on; the reverse sync brings every
// target transaction to the source: 0 lost, 0 duplicated, 0 echoed, row-level equality. Then a
// rollback (writes stopped by the operator, --yes) does it all the other way. The write downtime
// (last commit on the old primary to first commit on the new one) is logged.
func TestSwitchoverAndRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	app := prepareSwitchSides(t, src, dst)
	c := startCluster(t, meta, "127.0.0.2")
	ctx := context.Background()
	pid := createShopProjectOf(t, c, src, dst, "*") // the sbtest tables and the ledger
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 60*time.Second)
	hitTriggers(t, src.DB())
	hitTriggers(t, dst.DB())

	begin := time.Now()
	scenario.WaitVerified(t, c.cli, pid, 90*time.Second)
	t.Logf("verified after %s", time.Since(begin).Round(time.Second))
	// The writer starts after the verification (which re-checks rows a busy writer changes).
	w := startLedgerWriter(t, app, "S", 5*time.Millisecond) // 200 transactions/s at most
	defer w.halt()
	scenario.WaitFor(t, 30*time.Second, "500 transactions on the source", func() (bool, string) {
		n := len(w.snapshot())
		return n >= 500, fmt.Sprint(n)
	})
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 30*time.Second)

	// The dry run lists every step with positions and changes nothing.
	out, err := c.runCLI(t, "project", "switchover", pid, "--dry-run")
	if err != nil {
		t.Fatalf("switchover --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{api.StepSwitchPrecheck, api.StepSwitchLogPull, api.StepWriteFence, api.StepHandover, api.StepObjectFixup, api.StepAppSwitch, api.StepReverseIncr, "0-"} {
		if !strings.Contains(out, want) {
			t.Fatalf("dry run does not show %q:\n%s", want, out)
		}
	}
	t.Logf("dry run:\n%s", out)
	if readOnly(t, src.DB()) {
		t.Fatal("the dry run set the source read-only")
	}

	// Switchover with --fence; the writer moves when the target is writable.
	start := time.Now()
	done := make(chan string, 1)
	go func() {
		out, err := c.runCLI(t, "project", "switchover", pid, "--fence")
		done <- fmt.Sprintf("err=%v\n%s", err, out)
	}()
	waitSwitched(t, c.cli, pid, 90*time.Second)
	w.moveTo("T")
	t.Logf("switchover: target writable %.1fs after the request", time.Since(start).Seconds())
	res := <-done
	if !strings.HasPrefix(res, "err=<nil>") || !strings.Contains(res, "write downtime") {
		t.Fatalf("oms project switchover --fence: %s", res)
	}
	t.Logf("oms project switchover --fence:\n%s", res)
	if !readOnly(t, src.DB()) || readOnly(t, dst.DB()) {
		t.Fatalf("after the switchover: source read_only=%v target read_only=%v", readOnly(t, src.DB()), readOnly(t, dst.DB()))
	}
	scenario.WaitFor(t, 20*time.Second, "writer commits on the target", func() (bool, string) {
		return w.gap("S", "T") > 0, "no commit on the target yet"
	})
	appGap := w.gap("S", "T")
	p, _ := c.cli.DescribeProject(ctx, pid)
	t.Logf("write downtime with the writer at %.0f tx/s (200 asked): application %.0f ms (last commit on source -> first on target), oms %.0f ms (fence -> target writable)",
		w.rate("S"), float64(appGap.Milliseconds()), p.Switch.DowntimeSeconds*1000)
	scenario.WaitStep(t, c.cli, pid, api.StepReverseIncr, api.StepMonitoring, 60*time.Second)
	time.Sleep(3 * time.Second) //nolint:forbidigo // more writes on the target under the reverse sync; not synchronisation
	w.moveTo("")
	committed := w.snapshot()
	waitConverged(t, "after the switchover", src.DB(), dst.DB())
	checkLedger(t, "source after switchover", src.DB(), committed)
	checkLedger(t, "target after switchover", dst.DB(), committed)
	if out, err := c.runCLI(t, "project", "show", pid); err != nil || !strings.Contains(out, "direction REVERSE") {
		t.Fatalf("project show: %v\n%s", err, out)
	} else {
		t.Logf("oms project show:\n%s", out)
	}

	// A second switchover is refused; the rollback needs a confirmation or --fence.
	if out, err := c.runCLI(t, "project", "switchover", pid, "--fence"); scenario.ExitCode(err) != 4 {
		t.Fatalf("second switchover: exit %d, want 4:\n%s", scenario.ExitCode(err), out)
	}
	if out, err := c.runCLI(t, "project", "rollback", pid); scenario.ExitCode(err) != 3 {
		t.Fatalf("rollback without --yes or --fence: exit %d, want 3:\n%s", scenario.ExitCode(err), out)
	}

	// Rollback: the operator stopped the writes (--yes); the writer goes back to the source.
	w.moveTo("T")
	time.Sleep(time.Second) //nolint:forbidigo // writes on the target right before the rollback; not synchronisation
	w.moveTo("")
	out, err = c.runCLI(t, "project", "rollback", pid, "--yes")
	if err != nil || !strings.Contains(out, "write downtime") {
		t.Fatalf("oms project rollback --yes: %v\n%s", err, out)
	}
	t.Logf("oms project rollback --yes:\n%s", out)
	w.moveTo("S")
	if readOnly(t, src.DB()) {
		t.Fatal("after the rollback the source is still read-only")
	}
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 60*time.Second)
	time.Sleep(2 * time.Second) //nolint:forbidigo // more writes on the source under the forward sync; not synchronisation
	w.halt()
	committed = w.snapshot()
	waitConverged(t, "after the rollback", src.DB(), dst.DB())
	checkLedger(t, "source after rollback", src.DB(), committed)
	checkLedger(t, "target after rollback", dst.DB(), committed)
	sides := map[string]int{}
	for _, s := range committed {
		sides[s]++
	}
	t.Logf("writer committed %d transactions (%v), %d refused by read_only; %s after the verification", len(committed), sides, w.refused, time.Since(begin).Round(time.Second))
	comps, _ := c.cli.DescribeProjectComponents(ctx, pid)
	var ids []string
	for _, x := range comps {
		ids = append(ids, x.ID+" "+x.DesiredState+" "+x.State)
	}
	t.Logf("components after the rollback: %v", ids)
}

// orchestrator is the node holding the project orchestrator lease: the one running the switch.
func (c *cluster) orchestrator(t *testing.T, meta *testenv.Instance) *node {
	t.Helper()
	raw, err := os.ReadFile(c.nodes[0].configPath)
	if err != nil {
		t.Fatal(err)
	}
	cmDB := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "drc_cm_db: "); ok {
			cmDB = strings.TrimSpace(v)
		}
	}
	var holder string
	if err := meta.DB().QueryRow("SELECT holder FROM `" + cmDB + "`.leases WHERE name = 'project-orchestrator' AND expires_at > NOW(6)").Scan(&holder); err != nil {
		t.Fatalf("orchestrator lease: %v", err)
	}
	return c.nodeByIP(holder)
}

// TestSwitchoverSurvivesKill: kill -9 of the node running a switchover (the orchestrator, which
// also hosts components) right after the write fence, the moment both sides are read-only: the
// other node takes over, the switchover ends (finished, or aborted with the source writable
// again) with exactly one side writable, the writer goes there, and both sides end equal with 0
// lost, duplicated or echoed transactions.
func TestSwitchoverSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	begin := time.Now()
	app := prepareSwitchSides(t, src, dst)
	c := startCluster(t, meta, "127.0.0.2", "127.0.0.3")
	ctx := context.Background()
	pid := createShopProjectOf(t, c, src, dst, "*")
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 60*time.Second)
	hitTriggers(t, src.DB())
	hitTriggers(t, dst.DB())
	w := startLedgerWriter(t, app, "S", 10*time.Millisecond)
	defer w.halt()
	scenario.WaitVerified(t, c.cli, pid, 90*time.Second)
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 30*time.Second)

	t.Logf("verified at %s", time.Since(begin).Round(time.Second))
	victim := c.orchestrator(t, meta)
	for _, n := range c.nodes {
		if n != victim {
			c.cli = api.NewClient(n.url(), "admin", adminPassword, false)
		}
	}
	if _, err := c.cli.SwitchoverProject(ctx, api.SwitchoverRequest{ID: pid, Fence: true}); err != nil {
		t.Fatalf("switchover: %v", err)
	}
	scenario.WaitStep(t, c.cli, pid, api.StepWriteFence, api.StepFinished, 60*time.Second)
	victim.kill9()
	t.Logf("killed %s (the orchestrator) after the fence", victim.ip)

	var p api.Project
	scenario.WaitFor(t, 150*time.Second, "the switchover finished or aborted", func() (bool, string) {
		var err error
		if p, err = c.cli.DescribeProject(ctx, pid); err != nil {
			return false, err.Error()
		}
		return p.Switch != nil && !p.Switch.InProgress, fmt.Sprintf("%+v", p.Steps)
	})
	t.Logf("switch over at %s", time.Since(begin).Round(time.Second))
	for _, s := range p.Steps {
		t.Logf("step %-22s %-10s %s", s.Name, s.Status, s.Message)
	}
	srcRO, dstRO := readOnly(t, src.DB()), readOnly(t, dst.DB())
	primary := "S"
	if p.Switch.Direction == api.DirectionReverse {
		primary = "T"
	}
	if srcRO == dstRO || (primary == "T") != srcRO {
		t.Fatalf("after the switch (%s): source read_only=%v target read_only=%v", p.Switch.Direction, srcRO, dstRO)
	}
	t.Logf("direction %s, downtime %.2fs; the writer moves to %s", p.Switch.Direction, p.Switch.DowntimeSeconds, primary)
	w.moveTo(primary)
	step := api.StepIncr
	if primary == "T" {
		step = api.StepReverseIncr
	}
	scenario.WaitStep(t, c.cli, pid, step, api.StepMonitoring, 90*time.Second)
	time.Sleep(2 * time.Second) //nolint:forbidigo // writes on the new primary; not synchronisation
	w.halt()
	committed := w.snapshot()
	waitConverged(t, "after the kill", src.DB(), dst.DB())
	checkLedger(t, "source", src.DB(), committed)
	checkLedger(t, "target", dst.DB(), committed)
}

package cm

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// beater stands in for the supervisors of a region: it writes each host's heartbeat every
// period, except for hosts it is told to keep silent. Errors (MetaDB down) are ignored, as a
// supervisor retries.
type beater struct {
	db     *sql.DB
	hb     string
	region string
	silent sync.Map // ip -> true
	hosts  []string
}

func (b *beater) run(ctx context.Context, period time.Duration) {
	for {
		for _, ip := range b.hosts {
			if _, off := b.silent.Load(ip); off {
				continue
			}
			bctx, cancel := context.WithTimeout(ctx, period)
			_, _ = b.db.ExecContext(bctx, "INSERT INTO "+b.hb+".heartbeats (host_ip, region, beat_at) VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE beat_at = NOW(6)", ip, b.region)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
	}
}

func hostStates(t *testing.T, c *CM) map[string]string {
	t.Helper()
	hosts, err := c.Hosts(context.Background())
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, h := range hosts {
		out[h.IP] = h.State
	}
	return out
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
	return 0
}

// TestMetaDBOutageMovesNothing: a MetaDB that is down for longer than the host-down timeout, then
// back, with the supervisors' beats resuming a moment after the CM reconnects, marks no host down
// and moves no task; a host that really stops beating afterwards is marked down and its task moves.
func TestMetaDBOutageMovesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a MariaDB")
	}
	inst := testenv.StartMariaDB(t)
	ctx := t.Context()
	names := metadb.Names{RM: "ha_rm", CM: "ha_cm", Heartbeat: "ha_cm_hb"}
	cfg := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", CMRegion: "r1", CMRegionCN: "r1", CMLocation: 1,
		CMURL: "http://127.0.0.1:8088", RMDB: names.RM, CMDB: names.CM, HeartbeatDB: names.Heartbeat}
	db, err := metadb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := metadb.Init(ctx, db, names); err != nil {
		t.Fatal(err)
	}
	const downAfter = 2 * time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hosts := []string{"10.9.0.1", "10.9.0.2"}
	var cms []*CM
	for _, ip := range hosts {
		c := New(db, Options{Config: cfg, HostIP: ip, DownAfter: downAfter, Interval: 200 * time.Millisecond}, nil, log)
		if err := c.Register(ctx); err != nil {
			t.Fatal(err)
		}
		cms = append(cms, c)
	}
	b := &beater{db: db, hb: "`" + names.Heartbeat + "`", region: "r1", hosts: hosts}
	bctx, stopBeats := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopBeats(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); b.run(bctx, 200*time.Millisecond) }()
	for _, c := range cms {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(bctx) }()
	}
	tasks := task.NewTable(db, names.CM)
	if err := tasks.Ensure(ctx, "t1", "p1", task.KindIncrSync, "r1", map[string]string{}); err != nil {
		t.Fatal(err)
	}
	var placed task.Task
	waitUntil(t, 10*time.Second, "task placed", func() bool {
		cur, _, err := tasks.Get(ctx, "t1")
		placed = cur
		return err == nil && cur.Host != "" && cur.Epoch == 1
	})

	// Outage: longer than the timeout; the supervisors need a moment after the MetaDB is back.
	for _, ip := range hosts {
		b.silent.Store(ip, true)
	}
	inst.Kill9()
	time.Sleep(3 * downAfter) //nolint:forbidigo // the outage's length is the scenario, not synchronisation
	if err := inst.Restart(ctx, testenv.Options{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a CM back in contact", func() bool { return db.PingContext(ctx) == nil })
	time.Sleep(downAfter * 3 / 4) //nolint:forbidigo // supervisors reconnect later than the CM: the case that failed over wrongly
	for _, ip := range hosts {
		b.silent.Delete(ip)
	}
	// Watch for three timeouts: nothing is marked down, nothing moves.
	deadline := time.Now().Add(3 * downAfter)
	for time.Now().Before(deadline) {
		for ip, st := range hostStates(t, cms[0]) {
			if st != HostOnline {
				t.Fatalf("host %s marked %s after a MetaDB outage without any failed host", ip, st)
			}
		}
		if cur, _, err := tasks.Get(ctx, "t1"); err == nil && (cur.Epoch != placed.Epoch || cur.Host != placed.Host) {
			t.Fatalf("task moved from %s/%d to %s/%d after a MetaDB outage", placed.Host, placed.Epoch, cur.Host, cur.Epoch)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A real failure still moves the task: its host stops beating.
	b.silent.Store(placed.Host, true)
	took := waitUntil(t, 4*downAfter, "task moved off the silent host", func() bool {
		cur, _, err := tasks.Get(ctx, "t1")
		return err == nil && cur.Epoch == placed.Epoch+1 && cur.Host != placed.Host
	})
	t.Logf("host %s silent: task moved after %.1fs (host-down timeout %s)", placed.Host, took.Seconds(), downAfter)
	if st := hostStates(t, cms[0])[placed.Host]; st != HostDown {
		t.Fatalf("silent host is %s, want DOWN", st)
	}
}

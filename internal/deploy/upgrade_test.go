package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"v0.1.0", "v0.1.0", 0, true},
		{"v0.1.0-50-g51bdcae", "v0.1.0", 1, true},
		{"v0.1.0", "v0.1.0-3-gabcdef0", -1, true},
		{"v0.2.0", "v0.1.9-99-gabcdef0-dirty", 1, true},
		{"v1.0.0", "v0.10.0", 1, true},
		{"dev", "v0.1.0", 0, false},
		{"v0.1.0", "", 0, false},
	} {
		cmp, ok := CompareVersions(tc.a, tc.b)
		if cmp != tc.cmp || ok != tc.ok {
			t.Errorf("CompareVersions(%q, %q) = %d, %t; want %d, %t", tc.a, tc.b, cmp, ok, tc.cmp, tc.ok)
		}
	}
	if v := VersionOf("oms v0.1.0-50-g51bdcae (commit 51bdcae, go1.24)\n"); v != "v0.1.0-50-g51bdcae" {
		t.Errorf("VersionOf: %q", v)
	}
}

// upgradeRecorder checks, at each node's installation, that the host is DRAINING and that none of
// its tasks is still placed on it; it migrates the MetaDB for real.
type upgradeRecorder struct {
	t     *testing.T
	c     config.Config
	mu    sync.Mutex
	order []string
}

func (u *upgradeRecorder) SetupRegion(ctx context.Context, c config.Config) error {
	_, err := SetupRegion(ctx, c)
	return err
}

func (u *upgradeRecorder) InstallNode(ctx context.Context, n Node) error {
	db := testenv.Shared(u.t, "metadb").DB()
	var state string
	var onHost int
	db.QueryRow("SELECT state FROM "+sqlgen.Table(u.c.CMDB, "hosts")+" WHERE ip = ?", n.IP).Scan(&state)
	db.QueryRow("SELECT COUNT(*) FROM "+sqlgen.Table(u.c.CMDB, "tasks")+" WHERE host = ?", n.IP).Scan(&onHost)
	if state != metadb.HostDraining || onHost != 0 || n.AdminPassword != "" {
		return fmt.Errorf("node %s installed while %s with %d task(s) on it (admin password given: %t)", n.IP, state, onHost, n.AdminPassword != "")
	}
	u.mu.Lock()
	u.order = append(u.order, n.IP)
	u.mu.Unlock()
	return nil
}

// Upgrade backs up the MetaDB, migrates it, then replaces node after node, each drained first
// (its tasks running elsewhere), and marks it ONLINE again; a downgrade is refused before
// anything changes.
func TestUpgradeRollingDrainAndBackup(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	c := registerRegion(t, inst, uniquePrefix())
	c.CMNodes = []string{"10.1.0.1", "10.1.0.2"}
	db := inst.DB()
	hosts, tasks := sqlgen.Table(c.CMDB, "hosts"), sqlgen.Table(c.CMDB, "tasks")
	if _, err := db.Exec("INSERT INTO " + hosts + " (ip, region, cm_port, console_port, supervisor_port, version) VALUES ('10.1.0.2', 'cn-hangzhou', 8088, 8089, 9000, 'v0.1.0')"); err != nil {
		t.Fatal(err)
	}
	db.Exec("UPDATE " + hosts + " SET version = 'v0.1.0'")
	for _, id := range []string{"p1-store", "p1-incr"} {
		if _, err := db.Exec("INSERT INTO "+tasks+" (id, project_id, kind, region, host, epoch, desired_state, state, spec) VALUES (?, 'p1', 'store', 'cn-hangzhou', '10.1.0.1', 1, 'RUNNING', 'RUNNING', '{}')", id); err != nil {
			t.Fatal(err)
		}
	}
	// A stand-in for the CM leader: tasks on a host that is not ONLINE go to an ONLINE host of the
	// region with a new epoch, and its supervisor reports them RUNNING.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			db.Exec(`UPDATE ` + tasks + ` t JOIN ` + hosts + ` h ON h.ip = t.host AND h.state <> 'ONLINE'
				SET t.host = (SELECT ip FROM (SELECT ip FROM ` + hosts + ` WHERE state = 'ONLINE' ORDER BY ip LIMIT 1) o), t.epoch = t.epoch + 1, t.state = 'RUNNING'`)
			time.Sleep(50 * time.Millisecond) // the stand-in CM's tick
		}
	}()

	backupDir := t.TempDir()
	rec := &upgradeRecorder{t: t, c: c}
	o := UpgradeOptions{Target: Target{InstallDir: "/home/oms", AdminPassword: "secret123"}, NewVersion: "v0.0.9", BackupDir: backupDir, DrainTimeout: 20 * time.Second, Out: io.Discard}
	err := Upgrade(context.Background(), rec, []config.Config{c}, o)
	if omserr.CodeOf(err) != omserr.DeployDowngrade || !strings.Contains(err.Error(), "runs oms v0.1.0, newer than the package's v0.0.9") {
		t.Fatalf("downgrade: %v", err)
	}
	if entries, _ := os.ReadDir(backupDir); len(entries) != 0 || len(rec.order) != 0 {
		t.Fatalf("a refused downgrade changed something: backups %v, installed %v", entries, rec.order)
	}

	o.NewVersion = "v0.1.0-50-g51bdcae"
	var out strings.Builder
	o.Out = &out
	if err := Upgrade(context.Background(), rec, []config.Config{c}, o); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out.String())
	}
	if strings.Join(rec.order, ",") != "10.1.0.1,10.1.0.2" {
		t.Fatalf("installed %v, want one node after the other", rec.order)
	}
	var notOnline int
	db.QueryRow("SELECT COUNT(*) FROM " + hosts + " WHERE state <> 'ONLINE'").Scan(&notOnline)
	if notOnline != 0 {
		t.Fatalf("%d host(s) left not ONLINE", notOnline)
	}
	dumps, _ := filepath.Glob(filepath.Join(backupDir, "oms-metadb-*.sql"))
	if len(dumps) != 1 {
		t.Fatalf("backups: %v\n%s", dumps, out.String())
	}
	dump, _ := os.ReadFile(dumps[0])
	for _, want := range []string{"CREATE DATABASE", "`" + c.CMDB + "`", "`" + c.HeartbeatDB + "`", "p1-store"} {
		if !strings.Contains(string(dump), want) {
			t.Errorf("the backup lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "warning: no other ONLINE node") {
		t.Fatalf("a two-node region drains to the other node:\n%s", out.String())
	}
}

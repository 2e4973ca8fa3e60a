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

func TestVersionOf(t *testing.T) {
	if v := VersionOf("oms v0.1.0-50-g51bdcae (commit 51bdcae, go1.24)\n"); v != "v0.1.0-50-g51bdcae" {
		t.Errorf("VersionOf: %q", v)
	}
}

// upgradeRecorder checks, at each node's installation, that the host is DRAINING and that none of
// its tasks is still placed on it, and at each stop that its tasks have not moved yet (they move
// once the node is stopped); it migrates the MetaDB for real.
type upgradeRecorder struct {
	t       *testing.T
	c       config.Config
	mu      sync.Mutex
	order   []string
	stopped []string // node:tasks on it when it was stopped
}

func (u *upgradeRecorder) StopNode(ctx context.Context, n Node) error {
	var onHost int
	testenv.Shared(u.t, "metadb").DB().QueryRow("SELECT COUNT(*) FROM "+sqlgen.Table(u.c.CMDB, "tasks")+" WHERE host = ?", n.IP).Scan(&onHost)
	u.mu.Lock()
	u.stopped = append(u.stopped, fmt.Sprintf("%s:%d", n.IP, onHost))
	u.mu.Unlock()
	return nil
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
	// No CM runs (the region's CM may be of a version that does not know DRAINING): the upgrade
	// moves the tasks itself. A stand-in for the supervisors reports an ASSIGNED task RUNNING.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			db.Exec("UPDATE " + tasks + " SET state = 'RUNNING' WHERE state = 'ASSIGNED'")
			time.Sleep(50 * time.Millisecond) // the stand-in supervisors' tick
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
	// The idle node first, so the busy node's tasks move once, to an upgraded node; each node is
	// stopped before its tasks move.
	if strings.Join(rec.order, ",") != "10.1.0.2,10.1.0.1" || strings.Join(rec.stopped, ",") != "10.1.0.2:0,10.1.0.1:2" {
		t.Fatalf("installed %v, stopped %v; want the idle node first, each stopped with its tasks still on it", rec.order, rec.stopped)
	}
	var onUpgraded, epoch2 int
	db.QueryRow("SELECT COUNT(*), SUM(epoch = 2) FROM "+tasks+" WHERE host = '10.1.0.2'").Scan(&onUpgraded, &epoch2)
	if onUpgraded != 2 || epoch2 != 2 || !strings.Contains(out.String(), "component p1-store moved to 10.1.0.2 (epoch 2)") {
		t.Fatalf("tasks on the upgraded node: %d (%d at epoch 2)\n%s", onUpgraded, epoch2, out.String())
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

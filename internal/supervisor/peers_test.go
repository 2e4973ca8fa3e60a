package supervisor

import (
	"context"
	"log/slog"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// During a rolling upgrade from v0.1.0 a Store whose Incr-Sync runs on a v0.1.0 node, and an
// Incr-Sync whose Store does, get a plain link (component.Spec.PlainPeer); a link between nodes
// of later versions (or "dev" builds) stays TLS, and other kinds are not concerned.
func TestPlainPeers(t *testing.T) {
	m, keys := freshMetaDB(t)
	ctx := context.Background()
	hosts := sqlgen.Table(m.Names.CM, "hosts")
	for ip, v := range map[string]string{"10.0.0.1": "v0.1.0", "10.0.0.2": "v0.1.0-163-gabcdef0", "10.0.0.3": "dev", "10.0.0.4": "v0.2.0"} {
		if _, err := m.DB.Exec("INSERT INTO "+hosts+" (ip, region, cm_port, console_port, supervisor_port, version) VALUES (?, 'r1', 8088, 8089, 9000, ?)", ip, v); err != nil {
			t.Fatal(err)
		}
	}
	tasks := task.NewTable(m.DB, m.Names.CM)
	place := func(id, project, kind, host string) task.Task {
		if err := tasks.Ensure(ctx, id, project, kind, "r1", map[string]any{}); err != nil {
			t.Fatal(err)
		}
		tk, _, _ := tasks.Get(ctx, id)
		if _, ok, err := tasks.Assign(ctx, tk, host); err != nil || !ok {
			t.Fatalf("assign %s: %v %v", id, ok, err)
		}
		tk, _, _ = tasks.Get(ctx, id)
		return tk
	}
	// p1: the Store on an upgraded node, its Incr-Sync still on v0.1.0. p2: both upgraded.
	// p3: its Store on v0.1.0, the Incr-Sync upgraded.
	mine := []task.Task{
		place("p1-store", "p1", task.KindStore, "10.0.0.2"),
		place("p2-store", "p2", task.KindStore, "10.0.0.2"),
		place("p2-import", "p2", task.KindFullImport, "10.0.0.2"),
		place("p3-incr", "p3", task.KindIncrSync, "10.0.0.3"),
	}
	place("p1-incr", "p1", task.KindIncrSync, "10.0.0.1")
	place("p2-incr", "p2", task.KindIncrSync, "10.0.0.4")
	place("p3-store", "p3", task.KindStore, "10.0.0.1")
	cfg := config.Config{MetaHost: "127.0.0.1", CMDB: m.Names.CM, HeartbeatDB: m.Names.Heartbeat, RMDB: m.Names.RM, CMRegion: "r1"}
	s := New(m.DB, Options{Config: cfg, HostIP: "10.0.0.2"}, keys, slog.Default())
	got := s.plainPeers(ctx, mine)
	want := map[string]bool{"p1-store": true, "p2-store": false, "p3-incr": true}
	if len(got) != len(want) {
		t.Fatalf("plainPeers = %v, want %v", got, want)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: plain %t, want %t", id, got[id], w)
		}
	}
	// Once the v0.1.0 node is upgraded, every link is TLS again.
	if _, err := m.DB.Exec("UPDATE " + hosts + " SET version = 'v0.2.0' WHERE ip = '10.0.0.1'"); err != nil {
		t.Fatal(err)
	}
	for id, plain := range s.plainPeers(ctx, mine) {
		if plain {
			t.Errorf("%s still plain after the upgrade", id)
		}
	}
}

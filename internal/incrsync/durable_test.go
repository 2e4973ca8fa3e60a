package incrsync

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestReportedPositionIsDurable: the position Incr-Sync reports (the MetaDB keeps it, and a Store
// that moves to another node starts there) is always one its checkpoint on the target holds, also
// when it advanced over transactions that carry nothing for this task (other tables' changes).
// (many_projects bench: a restarted Incr-Sync resumed from its last applied transaction, before
// the moved Store's start, and stopped with STORE_POSITION_PURGED.)
func TestReportedPositionIsDurable(t *testing.T) {
	p := newPair(t)
	execAll(t, p.src.DB(),
		"CREATE TABLE "+q(p.db, "a")+" (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE "+q(p.db, "b")+" (id INT PRIMARY KEY, v INT)")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`", "CREATE TABLE "+q(p.db, "a")+" (id INT PRIMARY KEY, v INT)")
	from := gtidPos(t, p.src)
	st := startTestStore(t, p.src, from, false)
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	cfg.StartGTID = from
	cfg.Selection = selection.Config{Tables: []selection.Rule{{DB: p.db, Table: "a"}}}
	task := fmt.Sprintf("durable-%d", taskSeq.Add(1))
	proc := scenario.NewComponentProcess(t, Kind, task, cfg)
	proc.Start()
	execAll(t, p.src.DB(), "INSERT INTO "+q(p.db, "a")+" VALUES (1, 1)")
	for i := range 20 { // nothing for this task
		execAll(t, p.src.DB(), fmt.Sprintf("INSERT INTO %s VALUES (%d, 1)", q(p.db, "b"), i))
	}
	want := binlog.MustParseGTIDSet("mariadb", gtidPos(t, p.src))
	reported := proc.WaitStatus(60*time.Second, "position past the other table's transactions", func(s component.Status) bool {
		return s.Position != "" && binlog.MustParseGTIDSet("mariadb", s.Position).ContainsSet(want)
	}).Position
	proc.Kill(syscall.SIGKILL)
	cfg.SetDefaults(task)
	rec, err := newCheckpointStore(cfg.CheckpointSchema, task, 1, testLogger(t)).load(context.Background(), p.dst.DB(), "mariadb")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.lw.ContainsSet(binlog.MustParseGTIDSet("mariadb", reported)) {
		t.Fatalf("reported position %s is not durable: the checkpoint on the target holds %s", reported, rec.lw)
	}
}

package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/task"
)

// TestIdleNodeCostsStatementsPerNodeNotPerTask: a node whose components report nothing new sends
// the MetaDB a constant number of statements per interval however many tasks it runs (its task
// list, its heartbeat), and writes no task row; the heartbeat lists every component as answering
// (task.LiveIn: what the lag alert ages from); the components' news (new positions) still reaches
// their rows within a few polls, one statement per pass for all of them.
func TestIdleNodeCostsStatementsPerNodeNotPerTask(t *testing.T) {
	const (
		n         = 10
		poll      = 100 * time.Millisecond
		heartbeat = 500 * time.Millisecond
		window    = 3 * time.Second
	)
	m, keys := freshMetaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tasks := task.NewTable(m.DB, m.Names.CM)
	for i := range n {
		assignFake(t, tasks, fmt.Sprintf("t%02d", i), map[string]any{"source": map[string]any{"password": keys.SealString(dsPassword)}})
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	db, counted := countingDB(t, m.Inst)
	dataDir := t.TempDir()
	cfg := config.Config{MetaHost: "127.0.0.1", CMDB: m.Names.CM, HeartbeatDB: m.Names.Heartbeat, RMDB: m.Names.RM, CMRegion: "r1"}
	sup := New(db, Options{Config: cfg, HostIP: "127.0.0.1", DataDir: dataDir, Binary: bin, Poll: poll, Heartbeat: heartbeat}, keys, slog.Default())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sup.Run(sctx) }()
	defer func() { stop(); <-done }()

	waitRows := func(what string, ok func(task.Task) bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			ts, err := tasks.List(ctx, "p1")
			if err != nil {
				t.Fatal(err)
			}
			all := len(ts) == n
			for _, tk := range ts {
				all = all && ok(tk)
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 60 s, not every task %s: %+v", what, ts)
			}
		}
	}
	waitRows("RUNNING with its status", func(tk task.Task) bool { return tk.State == task.Running && tk.Status != nil })
	before, _ := tasks.List(ctx, "p1")

	counted.take()
	time.Sleep(window) //nolint:forbidigo // the measurement window itself
	verbs, texts := counted.take()
	total := 0
	for _, c := range verbs {
		total += c
	}
	polls := int(window / poll)
	t.Logf("idle %s with %d tasks: %d statements (%v)", window, n, total, verbs)
	for q, c := range texts {
		if strings.Contains(q, ".tasks") && !strings.HasPrefix(q, "SELECT") {
			t.Errorf("an idle node wrote task rows: %d x %s", c, q)
		}
	}
	// Per poll: the task list (one SELECT); per heartbeat: one INSERT. With a statement per task
	// it would be n per poll.
	if limit := 2*(polls+1) + 2*int(window/heartbeat+1); total > limit {
		t.Errorf("an idle node with %d tasks sent %d statements in %s (%d polls), want at most %d: %v", n, total, window, polls, limit, texts)
	}
	if writes := verbs["INSERT"] + verbs["UPDATE"] + verbs["REPLACE"] + verbs["DELETE"]; writes > int(window/heartbeat)+2 {
		t.Errorf("%d writes in %s, want only the heartbeats (%d)", writes, window, int(window/heartbeat))
	}
	after, _ := tasks.List(ctx, "p1")
	for i := range after {
		if !after[i].UpdatedAt.Equal(before[i].UpdatedAt) {
			t.Errorf("task %s rewritten while idle: updated_at %s -> %s", after[i].ID, before[i].UpdatedAt, after[i].UpdatedAt)
		}
	}

	// Liveness is in the heartbeat: every component answering, at its epoch, on this host.
	live, err := task.LiveIn(ctx, m.DB, m.Names.Heartbeat)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range after {
		if s, ok := live[tk.ID]; !ok || s.Host != "127.0.0.1" || s.Epoch != tk.Epoch || time.Since(s.At) > time.Minute {
			t.Errorf("heartbeat liveness of %s: %+v %v, want host 127.0.0.1 epoch %d", tk.ID, s, ok, tk.Epoch)
		}
	}

	// News is written at once, a pass's news in one statement: every component moves its position.
	counted.take()
	moved := time.Now()
	for _, tk := range after {
		if err := os.WriteFile(filepath.Join(dataDir, "run", tk.ID, "position"), []byte("0-1-42"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitRows("at the new position", func(tk task.Task) bool { return tk.Status != nil && tk.Status.Position == "0-1-42" })
	took := time.Since(moved)
	_, texts = counted.take()
	updates := 0
	for q, c := range texts {
		if strings.HasPrefix(q, "UPDATE") && strings.Contains(q, ".tasks") {
			updates += c
		}
	}
	t.Logf("%d new positions in the rows after %s, in %d statements", n, took.Round(time.Millisecond), updates)
	if took > 5*time.Second {
		t.Errorf("news took %s to reach the rows, want a few polls (%s each)", took, poll)
	}
	if passes := int(took/poll) + 2; updates > min(passes, n/2) {
		t.Errorf("%d tasks' news written in %d statements within %s, want one per pass that had news", n, updates, took)
	}
}

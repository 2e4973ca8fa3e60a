package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/testenv"
)

// storeProcess is `oms component store` running as a child process.
type storeProcess struct {
	cmd     *exec.Cmd
	workDir string
	exited  chan struct{}
}

func writeSpec(t *testing.T, workDir string, cfg Config) string {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	spec := component.Spec{Kind: Kind, TaskID: "kill9", Epoch: 1, StatusAddr: "127.0.0.1:0", WorkDir: workDir, Config: raw}
	b, _ := json.Marshal(spec)
	p := filepath.Join(workDir, "spec.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func startStoreProcess(t *testing.T, bin, specPath, workDir string) *storeProcess {
	t.Helper()
	_ = os.Remove(filepath.Join(workDir, "status.addr"))
	_ = os.Remove(filepath.Join(workDir, "store.addr"))
	logf, err := os.OpenFile(filepath.Join(workDir, "component.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "component", "store", "--spec", specPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &storeProcess{cmd: cmd, workDir: workDir, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

func (p *storeProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// status polls the child's /status.
func (p *storeProcess) status() (component.Status, error) {
	var st component.Status
	addr, err := os.ReadFile(filepath.Join(p.workDir, "status.addr"))
	if err != nil {
		return st, err
	}
	resp, err := http.Get("http://" + string(addr) + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (p *storeProcess) waitFor(t *testing.T, what string, cond func(component.Status) bool) component.Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			log, _ := os.ReadFile(filepath.Join(p.workDir, "component.log"))
			t.Fatalf("store process exited while waiting for %s:\n%s", what, tailLines(string(log), 20))
		default:
		}
		if st, err := p.status(); err == nil && cond(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(p.workDir, "component.log"))
	t.Fatalf("timed out waiting for %s:\n%s", what, tailLines(string(log), 20))
	return component.Status{}
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestKill9UnderWrites kills the real store process three times while a workload writes, then
// checks that the log holds every source transaction exactly once, in order, with equal rows.
func TestKill9UnderWrites(t *testing.T) {
	inst := testenv.StartMariaDB(t)
	bin := testenv.OMSBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	if _, err := inst.DB().ExecContext(ctx, "CREATE DATABASE k; CREATE TABLE k.t (id INT PRIMARY KEY, n BIGINT, s VARCHAR(40))"); err != nil {
		t.Fatal(err)
	}
	start := gtidNow(t, inst)
	workDir := t.TempDir()
	specPath := writeSpec(t, workDir, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start},
		SegmentBytes: 64 << 10, Listen: "127.0.0.1:0"})

	// Workload: small transactions of inserts, updates and deletes until stopped.
	wctx, stopWrites := context.WithCancel(ctx)
	var wg errgroup.Group
	wg.Go(func() error {
		rng := rand.New(rand.NewSource(1))
		for id := 1; wctx.Err() == nil; id++ {
			tx, err := inst.DB().BeginTx(wctx, nil)
			if err != nil {
				return nil
			}
			_, err = tx.Exec("INSERT INTO k.t VALUES (?, ?, ?)", id, rng.Int63(), fmt.Sprint("row ", id))
			if err == nil && id > 5 {
				_, err = tx.Exec("UPDATE k.t SET n = n + 1 WHERE id = ?", id-3)
			}
			if err == nil && id%7 == 0 {
				_, err = tx.Exec("DELETE FROM k.t WHERE id = ?", id-5)
			}
			if err != nil {
				_ = tx.Rollback()
				if wctx.Err() != nil {
					return nil
				}
				return err
			}
			if err := tx.Commit(); err != nil && wctx.Err() == nil {
				return err
			}
		}
		return nil
	})

	var lastSeq float64
	for round := 0; round < 3; round++ {
		p := startStoreProcess(t, bin, specPath, workDir)
		floor := lastSeq
		st := p.waitFor(t, "capture progress", func(s component.Status) bool { return s.Metrics["captured_seq"] > floor+200 })
		lastSeq = st.Metrics["captured_seq"]
		p.kill()
	}
	stopWrites()
	if err := wg.Wait(); err != nil {
		t.Fatal(err)
	}
	final := gtidNow(t, inst)
	finalSet := binlog.MustParseGTIDSet("mariadb", final)
	p := startStoreProcess(t, bin, specPath, workDir)
	p.waitFor(t, "catch up to "+final, func(s component.Status) bool {
		pos, err := binlog.ParseGTIDSet("mariadb", s.Position)
		return err == nil && pos.ContainsSet(finalSet)
	})

	// Reference: the source's binlog decoded directly.
	ref, err := binlog.Open(ctx, binlog.SourceConfig{Conn: mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}, ServerID: 77777, Flavor: "mariadb"},
		binlog.Start{GTIDSet: ptr(binlog.MustParseGTIDSet("mariadb", start))}, schema.NewTracker(inst.DB()))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var want []*changelog.Txn
	seen := binlog.MustParseGTIDSet("mariadb", start)
	for !seen.ContainsSet(finalSet) {
		txn, err := ref.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !txn.Heartbeat {
			want = append(want, txn)
			_ = seen.Add(txn.GTID)
		}
	}
	addr, _ := os.ReadFile(filepath.Join(workDir, "store.addr"))
	r, err := Dial(ctx, string(addr), ReadRequest{ConsumerID: "verify", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readN(t, ctx, r, len(want))
	for i := range want {
		w, g := want[i], got[i]
		if w.GTID != g.GTID || w.File != g.File || w.Pos != g.Pos || g.Seq != uint64(i+1) || len(w.Rows) != len(g.Rows) {
			t.Fatalf("txn %d: store has %s %s:%d seq %d (%d rows), source %s %s:%d (%d rows)", i, g.GTID, g.File, g.Pos, g.Seq, len(g.Rows), w.GTID, w.File, w.Pos, len(w.Rows))
		}
		for j := range w.Rows {
			if w.Rows[j].Op != g.Rows[j].Op || !reflect.DeepEqual(w.Rows[j].Before, g.Rows[j].Before) || !reflect.DeepEqual(w.Rows[j].After, g.Rows[j].After) {
				t.Fatalf("txn %d row %d differs: store %+v source %+v", i, j, g.Rows[j], w.Rows[j])
			}
		}
	}
	// Nothing more than the source has: the next item is a heartbeat.
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if extra, err := r.Next(hctx); err != nil || !extra.Heartbeat {
		t.Fatalf("after %d txns the store sent %+v, %v; want a heartbeat", len(want), extra, err)
	}
	segs, _ := listSegments(filepath.Join(workDir, "segments"))
	t.Logf("%d transactions across 3 kills, %d segments", len(want), len(segs))
}

func ptr[T any](v T) *T { return &v }

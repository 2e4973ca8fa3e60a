package incrsync

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var replicaIDs atomic.Uint32

// captureSource reads a real source's binlog through internal/binlog (what the Store does), so
// engine tests see the exact records real DML produces without waiting for a Store.
func captureSource(src *testenv.Instance) SourceOpener {
	return func(ctx context.Context, from string) (TxnSource, error) {
		set, err := binlog.ParseGTIDSet("mariadb", from)
		if err != nil {
			return nil, err
		}
		cfg := binlog.SourceConfig{Conn: mysqlconn.Config{Host: "127.0.0.1", Port: src.Port, User: "root"},
			ServerID: src.ServerID + 200000 + replicaIDs.Add(1), Flavor: "mariadb"}
		c, err := binlog.Open(ctx, cfg, binlog.Start{GTIDSet: &set}, schema.NewTracker(src.DB()))
		if err != nil {
			return nil, err
		}
		return captureTxns{c}, nil
	}
}

type captureTxns struct{ c *binlog.Capture }

func (c captureTxns) Next(ctx context.Context) (*changelog.Txn, error) { return c.c.Next(ctx) }
func (c captureTxns) Close() error                                     { c.c.Close(); return nil }

// pair is a source and a target instance with one fresh database on the source (and its
// target-side name).
type pair struct {
	src, dst *testenv.Instance
	db       string
	start    string // source GTID position when the pair was made
}

func newPair(t *testing.T) *pair {
	t.Helper()
	src := testenv.Shared(t, "src")
	dst := testenv.Shared(t, "dst")
	p := &pair{src: src, dst: dst}
	p.start = gtidPos(t, src)
	p.db = testenv.FreshDatabase(t, src, "is")
	t.Cleanup(func() { _, _ = dst.DB().Exec("DROP DATABASE IF EXISTS `" + p.db + "`") })
	return p
}

func gtidPos(t *testing.T, inst *testenv.Instance) string {
	t.Helper()
	var s string
	if err := inst.DB().QueryRow("SELECT @@gtid_binlog_pos").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func execAll(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

var taskSeq atomic.Int64

// config is a default test config: everything of p.db, 4 workers.
func (p *pair) config() Config {
	return Config{
		StoreAddr: "in-process",
		Target:    mysqlconn.Config{Host: "127.0.0.1", Port: p.dst.Port, User: "root"},
		Selection: selection.Config{Tables: []selection.Rule{{DB: p.db}}},
		StartGTID: p.start,
		Workers:   4,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("INCR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// running is a Syncer running in the background (testenv.StartUnit).
type running struct {
	*testenv.Running
	s *Syncer
}

func start(t *testing.T, cfg Config, task string, epoch int64, open SourceOpener) *running {
	t.Helper()
	s, err := NewFromConfig(cfg, task, epoch, open, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return &running{Running: testenv.StartUnit(t, s), s: s}
}

// waitFailed waits for Run to return an error (a fatal stop).
func (r *running) waitFailed(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-r.Done():
		return r.Stop()
	case <-time.After(within):
		t.Fatalf("incr-sync did not stop within %s; status %+v", within, r.s.Status())
	}
	return nil
}

// waitCaughtUp waits until the syncer's watermark contains the source's current position.
func (r *running) waitCaughtUp(t *testing.T, src *testenv.Instance, within time.Duration) {
	t.Helper()
	want := binlog.MustParseGTIDSet("mariadb", gtidPos(t, src))
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		st := r.s.Status()
		if st.Error != nil {
			t.Fatalf("incr-sync failed: %+v", st.Error)
		}
		if st.Position != "" {
			if got := binlog.MustParseGTIDSet("mariadb", st.Position); got.ContainsSet(want) {
				return
			}
		}
		select {
		case <-r.Done():
			t.Fatalf("incr-sync stopped: %v", r.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("incr-sync did not reach %s within %s; status %+v", want.String(), within, r.s.Status())
}

// tableRows returns every row of a table as text (testenv.Rows), sorted.
func tableRows(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	out := testenv.Rows(t, db, "SELECT * FROM "+table)
	sort.Strings(out)
	return out
}

// sameRows compares a source and a target table row by row.
func sameRows(t *testing.T, src, dst *sql.DB, srcTable, dstTable string) {
	t.Helper()
	if !testenv.SameRows(t, srcTable+" and "+dstTable, tableRows(t, src, srcTable), tableRows(t, dst, dstTable)) {
		t.FailNow()
	}
}

func q(db, table string) string { return "`" + db + "`.`" + table + "`" }

func asErr(err error, target **omserr.Error) bool { return errors.As(err, target) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

package incrsync

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// chainTables are the tables of the commit-order workload: four log tables (one row per source
// transaction, spread over them so consecutive transactions share no key) and a counter row
// that every fifth transaction moves to its own number.
var chainTables = []string{"l0", "l1", "l2", "l3"}

func seedChain(t *testing.T, db *sql.DB, dbName string) {
	t.Helper()
	for _, tb := range chainTables {
		execAll(t, db, "CREATE TABLE "+q(dbName, tb)+" (id INT PRIMARY KEY, n INT NOT NULL)")
	}
	execAll(t, db, "CREATE TABLE "+q(dbName, "ctr")+" (id INT PRIMARY KEY, n INT NOT NULL)",
		"INSERT INTO "+q(dbName, "ctr")+" VALUES (1, 0)")
}

// chainTxn writes source transaction number i of the chain: its log row, and every fifth one
// the counter too. Transactions on different log tables share no key, so only the commit order
// on the target keeps a reader from seeing i without i-1.
func chainTxn(ctx context.Context, db *sql.DB, dbName string, i int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+q(dbName, chainTables[i%len(chainTables)])+" VALUES (?, ?)", i, i); err != nil {
		return err
	}
	if i%5 == 0 {
		if _, err := tx.ExecContext(ctx, "UPDATE "+q(dbName, "ctr")+" SET n = ? WHERE id = 1", i); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkChain says whether one snapshot of the target is a state the source went through: the
// log ids are exactly 1..k and the counter is the last multiple of 5 up to k.
func checkChain(ids []int, ctr int) (k int, err error) {
	sort.Ints(ids)
	for i, id := range ids {
		if id != i+1 {
			return 0, fmt.Errorf("log rows %v...: transaction %d is visible without transaction %d", head(ids, 12), id, i+1)
		}
	}
	k = len(ids)
	if want := k - k%5; ctr != want {
		return 0, fmt.Errorf("counter %d with log rows 1..%d (want %d): a transaction is visible without an earlier one", ctr, k, want)
	}
	return k, nil
}

func head(ids []int, n int) []int { return ids[:min(n, len(ids))] }

// chainReader reads the target in REPEATABLE READ snapshots as fast as it can and checks each
// with checkChain. The tables may not exist yet (the syncer creates them).
type chainReader struct {
	db     *sql.DB
	dbName string
	stop   chan struct{}
	done   chan struct{}
	// results
	snapshots, middle atomic.Int64 // snapshots checked; of those, strictly between empty and the end
	err               atomic.Value // the first violation (error)
}

func startChainReader(t *testing.T, port int, dbName string, total func() int) *chainReader {
	t.Helper()
	db, err := mysqlconn.Config{Host: "127.0.0.1", Port: port, User: "root"}.Open(context.Background(), mysqlconn.Options{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := &chainReader{db: db, dbName: dbName, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			default:
			}
			st, err := r.snapshot()
			if err == nil {
				k, err := checkChain(st.ids, st.ctr)
				if err == nil {
					r.snapshots.Add(1)
					if k > 0 && k < total() {
						r.middle.Add(1)
					}
					continue
				}
				r.err.CompareAndSwap(nil, err)
				return
			}
			time.Sleep(5 * time.Millisecond) // the tables are not there yet, or the target restarts: poll again
		}
	}()
	t.Cleanup(func() { r.halt(); db.Close() })
	return r
}

type chainState struct {
	ids []int
	ctr int
}

// snapshot reads every log table and the counter in one consistent snapshot.
func (r *chainReader) snapshot() (chainState, error) {
	var st chainState
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return st, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return st, err
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return st, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "COMMIT") //nolint:errcheck // read-only
	for _, tb := range chainTables {
		rows, err := conn.QueryContext(ctx, "SELECT id FROM "+q(r.dbName, tb))
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return st, err
			}
			st.ids = append(st.ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	err = conn.QueryRowContext(ctx, "SELECT n FROM "+q(r.dbName, "ctr")+" WHERE id = 1").Scan(&st.ctr)
	return st, err
}

// halt stops the reader; failed returns its first violation.
func (r *chainReader) halt() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

func (r *chainReader) failed() error {
	if e, ok := r.err.Load().(error); ok {
		return e
	}
	return nil
}

// TestAtomicTxnsKeepCommitOrder: with atomic_txns, a reader on the target never sees a source
// transaction without every earlier one, while 4 workers apply a backlog of transactions that
// share no key (so nothing but the commit order keeps them in order), then a live stream.
func TestAtomicTxnsKeepCommitOrder(t *testing.T) {
	p := newPair(t)
	seedChain(t, p.src.DB(), p.db)
	ctx := context.Background()
	const backlog, live = 2000, 500
	var written atomic.Int64
	for i := 1; i <= backlog; i++ {
		if err := chainTxn(ctx, p.src.DB(), p.db, i); err != nil {
			t.Fatal(err)
		}
		written.Store(int64(i))
	}
	cfg := p.config()
	cfg.AtomicTxns = true
	cfg.MaxBatchTxns = 7 // many target commits: many states for the reader to see
	rd := startChainReader(t, p.dst.Port, p.db, func() int { return int(written.Load()) })
	r := start(t, cfg, fmt.Sprintf("order-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	for i := backlog + 1; i <= backlog+live; i++ {
		if err := chainTxn(ctx, p.src.DB(), p.db, i); err != nil {
			t.Fatal(err)
		}
		written.Store(int64(i))
		if rd.failed() != nil {
			break
		}
	}
	r.waitCaughtUp(t, p.src, 120*time.Second)
	rd.halt()
	if err := rd.failed(); err != nil {
		t.Fatalf("the target showed a state the source never had: %v", err)
	}
	for _, tb := range append([]string{"ctr"}, chainTables...) {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
	m := r.s.Status().Metrics
	t.Logf("%d snapshots checked, %d in the middle; %v source transactions in %v target commits",
		rd.snapshots.Load(), rd.middle.Load(), m["applied_txns_total"], m["target_commits_total"])
	if rd.middle.Load() < 3 {
		t.Fatalf("the reader saw only %d states in the middle of the stream: the test proves nothing", rd.middle.Load())
	}
	if m["target_commits_total"] >= m["applied_txns_total"] {
		t.Errorf("no source transactions were grouped into one target transaction: %v", m)
	}
}

// TestAtomicTxnsOrderAcrossKills: the real binary with atomic_txns applies the chain from a
// real Store while it is written, and is killed with SIGKILL at random moments and restarted.
// A reader never sees a transaction without every earlier one, and every source transaction is
// applied exactly once (the audit table).
func TestAtomicTxnsOrderAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 scenario")
	}
	p := newPair(t)
	seedChain(t, p.src.DB(), p.db)
	st := startTestStore(t, p.src, p.start, false)
	task := fmt.Sprintf("orderkill-%d", taskSeq.Add(1))
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	cfg.AtomicTxns = true
	cfg.MaxBatchTxns = 5
	cfg.RecordApplied = true
	proc := scenario.NewComponentProcess(t, Kind, task, cfg)

	var written atomic.Int64
	rd := startChainReader(t, p.dst.Port, p.db, func() int { return int(written.Load()) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	werr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := chainTxn(context.Background(), p.src.DB(), p.db, i); err != nil {
				werr <- err
				return
			}
			written.Store(int64(i))
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond) // a steady stream, with bursts the syncer groups
			}
		}
	}()
	halt := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer halt()

	const kills = 4
	killRepeatedly(t, proc, p, task, kills, func(k int) {
		if err := rd.failed(); err != nil {
			t.Fatalf("after kill %d the target showed a state the source never had: %v", k, err)
		}
	})
	halt()
	select {
	case err := <-werr:
		t.Fatalf("workload: %v", err)
	default:
	}
	end := gtidPos(t, p.src)
	want := binlog.MustParseGTIDSet("mariadb", end)
	proc.Start()
	proc.WaitStatus(90*time.Second, "caught up with "+end, func(s component.Status) bool {
		return s.Error == nil && s.Position != "" && binlog.MustParseGTIDSet("mariadb", s.Position).ContainsSet(want)
	})
	proc.Kill(syscall.SIGTERM)
	rd.halt()
	if err := rd.failed(); err != nil {
		t.Fatalf("the target showed a state the source never had: %v", err)
	}
	for _, tb := range append([]string{"ctr"}, chainTables...) {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
	got, exp := appliedGTIDs(t, p, task), sourceGTIDs(t, p, p.start, end, p.db)
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Fatalf("applied transactions differ from the source's: %d applied, %d in the source", len(got), len(exp))
	}
	t.Logf("%d chain transactions, %d applied exactly once across %d kills; %d snapshots checked, %d in the middle",
		written.Load(), len(got), kills, rd.snapshots.Load(), rd.middle.Load())
	if rd.middle.Load() < 3 {
		t.Fatalf("the reader saw only %d states in the middle of the stream: the test proves nothing", rd.middle.Load())
	}
}

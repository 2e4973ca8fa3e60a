package incrsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// hotWorkload writes to tables <db>.h1 and <db>.h2 (id PK, uk UNIQUE NULL, v, c) from several
// connections at once: updates of a few hot rows, unique-key swaps inside one transaction and
// across autocommit statements (a value leaves one row in one transaction and reaches another
// in the next), delete and re-insert of a key, primary key changes, inserts, and transactions
// that touch both tables. Deadlocks are retried as an application would.
type hotWorkload struct {
	db      *sql.DB
	dbName  string
	nextUK  int64
	mu      sync.Mutex
	commits int
}

func (w *hotWorkload) uk() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nextUK++
	return w.nextUK
}

func seedHot(t *testing.T, db *sql.DB, dbName string) *hotWorkload {
	t.Helper()
	w := &hotWorkload{db: db, dbName: dbName, nextUK: 1000}
	for _, tb := range []string{"h1", "h2"} {
		execAll(t, db, "CREATE TABLE "+q(dbName, tb)+" (id INT PRIMARY KEY, uk INT NULL, v INT NOT NULL, c VARCHAR(40), UNIQUE KEY uk_uk (uk))")
		execAll(t, db, "INSERT INTO "+q(dbName, tb)+" SELECT s.seq, s.seq, 0, CONCAT('row ', s.seq) FROM "+q(dbName, "seq_1_to_50")+" AS s")
	}
	return w
}

func (w *hotWorkload) txn(ctx context.Context, r *rand.Rand) error {
	tb := q(w.dbName, fmt.Sprintf("h%d", 1+r.IntN(2)))
	other := q(w.dbName, "h1")
	if tb == other {
		other = q(w.dbName, "h2")
	}
	hot := 1 + r.IntN(5)
	a, b := 1+r.IntN(50), 1+r.IntN(50)
	exec := func(tx *sql.Tx, query string, args ...any) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	do := func(f func(tx *sql.Tx) error) error {
		tx, err := w.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := f(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	switch r.IntN(7) {
	case 0: // hot rows
		return do(func(tx *sql.Tx) error {
			return exec(tx, "UPDATE "+tb+" SET v = v + 1, c = CONCAT('hot ', v) WHERE id = ?", hot)
		})
	case 1: // unique-key swap inside one transaction
		if a == b {
			return nil
		}
		return do(func(tx *sql.Tx) error {
			var ua, ub sql.NullInt64
			if err := tx.QueryRowContext(ctx, "SELECT uk FROM "+tb+" WHERE id = ? FOR UPDATE", a).Scan(&ua); err != nil {
				return ignoreNoRows(err)
			}
			if err := tx.QueryRowContext(ctx, "SELECT uk FROM "+tb+" WHERE id = ? FOR UPDATE", b).Scan(&ub); err != nil {
				return ignoreNoRows(err)
			}
			if err := exec(tx, "UPDATE "+tb+" SET uk = NULL WHERE id = ?", a); err != nil {
				return err
			}
			if err := exec(tx, "UPDATE "+tb+" SET uk = ? WHERE id = ?", ua, b); err != nil {
				return err
			}
			return exec(tx, "UPDATE "+tb+" SET uk = ?, v = v + 1 WHERE id = ?", ub, a)
		})
	case 2: // a unique value moves between rows across two transactions
		var ua sql.NullInt64
		if err := w.db.QueryRowContext(ctx, "SELECT uk FROM "+tb+" WHERE id = ?", a).Scan(&ua); err != nil || !ua.Valid || a == b {
			return ignoreNoRows(err)
		}
		if err := do(func(tx *sql.Tx) error { return exec(tx, "UPDATE "+tb+" SET uk = NULL WHERE id = ? AND uk = ?", a, ua) }); err != nil {
			return err
		}
		return do(func(tx *sql.Tx) error {
			return exec(tx, "UPDATE "+tb+" SET uk = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM (SELECT id FROM "+tb+" WHERE uk = ?) x)", ua, b, ua)
		})
	case 3: // delete and re-insert the same key
		return do(func(tx *sql.Tx) error {
			if err := exec(tx, "DELETE FROM "+tb+" WHERE id = ?", a); err != nil {
				return err
			}
			return exec(tx, "INSERT INTO "+tb+" VALUES (?, ?, ?, 'reborn')", a, w.uk(), r.IntN(100))
		})
	case 4: // primary key changes, away and back
		return do(func(tx *sql.Tx) error {
			if err := exec(tx, "UPDATE "+tb+" SET id = id + 1000 WHERE id = ?", a); err != nil {
				return err
			}
			return exec(tx, "UPDATE "+tb+" SET id = id - 1000, v = v + 1 WHERE id = ?", a+1000)
		})
	case 5: // two tables in one transaction
		return do(func(tx *sql.Tx) error {
			if err := exec(tx, "UPDATE "+tb+" SET v = v - 1 WHERE id = ?", hot); err != nil {
				return err
			}
			return exec(tx, "UPDATE "+other+" SET v = v + 1 WHERE id = ?", hot)
		})
	default: // new rows, some deleted again
		id := 100 + r.IntN(400)
		return do(func(tx *sql.Tx) error {
			if err := exec(tx, "INSERT INTO "+tb+" VALUES (?, ?, 1, 'new') ON DUPLICATE KEY UPDATE v = v + 1", id, w.uk()); err != nil {
				return err
			}
			if r.IntN(3) == 0 {
				return exec(tx, "DELETE FROM "+tb+" WHERE id = ?", 100+r.IntN(400))
			}
			return nil
		})
	}
}

func ignoreNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// workloadRetry: a deadlock, a lock wait timeout or a unique value taken meanwhile, which an
// application retries.
func workloadRetry(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062)
}

// run runs txns transactions on each of workers connections.
func (w *hotWorkload) run(t *testing.T, workers, txns int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 7))
			for n := 0; n < txns; n++ {
				for {
					err := w.txn(ctx, r)
					if workloadRetry(err) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		}(uint64(i + 1))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("workload: %v", err)
	}
}

// TestParallelHotKeysAndUniqueSwaps: a concurrent workload of hot keys, unique-key swaps, key
// changes and multi-table transactions, applied live by 4 workers with merging and compaction,
// ends identical to the source row by row; then the same again from a backlog (the merging path).
func TestParallelHotKeysAndUniqueSwaps(t *testing.T) {
	p := newPair(t)
	w := seedHot(t, p.src.DB(), p.db)
	cfg := p.config()
	cfg.Workers = 4
	task := fmt.Sprintf("hot-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	w.run(t, 4, 250) // live: applied while written
	r.waitCaughtUp(t, p.src, 60*time.Second)
	for _, tb := range []string{"h1", "h2"} {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
	live := r.s.Status().Metrics
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	w.run(t, 4, 250) // backlog: written while the syncer is stopped
	r2 := start(t, cfg, task, 1, captureSource(p.src))
	r2.waitCaughtUp(t, p.src, 60*time.Second)
	for _, tb := range []string{"h1", "h2"} {
		sameRows(t, p.src.DB(), p.dst.DB(), q(p.db, tb), q(p.db, tb))
	}
	backlog := r2.s.Status().Metrics
	t.Logf("live: %v txns in %v target commits; backlog: %v txns in %v target commits",
		live["applied_txns_total"], live["target_commits_total"], backlog["applied_txns_total"], backlog["target_commits_total"])
	if backlog["target_commits_total"] >= backlog["applied_txns_total"] {
		t.Errorf("the backlog was not merged into fewer target commits: %v", backlog)
	}
}

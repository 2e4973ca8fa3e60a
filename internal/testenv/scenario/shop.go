package scenario

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shop is the source data of the scenarios: database shop with Tables sysbench-style tables
// shop.sbtest1..N of Rows rows each.
type Shop struct {
	Tables, Rows int
}

// ShopTables is the table rule that selects every table of a Shop.
const ShopTables = "sbtest*"

// Table is the qualified name of table i (1-based).
func (s Shop) Table(i int) string { return fmt.Sprintf("shop.sbtest%d", i) }

// Seed creates database shop and its tables on db.
func (s Shop) Seed(t testing.TB, db *sql.DB) {
	t.Helper()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE shop")
	for i := 1; i <= s.Tables; i++ {
		exec(fmt.Sprintf(`CREATE TABLE %s (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0,
			c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_%d (k)) ENGINE=InnoDB`, s.Table(i), i))
		var vals []string
		for r := 1; r <= s.Rows; r++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, '%s', 'pad')", r, rand.IntN(s.Rows), strings.Repeat(fmt.Sprint(r%10), 100)))
			if len(vals) == 1000 || r == s.Rows {
				exec(fmt.Sprintf("INSERT INTO %s VALUES %s", s.Table(i), strings.Join(vals, ",")))
				vals = vals[:0]
			}
		}
	}
}

// Workload runs sysbench-like write transactions on a Shop until halted.
type Workload struct {
	stop chan struct{}
	wg   sync.WaitGroup
	txns atomic.Int64
}

// StartWorkload starts workers goroutines that each commit one transaction (two updates, a
// delete and an insert of the same id, half of which do not exist yet) every pause.
func (s Shop) StartWorkload(db *sql.DB, workers int, pause time.Duration) *Workload {
	w := &Workload{stop: make(chan struct{})}
	for range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				select {
				case <-w.stop:
					return
				case <-time.After(pause):
				}
				if s.transaction(db) == nil {
					w.txns.Add(1)
				}
			}
		}()
	}
	return w
}

func (s Shop) transaction(db *sql.DB) error {
	tbl := s.Table(1 + rand.IntN(s.Tables))
	id := 1 + rand.IntN(s.Rows*2)
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{"UPDATE " + tbl + " SET k = k + 1 WHERE id = ?", []any{id}},
		{"UPDATE " + tbl + " SET c = ? WHERE id = ?", []any{fmt.Sprintf("upd-%d", rand.Int()), 1 + rand.IntN(s.Rows)}},
		{"DELETE FROM " + tbl + " WHERE id = ?", []any{id}},
		{"INSERT INTO " + tbl + " (id, k, c, pad) VALUES (?, ?, 'ins', 'pad')", []any{id, rand.IntN(1000)}},
	} {
		if _, err := tx.Exec(st.q, st.args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// Halt stops the workload and waits for its transactions to end; it may be called again.
func (w *Workload) Halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// Txns is the number of committed transactions.
func (w *Workload) Txns() int64 { return w.txns.Load() }

// Digest is a row-level fingerprint of every table: per table the row count and an
// order-independent sum of row checksums.
func (s Shop) Digest(db *sql.DB) (string, error) {
	var parts []string
	for i := 1; i <= s.Tables; i++ {
		var n int64
		var sum sql.NullString
		if err := db.QueryRow("SELECT COUNT(*), SUM(CRC32(CONCAT_WS('#', id, k, c, pad))) FROM "+s.Table(i)).Scan(&n, &sum); err != nil {
			return "", fmt.Errorf("digest of %s: %w", s.Table(i), err)
		}
		parts = append(parts, fmt.Sprintf("%s %d/%s", s.Table(i), n, sum.String))
	}
	return strings.Join(parts, ", "), nil
}

// Same reports whether src and dst hold the same rows, and if not why (for WaitFor).
func (s Shop) Same(src, dst *sql.DB) (bool, string) {
	a, err := s.Digest(src)
	if err != nil {
		return false, "source: " + err.Error()
	}
	b, err := s.Digest(dst)
	if err != nil {
		return false, "target: " + err.Error()
	}
	return a == b, fmt.Sprintf("source %s; target %s", a, b)
}

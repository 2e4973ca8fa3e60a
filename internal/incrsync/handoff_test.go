package incrsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/fullimport"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
)

// TestHandoffFromFullImport: rows change while the full import copies them. Incr-Sync starts at
// the position the import recorded before its first chunk, applies idempotently up to the
// source position at the end of the copy (INSERTs of rows the copy already has, UPDATEs and
// DELETEs of rows it never saw), then strictly; with the writer still running across the
// switch, the target ends identical to the source and no strict conflict is raised.
func TestHandoffFromFullImport(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	tb := q(p.db, "acct")
	execAll(t, s,
		"CREATE TABLE "+tb+" (id INT PRIMARY KEY, owner VARCHAR(30) NOT NULL, balance DECIMAL(12,2) NOT NULL, note TEXT, UNIQUE KEY uk_owner (owner))",
		"INSERT INTO "+tb+" SELECT x.seq, CONCAT('owner-', x.seq), x.seq * 1.5, REPEAT('n', x.seq % 50) FROM "+q(p.db, "seq_1_to_20000")+" AS x",
		"ANALYZE TABLE "+tb,
	)

	// the writer: updates, deletes, re-inserts and new rows all over the key range
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			id := 1 + r.IntN(22000)
			var err error
			switch n % 4 {
			case 0:
				_, err = s.Exec("UPDATE "+tb+" SET balance = balance + 1, note = CONCAT('upd ', ?) WHERE id = ?", n, id)
			case 1:
				_, err = s.Exec("DELETE FROM "+tb+" WHERE id = ?", id)
			case 2:
				_, err = s.Exec("INSERT INTO "+tb+" VALUES (?, CONCAT('owner-', ?), 1, 'ins') ON DUPLICATE KEY UPDATE note = 'dup'", id, id)
			case 3:
				_, err = s.Exec("UPDATE "+tb+" SET id = ? WHERE id = ?", 30000+n, id) // a key moves out of the copied range
			}
			if err != nil && !workloadRetry(err) {
				werr = err
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// the full import, throttled so that the copy overlaps the writes
	fcfg := fullimport.Config{
		Source:      mysqlconn.Config{Host: "127.0.0.1", Port: p.src.Port, User: "root"},
		Target:      mysqlconn.Config{Host: "127.0.0.1", Port: p.dst.Port, User: "root"},
		Selection:   selection.Config{Tables: []selection.Rule{{DB: p.db, Table: "acct"}}},
		ChunkRows:   1000,
		Concurrency: 2,
		RowsPerSec:  10000,
	}
	fi, err := fullimport.NewWithConfig(fcfg, fmt.Sprintf("handoff-fi-%d", taskSeq.Add(1)), 1, t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := fi.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fi.Run(ctx); err != nil {
		t.Fatalf("full import: %v", err)
	}
	pos := fi.Status().Position
	fi.Close()
	startGTID := strings.TrimPrefix(strings.Fields(pos)[0], "gtid=")
	endOfCopy := gtidPos(t, p.src)
	if startGTID == endOfCopy {
		t.Fatalf("no source change happened during the copy (%s): the test proves nothing", pos)
	}

	cfg := p.config()
	cfg.Selection = fcfg.Selection
	cfg.StartGTID = startGTID
	cfg.StrictAfter = endOfCopy
	r := start(t, cfg, fmt.Sprintf("handoff-%d", taskSeq.Add(1)), 1, captureSource(p.src))
	time.Sleep(time.Second) // the writer keeps going past the switch to strict mode
	close(stop)
	wg.Wait()
	if werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	r.waitCaughtUp(t, p.src, 60*time.Second)
	sameRows(t, s, p.dst.DB(), tb, tb)
}

package fullimport

import (
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestNewerEpochFencesOlder: a full import of epoch 2 takes over a task whose epoch 1 is in the
// middle of its copy (a node that froze and woke, or was cut off) without waiting for it: epoch
// 1's open chunk transaction is rolled back and it stops with FULL_FENCED; epoch 2
// finishes and the target matches the source row by row.
func TestNewerEpochFencesOlder(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "fence")
	dstDB := srcDB + "_copy"
	q := "`" + srcDB + "`."
	mustExec(t, src.DB(),
		"CREATE TABLE "+q+"t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO "+q+"t SELECT seq, CONCAT('v', seq) FROM "+q+"seq_1_to_6000",
		"ANALYZE TABLE "+q+"t")
	cfg := Config{Source: connOf(src), Target: connOf(dst), Selection: selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB}}},
		ChunkRows: 1000, Concurrency: 2, RowsPerSec: 1000}
	task := "fence-" + srcDB
	old, err := NewWithConfig(cfg, task, 1, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	running := testenv.StartUnit(t, old)
	deadline := time.Now().Add(30 * time.Second)
	for p := old.Status().Progress; p == nil || p.RowsDone == 0; p = old.Status().Progress {
		if time.Now().After(deadline) {
			t.Fatalf("epoch 1 made no progress: %+v", old.Status())
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}

	cfg.RowsPerSec = 0
	start := time.Now()
	u2, err := NewWithConfig(cfg, task, 2, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.RunUnit(t, u2, 2*time.Minute); err != nil {
		t.Fatalf("epoch 2: %v", err)
	}
	t.Logf("epoch 2 took over and finished in %v while epoch 1 was copying", time.Since(start).Round(time.Millisecond))
	select {
	case <-running.Done():
		if err := running.Err(); omserr.CodeOf(err) != omserr.FullFenced {
			t.Fatalf("epoch 1 ended with %v, want %s", err, omserr.FullFenced)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("epoch 1 still running 30 s after epoch 2 took over")
	}
	if u2.Status().State != "FINISHED" {
		t.Fatalf("epoch 2: %+v", u2.Status())
	}
	qs := "SELECT * FROM `%s`.t ORDER BY id"
	testenv.SameRows(t, "t", testenv.Rows(t, rawDB(t, src), fmt.Sprintf(qs, srcDB)), testenv.Rows(t, rawDB(t, dst), fmt.Sprintf(qs, dstDB)))
}

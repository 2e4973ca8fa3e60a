package fullimport

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestPauseResumeAndKeyShapes cancels a Run in the middle (Pause: the in-flight LOAD DATA is
// aborted through the pipe and rolled back), runs again, and checks the target row by row. The
// tables cover the planner's cases: sparse unsigned integers up to 2^64-1 (walked), dense signed
// integers including negatives (arithmetic), a date key and an empty table.
func TestPauseResumeAndKeyShapes(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "pause")
	dstDB := srcDB + "_copy"
	q := "`" + srcDB + "`."
	mustExec(t, src.DB(),
		"CREATE TABLE "+q+"sparse (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO "+q+"sparse SELECT seq * 1000003, CONCAT('v', seq) FROM "+q+"seq_1_to_5000",
		"INSERT INTO "+q+"sparse VALUES (18446744073709551615, 'max'), (0, 'zero')",
		"CREATE TABLE "+q+"dense (id INT PRIMARY KEY, v INT, KEY kv (v))",
		"INSERT INTO "+q+"dense SELECT CAST(seq AS SIGNED) - 4000, seq FROM "+q+"seq_1_to_9000",
		"CREATE TABLE "+q+"bydate (d DATE NOT NULL, n INT NOT NULL, PRIMARY KEY (d, n))",
		"INSERT INTO "+q+"bydate SELECT '2020-01-01' + INTERVAL (seq % 400) DAY, seq FROM "+q+"seq_1_to_6000",
		"CREATE TABLE "+q+"nothing (id INT PRIMARY KEY)",
		"ANALYZE TABLE "+q+"sparse, "+q+"dense, "+q+"bydate",
	)
	cfg := Config{
		Source: connOf(src), Target: connOf(dst),
		Selection:   selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB}}},
		ChunkRows:   1000,
		Concurrency: 2,
		RowsPerSec:  8000,
	}
	u, err := NewWithConfig(cfg, "pause-"+srcDB, 1, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.StartUnit(t, u)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := u.Status()
		if st.Metrics["chunks_done"] >= 4 {
			if st.Progress.RowsTotal == 0 || st.Progress.ETASeconds <= 0 || len(st.Progress.Tables) != 4 || st.Position == "" {
				t.Errorf("progress while running: %+v metrics %v position %q", st.Progress, st.Metrics, st.Position)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", st)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if err := run.Pause(); !errors.Is(err, context.Canceled) {
		t.Fatalf("paused run returned %v", err)
	}
	_ = run.Stop()
	if st := u.Status(); st.State != "PAUSED" || st.Metrics["chunks_done"] >= st.Metrics["chunks_total"] {
		t.Fatalf("after pause: %s %v", st.State, st.Metrics)
	}
	cfg.RowsPerSec = 0
	u2, err := runImport(t, cfg, "pause-"+srcDB)
	if err != nil {
		t.Fatal(err)
	}
	if u2.Status().State != "FINISHED" {
		t.Fatalf("second run: %+v", u2.Status())
	}
	sr, dr := rawDB(t, src), rawDB(t, dst)
	for tb, key := range map[string]string{"sparse": "id", "dense": "id", "bydate": "d, n", "nothing": "id"} {
		qs := "SELECT * FROM `%s`." + tb + " ORDER BY " + key
		testenv.SameRows(t, tb, testenv.Rows(t, sr, fmt.Sprintf(qs, srcDB)), testenv.Rows(t, dr, fmt.Sprintf(qs, dstDB)))
	}
	if a, b := showCreate(t, src.DB(), srcDB, "dense"), showCreate(t, dst.DB(), dstDB, "dense"); a != b {
		t.Errorf("dense: %s\n%s", a, b)
	}
}

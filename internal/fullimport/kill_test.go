package fullimport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestKill9MidCopyThenResume runs the real binary (`oms component full-import --spec`), kills it
// with SIGKILL while chunks are being copied, restarts it and checks that the target ends up
// identical to the source, row by row, and that chunks finished before the kill were not redone.
func TestKill9MidCopyThenResume(t *testing.T) {
	testenv.OMSBinary(t) // built before the source is filled
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "kill")
	dstDB := srcDB + "_copy"
	mustExec(t, src.DB(),
		"CREATE TABLE `"+srcDB+"`.big (id INT PRIMARY KEY, s VARCHAR(100), n INT, KEY k_n (n))",
		"CREATE TABLE `"+srcDB+"`.skey (k VARCHAR(40) NOT NULL, seq INT NOT NULL, v BLOB, PRIMARY KEY (k, seq))",
		// 60000 and 20000 rows generated on the server.
		"INSERT INTO `"+srcDB+"`.big SELECT seq, CONCAT('row ', seq, ' ☃'), seq % 1000 FROM `"+srcDB+"`.seq_1_to_60000",
		"INSERT INTO `"+srcDB+"`.skey SELECT CONCAT('key-', seq % 97), seq, REPEAT(CHAR(seq % 256), seq % 300) FROM `"+srcDB+"`.seq_1_to_20000",
		"ANALYZE TABLE `"+srcDB+"`.big, `"+srcDB+"`.skey",
	)
	task := "kill-" + srcDB
	config := func(rowsPerSec int64) Config {
		return Config{
			Source: connOf(src), Target: connOf(dst),
			Selection:   selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB}}},
			ChunkRows:   1000,
			Concurrency: 2,
			RowsPerSec:  rowsPerSec,
		}
	}
	proc := scenario.NewComponentProcess(t, Kind, task, config(15000))
	work := proc.Dir
	countDone := func() int {
		var n int
		err := dst.DB().QueryRow("SELECT COUNT(*) FROM __oms.full_import_chunks WHERE task_id=? AND done=1", "kill-"+srcDB).Scan(&n)
		if err != nil && !strings.Contains(err.Error(), "doesn't exist") {
			t.Fatal(err)
		}
		return n
	}

	// First run, throttled so that the kill lands in the middle of the copy.
	proc.Start()
	scenario.WaitFor(t, 60*time.Second, "chunks copied before the kill", func() (bool, string) {
		if !proc.Running() {
			t.Fatalf("full import ended before the kill:\n%s", proc.LogTail())
		}
		n := countDone()
		return n >= 8, fmt.Sprint(n, " chunks done")
	})
	proc.Kill(syscall.SIGKILL)
	doneAtKill := countDone()
	var total int
	if err := dst.DB().QueryRow("SELECT COUNT(*) FROM __oms.full_import_chunks WHERE task_id=?", "kill-"+srcDB).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if doneAtKill >= total {
		t.Fatalf("the copy finished before the kill (%d/%d chunks): the test proves nothing", doneAtKill, total)
	}
	type fin struct {
		id int
		at string
	}
	before := map[int]string{}
	rows, err := dst.DB().Query("SELECT chunk_id, finished_at FROM __oms.full_import_chunks WHERE task_id=? AND done=1", "kill-"+srcDB)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f fin
		rows.Scan(&f.id, &f.at)
		before[f.id] = f.at
	}
	rows.Close()
	t.Logf("killed with %d/%d chunks done", doneAtKill, total)

	// Restart (as another node would: only the spec), unthrottled, to completion.
	proc.WriteSpec(task, config(0))
	proc.Start()
	st := proc.WaitStatus(90*time.Second, "the resumed import finishing", func(st component.Status) bool { return st.State == component.StateFinished })
	if st.Error != nil {
		t.Fatalf("restart: %+v\n%s", st.Error, proc.LogTail())
	}
	if n := countDone(); n != total {
		t.Fatalf("after restart %d/%d chunks done", n, total)
	}
	rows, err = dst.DB().Query("SELECT chunk_id, finished_at FROM __oms.full_import_chunks WHERE task_id=? AND done=1", "kill-"+srcDB)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f fin
		rows.Scan(&f.id, &f.at)
		if at, ok := before[f.id]; ok && at != f.at {
			t.Errorf("chunk %d was copied again after the restart", f.id)
		}
	}
	rows.Close()
	sr, dr := rawDB(t, src), rawDB(t, dst)
	for _, q := range []string{"SELECT * FROM `%s`.big ORDER BY id", "SELECT * FROM `%s`.skey ORDER BY k, seq"} {
		testenv.SameRows(t, q, testenv.Rows(t, sr, fmt.Sprintf(q, srcDB)), testenv.Rows(t, dr, fmt.Sprintf(q, dstDB)))
	}
	for _, tb := range []string{"big", "skey"} {
		if a, b := showCreate(t, src.DB(), srcDB, tb), showCreate(t, dst.DB(), dstDB, tb); a != b {
			t.Errorf("SHOW CREATE TABLE %s differs:\n%s\n%s", tb, a, b)
		}
	}
	var rep struct {
		Status component.Status `json:"status"`
	}
	b, err := os.ReadFile(filepath.Join(work, "full-import-report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.Status.State != component.StateFinished || !strings.Contains(rep.Status.Position, "gtid=") {
		t.Errorf("report: %v %s", err, b)
	}
}

package fullimport

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestKill9MidCopyThenResume runs the real binary (`oms component full-import --spec`), kills it
// with SIGKILL while chunks are being copied, restarts it and checks that the target ends up
// identical to the source, row by row, and that chunks finished before the kill were not redone.
func TestKill9MidCopyThenResume(t *testing.T) {
	bin := testenv.OMSBinary(t)
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
	work := t.TempDir()
	writeSpec := func(rowsPerSec int64) string {
		cfg := Config{
			Source: connOf(src), Target: connOf(dst),
			Selection:   selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB}}},
			ChunkRows:   1000,
			Concurrency: 2,
			RowsPerSec:  rowsPerSec,
		}
		raw, _ := json.Marshal(cfg)
		spec := component.Spec{Kind: Kind, TaskID: "kill-" + srcDB, Epoch: 1, WorkDir: work, Config: raw}
		b, _ := json.Marshal(spec)
		p := filepath.Join(work, "spec.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	countDone := func() int {
		var n int
		err := dst.DB().QueryRow("SELECT COUNT(*) FROM __oms.full_import_chunks WHERE task_id=? AND done=1", "kill-"+srcDB).Scan(&n)
		if err != nil && !strings.Contains(err.Error(), "doesn't exist") {
			t.Fatal(err)
		}
		return n
	}

	// First run, throttled so that the kill lands in the middle of the copy.
	cmd := exec.Command(bin, "component", "full-import", "--spec", writeSpec(15000))
	logf, _ := os.Create(filepath.Join(work, "run1.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for countDone() < 8 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b, _ := os.ReadFile(filepath.Join(work, "run1.log"))
			t.Fatalf("no progress within 60 s; log:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "component", "full-import", "--spec", writeSpec(0)).CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
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

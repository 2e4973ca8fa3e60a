package testenv

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestInstanceSettings(t *testing.T) {
	inst := Shared(t, "a")
	row := inst.DB().QueryRow(`SELECT @@log_bin, @@binlog_format, @@binlog_row_image,
		@@binlog_row_metadata, @@gtid_strict_mode, @@local_infile, @@server_id, @@port`)
	var logBin, strict, infile int
	var format, image, meta string
	var sid uint32
	var port int
	if err := row.Scan(&logBin, &format, &image, &meta, &strict, &infile, &sid, &port); err != nil {
		t.Fatal(err)
	}
	if logBin != 1 || format != "ROW" || image != "FULL" || meta != "FULL" || strict != 1 || infile != 1 {
		t.Fatalf("settings: log_bin=%d format=%s image=%s metadata=%s strict=%d infile=%d", logBin, format, image, meta, strict, infile)
	}
	if sid != inst.ServerID || port != inst.Port {
		t.Fatalf("server_id %d port %d, want %d %d", sid, port, inst.ServerID, inst.Port)
	}
	// GTIDs are produced by writes.
	db := FreshDatabase(t, inst, "gt")
	if _, err := inst.DB().Exec("CREATE TABLE `" + db + "`.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var gtid string
	if err := inst.DB().QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil || !strings.HasPrefix(gtid, "0-") {
		t.Fatalf("gtid_binlog_pos %q err %v", gtid, err)
	}
}

func TestInstancesAreDistinctAndStopCleanly(t *testing.T) {
	insts := StartN(t, 2)
	if insts[0].Port == insts[1].Port || insts[0].ServerID == insts[1].ServerID {
		t.Fatalf("instances share port or server_id: %+v %+v", insts[0], insts[1])
	}
	pid := insts[0].PID()
	insts[0].Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("mariadbd %d still alive after Stop", pid)
	}
	for _, p := range LeftoverServers() {
		if p == pid {
			t.Fatalf("LeftoverServers still lists stopped pid %d", pid)
		}
	}
	// The running one is found by the leak check, so the check can fail.
	found := false
	for _, p := range LeftoverServers() {
		found = found || p == insts[1].PID()
	}
	if !found {
		t.Fatalf("LeftoverServers does not see running pid %d", insts[1].PID())
	}
}

func TestKillAndRestart(t *testing.T) {
	inst := StartMariaDB(t)
	db := FreshDatabase(t, inst, "kr")
	if _, err := inst.DB().Exec("CREATE TABLE `" + db + "`.t (id INT PRIMARY KEY); INSERT INTO `" + db + "`.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	inst.Kill9()
	start := time.Now()
	if err := inst.Restart(t.Context(), Options{}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := inst.DB().QueryRow("SELECT COUNT(*) FROM `" + db + "`.t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart count=%d err=%v", n, err)
	}
	t.Logf("restart took %v", time.Since(start))
}

// TestParallelStarts: instances installed at the same moment do not break each other (with a
// shared tmpdir the bootstrap servers crashed on each other's temporary tables, about one in
// six with four at once).
func TestParallelStarts(t *testing.T) {
	for _, inst := range StartN(t, 6) {
		var one int
		if err := inst.DB().QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("instance %d: %v", inst.Port, err)
		}
	}
}

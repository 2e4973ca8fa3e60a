package incrsync

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestCreateSelectExactlyOnceAcrossRestarts (issue 21): the rows of a CREATE TABLE ... SELECT
// come in the same GTID as the statement; through the Store and the real binary, SIGKILLed and
// restarted three times, the table and its rows reach the target exactly once (they were
// applied again on every restart: a keyless table ended with 101 rows instead of 11).
func TestCreateSelectExactlyOnceAcrossRestarts(t *testing.T) {
	p := newPair(t)
	s := p.src.DB()
	base, cs, other := q(p.db, "base"), q(p.db, "cs"), q(p.db, "other")
	execAll(t, s, "CREATE TABLE "+base+" (a INT, b VARCHAR(10))")
	for i := range 11 {
		execAll(t, s, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'r%d')", base, i, i))
	}
	execAll(t, s, "CREATE TABLE "+cs+" SELECT * FROM "+base, "CREATE TABLE "+other+" (id INT PRIMARY KEY)")
	st := startTestStore(t, p.src, p.start, false)
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	proc := scenario.NewComponentProcess(t, Kind, fmt.Sprintf("crsel-%d", taskSeq.Add(1)), cfg)
	for i := range 3 {
		proc.Start()
		execAll(t, s, fmt.Sprintf("INSERT INTO %s VALUES (%d)", other, i))
		want := binlog.MustParseGTIDSet("mariadb", gtidPos(t, p.src))
		deadline := time.Now().Add(30 * time.Second)
		for {
			if stt, ok := proc.Status(); ok && stt.Position != "" && binlog.MustParseGTIDSet("mariadb", stt.Position).ContainsSet(want) {
				break
			} else if ok && stt.Error != nil {
				t.Fatalf("incr-sync failed: %+v", stt.Error)
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d did not reach %s; log:\n%s", i, want.String(), proc.LogTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
		proc.Kill(syscall.SIGKILL)
		sameRows(t, s, p.dst.DB(), cs, cs)
	}
	sameRows(t, s, p.dst.DB(), other, other)
}

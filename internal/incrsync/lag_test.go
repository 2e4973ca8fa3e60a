package incrsync

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/store"
)

// storeOpenerFor reads from a real Store over HTTP, as the component does.
func storeOpenerFor(addr, consumer string) SourceOpener {
	return func(ctx context.Context, from string) (TxnSource, error) {
		return store.Dial(ctx, addr, store.ReadRequest{ConsumerID: consumer, From: from, Flavor: "mariadb"})
	}
}

// TestLagOnIdleSourceWithStoreHeartbeat: with the Store's heartbeat on, an idle source keeps
// the Incr-Sync's lag small (the heartbeat row's commit time moves the watermark; the row itself
// is never applied: oms's schema is not selected even by a "*" rule); the bytes read from the
// Store are counted.
func TestLagOnIdleSourceWithStoreHeartbeat(t *testing.T) {
	p := newPair(t)
	tb := q(p.db, "t")
	execAll(t, p.src.DB(), "CREATE TABLE "+tb+" (id INT PRIMARY KEY)", "INSERT INTO "+tb+" VALUES (1)")
	st := startTestStore(t, p.src, p.start, true)
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	task := fmt.Sprintf("lag-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, storeOpenerFor(st.Addr(), "incr-"+task))
	r.waitCaughtUp(t, p.src, 30*time.Second)
	// the bytes received from the Store (and the records in them) are counted
	m := r.s.Status().Metrics
	if m["received_bytes_total"] <= 0 || m["read_bytes_total"] <= 0 {
		t.Fatalf("received %v bytes, read %v bytes after catching up", m["received_bytes_total"], m["read_bytes_total"])
	}
	// idle source: only heartbeats from now on; the lag must stay within a few heartbeats
	deadline := time.Now().Add(4 * time.Second)
	maxLag := 0.0
	for time.Now().Before(deadline) {
		maxLag = max(maxLag, r.s.Status().LagSeconds)
		time.Sleep(100 * time.Millisecond) // sampling interval
	}
	if maxLag > 3 {
		t.Fatalf("lag on an idle source reached %.1f s with the heartbeat on", maxLag)
	}
	var n int
	if err := p.dst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '__oms' AND table_name = 'heartbeat'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the heartbeat table reached the target (%d, %v)", n, err)
	}
	var hb int
	if err := p.src.DB().QueryRow("SELECT COUNT(*) FROM __oms.heartbeat").Scan(&hb); err != nil || hb != 1 {
		t.Fatalf("no heartbeat row on the source (%d, %v)", hb, err)
	}
	t.Logf("max lag on an idle source over 4 s: %.2f s", maxLag)
}

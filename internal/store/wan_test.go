package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/latency"
)

// TestReadOverHighLatencyLink reads thousands of transactions through a 200 ms RTT link: the
// stream must not pay a round trip per record (that would take minutes).
func TestReadOverHighLatencyLink(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "wan")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := gtidNow(t, inst)
	st := startStore(t, Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}}, t.TempDir())
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY, a INT, b VARCHAR(20))", db)); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := 1; i <= n; i += 100 {
		var q string
		for j := i; j < i+100; j++ {
			q += fmt.Sprintf("INSERT INTO `%s`.t VALUES (%d, %d, 'x'); ", db, j, j)
		}
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the store has everything, so the timing below is the link only.
	want := gtidNow(t, inst)
	for st.Status().Position != want {
		if ctx.Err() != nil {
			t.Fatalf("store did not reach %s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	proxy, err := latency.Start("127.0.0.1:0", st.Addr(), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	addr := proxy.Addr()
	t0 := time.Now()
	r, err := Dial(ctx, addr, ReadRequest{ConsumerID: "far", From: start})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, n+1)
	el := time.Since(t0)
	if last := txns[n].Rows[0]; last.Op != changelog.OpInsert || !reflect.DeepEqual(last.After[0], int64(n)) {
		t.Fatalf("last txn %+v", last)
	}
	// Connect + request + first frame is ~2 RTT; allow a generous 10 RTT for everything.
	if el > 2*time.Second {
		t.Fatalf("reading %d txns over a 200 ms RTT link took %v", n, el)
	}
	t.Logf("%d txns over 200 ms RTT in %v", n, el)
}

package store

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
)

// TestCaptureProfile captures an existing source's whole binlog in-process, for profiling with
// `go test -run TestCaptureProfile -cpuprofile`: OMS_STORE_PROFILE_PORT=13316 (bench/store_capture.sh
// with KEEP=1 leaves such a source). Skipped otherwise.
func TestCaptureProfile(t *testing.T) {
	port, _ := strconv.Atoi(os.Getenv("OMS_STORE_PROFILE_PORT"))
	if port == 0 {
		t.Skip("OMS_STORE_PROFILE_PORT not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := Config{Source: SourceConfig{Config: mysqlconn.Config{Host: "127.0.0.1", Port: port, User: "root"}}, Start: StartConfig{File: "mysql-bin.000001", Pos: 4}, Listen: "127.0.0.1:0"}
	st, err := NewWithConfig(component.Spec{Kind: Kind, WorkDir: t.TempDir()}, cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Init(ctx); err != nil {
		t.Fatal(err)
	}
	var last string
	if err := st.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&last); err != nil {
		t.Fatal(err)
	}
	want := binlog.MustParseGTIDSet("mariadb", last)
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- st.Run(rctx) }()
	for !st.log.End().ContainsSet(want) {
		time.Sleep(10 * time.Millisecond)
	}
	el := time.Since(t0)
	t.Logf("capture: %d txns, %d rows in %v: %.0f rows/s", st.txns.Load(), st.rows.Load(), el, float64(st.rows.Load())/el.Seconds())
	// Read it all back through the client (compressed frames over loopback).
	t0 = time.Now()
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: "profile"})
	if err != nil {
		t.Fatal(err)
	}
	var rows, txns int64
	for txns < st.txns.Load() {
		txn, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !txn.Heartbeat {
			txns++
			rows += int64(len(txn.Rows))
		}
	}
	el = time.Since(t0)
	t.Logf("read: %d txns, %d rows in %v: %.0f rows/s, %d bytes sent", txns, rows, el, float64(rows)/el.Seconds(), st.srv.sent.Load())
	r.Close()
	rcancel()
	<-done
	_ = st.Close()
}

package fence_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/fence"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const code = "TEST_FENCED"

func setup(t *testing.T) (*testenv.Instance, string) {
	t.Helper()
	inst := testenv.Shared(t, "target")
	schema := testenv.FreshDatabase(t, inst, "fence")
	if _, err := inst.DB().Exec("CREATE TABLE " + sqlgen.Table(schema, "data") + " (id INT PRIMARY KEY, v INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DB().Exec("INSERT INTO " + sqlgen.Table(schema, "data") + " VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	return inst, schema
}

// writer is one process's view: its own pool and its fence.
func writer(t *testing.T, inst *testenv.Instance, schema string, epoch int64) (*fence.Fence, *sql.DB) {
	t.Helper()
	db, err := sql.Open("mysql", inst.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := fence.New(schema, "w_fence", code, "test writer", "task1", epoch, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, s := range f.Tables() {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return f, db
}

// TestSuccessorDoesNotWaitForFrozenWriter: epoch 1 has a transaction open that read the claim
// and changed a row, and never finishes it (a frozen process). Epoch 2 claims the task at once by
// killing epoch 1's connection; epoch 1's transaction is rolled back, its commit fails, and its
// next transaction gets the fenced error. The row is epoch 2's to write.
func TestSuccessorDoesNotWaitForFrozenWriter(t *testing.T) {
	inst, schema := setup(t)
	ctx := context.Background()
	f1, db1 := writer(t, inst, schema, 1)
	if err := f1.Claim(ctx, db1); err != nil {
		t.Fatal(err)
	}
	tx1, err := f1.Begin(ctx, db1)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback() //nolint:errcheck // the test ends it
	if _, err := tx1.Exec("UPDATE " + sqlgen.Table(schema, "data") + " SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}

	f2, db2 := writer(t, inst, schema, 2)
	start := time.Now()
	if err := f2.Claim(ctx, db2); err != nil {
		t.Fatalf("epoch 2 claim: %v", err)
	}
	took := time.Since(start)
	t.Logf("epoch 2 took over in %v with epoch 1's transaction open", took.Round(time.Millisecond))
	if took > fence.LockWait {
		t.Fatalf("epoch 2 waited %v for epoch 1's transaction", took)
	}
	tx2, err := f2.Begin(ctx, db2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx2.Exec("UPDATE " + sqlgen.Table(schema, "data") + " SET v = 2 WHERE id = 1"); err != nil {
		t.Fatalf("epoch 2 blocked by epoch 1's row lock: %v", err)
	}
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}

	// Epoch 1 wakes up.
	if err := tx1.Commit(); err == nil {
		t.Fatal("epoch 1 committed after epoch 2 took over")
	}
	_, err = f1.Begin(ctx, db1)
	if omserr.CodeOf(err) != code {
		t.Fatalf("epoch 1's next transaction: %v, want %s", err, code)
	}
	var v int
	if err := inst.DB().QueryRow("SELECT v FROM " + sqlgen.Table(schema, "data") + " WHERE id = 1").Scan(&v); err != nil || v != 2 {
		t.Fatalf("row v=%d err=%v, want 2 (epoch 2's write only)", v, err)
	}
	// A stale epoch that starts late cannot claim.
	f1b, db1b := writer(t, inst, schema, 1)
	if err := f1b.Claim(ctx, db1b); omserr.CodeOf(err) != code {
		t.Fatalf("late epoch 1 claim: %v, want %s", err, code)
	}
}

// TestOnlyLiveRecordedConnectionsAreKilled: a connection id recorded before the target restarted
// (another boot time) may belong to anyone now; a claim never kills it.
func TestOnlyLiveRecordedConnectionsAreKilled(t *testing.T) {
	inst, schema := setup(t)
	ctx := context.Background()
	bystander, err := inst.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer bystander.Close()
	var id int64
	if err := bystander.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	f2, db2 := writer(t, inst, schema, 2)
	if _, err := db2.Exec("INSERT INTO "+sqlgen.Table(schema, "w_fence_conn")+" (task_id, conn_id, epoch, boot) VALUES ('task1', ?, 1, 12345)", id); err != nil {
		t.Fatal(err)
	}
	if err := f2.Claim(ctx, db2); err != nil {
		t.Fatal(err)
	}
	if err := bystander.PingContext(ctx); err != nil {
		t.Fatalf("a connection recorded in an earlier server life was killed: %v", err)
	}
}

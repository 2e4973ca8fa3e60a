package cm

import (
	"context"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestLeaseHolders: a lease is taken by the first asker, renewed by its holder at the same epoch,
// refused to others while live, and taken over with the next epoch once it has expired.
func TestLeaseHolders(t *testing.T) {
	m := metadbtest.Fresh(t)
	ctx := t.Context()
	cmDB := sqlgen.QuoteIdent(m.Names.CM)
	const ttl = 400 * time.Millisecond
	acquire := func(holder string, ttl time.Duration) (int64, bool) {
		t.Helper()
		epoch, ok, err := AcquireLease(ctx, m.DB, cmDB, "l1", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return epoch, ok
	}
	steps := []struct {
		holder    string
		ttl       time.Duration
		wantOK    bool
		wantEpoch int64
	}{
		{"a", time.Minute, true, 1}, // first asker
		{"a", time.Minute, true, 1}, // renewal keeps the epoch
		{"b", time.Minute, false, 0},
		{"a", ttl, true, 1}, // renewed with a short TTL, then left to expire
	}
	for i, s := range steps {
		epoch, ok := acquire(s.holder, s.ttl)
		if ok != s.wantOK || (ok && epoch != s.wantEpoch) {
			t.Fatalf("step %d (%s): ok=%v epoch=%d, want ok=%v epoch=%d", i, s.holder, ok, epoch, s.wantOK, s.wantEpoch)
		}
	}
	var epoch int64
	scenario.WaitFor(t, 10*time.Second, "b taking the expired lease", func() (bool, string) {
		e, ok := acquire("b", time.Minute)
		epoch = e
		return ok, ""
	})
	if epoch != 2 {
		t.Fatalf("takeover epoch %d, want 2", epoch)
	}
	if _, ok := acquire("a", time.Minute); ok {
		t.Fatal("the old holder renewed a lease another holder took")
	}
	if e, ok := acquire("b", time.Minute); !ok || e != 2 {
		t.Fatalf("new holder's renewal: ok=%v epoch=%d, want true 2", ok, e)
	}
}

// TestLeaseTakenPastSilentSession: a node frozen (SIGSTOP) in the middle of a MetaDB transaction
// holds its row locks; the MetaDB must end that session so the rest of the cluster can take the
// lease over. (CI failure: a frozen node held the lease row and no successor took over.)
func TestLeaseTakenPastSilentSession(t *testing.T) {
	m := metadbtest.Fresh(t)
	ctx := t.Context()
	cmDB := sqlgen.QuoteIdent(m.Names.CM)
	defer func(d time.Duration) { metadb.SessionIdleTimeout = d }(metadb.SessionIdleTimeout)
	metadb.SessionIdleTimeout = 2 * time.Second
	frozenDB, err := metadb.Open(ctx, config.Config{MetaHost: "127.0.0.1", MetaPort: m.Inst.Port, MetaUser: "root"})
	if err != nil {
		t.Fatal(err)
	}
	defer frozenDB.Close()
	if _, ok, err := AcquireLease(ctx, frozenDB, cmDB, "l1", "frozen", 300*time.Millisecond); err != nil || !ok {
		t.Fatalf("first take: %v %v", ok, err)
	}
	tx, err := frozenDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // the server has ended the session by then
	if _, err := tx.ExecContext(ctx, "UPDATE "+cmDB+".leases SET expires_at = expires_at WHERE name = 'l1'"); err != nil {
		t.Fatal(err)
	}
	// The "frozen" session now says nothing more.
	scenario.WaitFor(t, 20*time.Second, "another holder taking the lease past the silent session", func() (bool, string) {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, ok, err := AcquireLease(cctx, m.DB, cmDB, "l1", "successor", time.Minute)
		return ok, errString(err)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package bidir_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

func containsGTIDs(set, pos string) bool {
	a, err := binlog.ParseGTIDSet("mariadb", set)
	if err != nil {
		return false
	}
	return a.ContainsSet(binlog.MustParseGTIDSet("mariadb", pos))
}

// Writes in both regions (disjoint keys) and a DDL in the designated region reach the other
// side once and never come back: each Incr-Sync applies exactly the transactions its own
// region's clients committed, and each Store counts the echoes it dropped.
func TestTwoWayNoEcho(t *testing.T) {
	w := newTwoWay(t, conflict.Config{}, "hz")
	w.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	written := map[string]map[string]bool{"hz": {}, "hl": {}}
	for i := 0; i < 20; i++ {
		for n, r := range map[string]*region{"hz": w.hz, "hl": w.hl} {
			base := map[string]int{"hz": 0, "hl": 1000}[n]
			g, err := execTxn(ctx, r.inst.DB(),
				fmt.Sprintf("INSERT INTO app.t (id, v) VALUES (%d, 'a'), (%d, 'b')", base+2*i+1, base+2*i+2),
				fmt.Sprintf("UPDATE app.t SET v = 'c', ver = ver + 1 WHERE id = %d", base+2*i+1))
			if err != nil {
				t.Fatal(err)
			}
			written[n][g] = true
		}
	}
	g, err := execTxn(ctx, w.hz.inst.DB(), "ALTER TABLE app.t ADD COLUMN note VARCHAR(10) NULL")
	if err != nil {
		t.Fatal(err)
	}
	written["hz"][g] = true
	deadline := time.Now().Add(45 * time.Second)
	for {
		var n int
		_ = w.hl.inst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'app' AND column_name = 'note'").Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the DDL from hz did not reach hl:\n%s", w.hz.incr.LogTail())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	g, err = execTxn(ctx, w.hl.inst.DB(), "UPDATE app.t SET note = 'x' WHERE id = 1001")
	if err != nil {
		t.Fatal(err)
	}
	written["hl"][g] = true
	w.waitConverged(60 * time.Second)

	for _, d := range [][2]*region{{w.hz, w.hl}, {w.hl, w.hz}} {
		got := appliedGTIDs(t, d[0], d[1])
		if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(written[d[0].name])) {
			t.Errorf("%s applied %d transactions, %s's clients committed %d (an echo would be extra):\napplied %v\nwritten %v",
				incrTask(d[0], d[1]), len(got), d[0].name, len(written[d[0].name]), sortedKeys(got), sortedKeys(written[d[0].name]))
		}
		st, ok := d[0].store.Status()
		if !ok {
			t.Fatalf("store %s has no status", d[0].name)
		}
		// every target transaction the opposite direction committed here is an echo (the DDL
		// included); with atomic_txns one may hold several consecutive source transactions
		opp, ok := d[1].incr.Status()
		if !ok {
			t.Fatalf("incr-sync %s has no status", incrTask(d[1], d[0]))
		}
		want := opp.Metrics["target_commits_total"]
		if want < 1 || st.Metrics["echo_dropped_total"] < want {
			t.Errorf("store %s dropped %v echoes, want at least %v (the target commits of %s, which applied %d transactions)",
				d[0].name, st.Metrics["echo_dropped_total"], want, incrTask(d[1], d[0]), len(written[d[1].name]))
		}
	}
}

// A DDL from the region that is not the DDL region stops that direction, after everything
// before it, with a message that names both regions; the other direction runs on.
func TestTwoWayDDLFromWrongRegion(t *testing.T) {
	w := newTwoWay(t, conflict.Config{}, "hz")
	w.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := execTxn(ctx, w.hl.inst.DB(), "INSERT INTO app.t (id, v) VALUES (1001, 'before')"); err != nil {
		t.Fatal(err)
	}
	ddl, err := execTxn(ctx, w.hl.inst.DB(), "ALTER TABLE app.t ADD COLUMN wrong INT NULL")
	if err != nil {
		t.Fatal(err)
	}
	// a failed component process exits; its final status names the error
	scenario.WaitFor(t, 45*time.Second, "the hl -> hz direction stops at the DDL from hl", func() (bool, string) {
		return !w.hl.incr.Running(), w.hl.incr.LogTail()
	})
	st, ok := w.hl.incr.Status()
	if !ok || st.Error == nil || st.Error.Code != omserr.TwoWayDDLWrongRegion || !strings.Contains(st.Error.Message, ddl) ||
		!strings.Contains(st.Error.Message, "region hl") || !strings.Contains(st.Error.Message, "region hz only") {
		t.Fatalf("stopped with %+v\n%s", st.Error, w.hl.incr.LogTail())
	}
	var v string
	if err := w.hz.inst.DB().QueryRow("SELECT v FROM app.t WHERE id = 1001").Scan(&v); err != nil || v != "before" {
		t.Fatalf("the row before the DDL is not applied: %q %v", v, err)
	}
	var n int
	_ = w.hz.inst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'app' AND column_name = 'wrong'").Scan(&n)
	if n != 0 {
		t.Fatal("the DDL from the wrong region was applied")
	}
	// the other direction still works
	if _, err := execTxn(ctx, w.hz.inst.DB(), "INSERT INTO app.t (id, v) VALUES (1, 'hz')"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got string
		if w.hl.inst.DB().QueryRow("SELECT v FROM app.t WHERE id = 1").Scan(&got) == nil && got == "hz" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hz -> hl stopped too:\n%s", w.hz.incr.LogTail())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

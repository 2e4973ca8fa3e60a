package bidir_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// DDL from the region that does not own schema changes follows other_region_ddl per class: an
// index is applied on the other side (and its echo does not come back), a table option change
// is skipped (the direction runs on), and a class not named (view) stops the direction.
func TestTwoWayOtherRegionDDLPolicy(t *testing.T) {
	w := newTwoWay(t, conflict.Config{}, "hz", func(c *incrsync.TwoWayConfig) {
		c.OtherRegionDDL = map[string]string{"index": "apply", "table": "skip"}
	})
	w.startAll()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hl := map[string]bool{} // what hl's clients committed
	for _, s := range []string{
		"INSERT INTO app.t (id, v) VALUES (1001, 'before')",
		"CREATE INDEX ix_v ON app.t (v)",
		"ALTER TABLE app.t COMMENT = 'hl only'",
		"INSERT INTO app.t (id, v) VALUES (1002, 'after')",
	} {
		g, err := execTxn(ctx, w.hl.inst.DB(), s)
		if err != nil {
			t.Fatal(err)
		}
		hl[g] = true
	}
	g, err := execTxn(ctx, w.hz.inst.DB(), "INSERT INTO app.t (id, v) VALUES (1, 'hz')")
	if err != nil {
		t.Fatal(err)
	}
	w.waitConverged(60 * time.Second)
	var n int
	if err := w.hz.inst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = 'app' AND table_name = 't' AND index_name = 'ix_v'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the index from hl is not on hz (other_region_ddl index: apply): %d %v\n%s", n, err, w.hl.incr.LogTail())
	}
	var comment string
	if err := w.hz.inst.DB().QueryRow("SELECT table_comment FROM information_schema.tables WHERE table_schema = 'app' AND table_name = 't'").Scan(&comment); err != nil || comment != "" {
		t.Fatalf("the table change from hl reached hz (other_region_ddl table: skip): comment %q %v", comment, err)
	}
	// the index came back to hl as an echo and was dropped: hz -> hl applied only hz's write
	if got := appliedGTIDs(t, w.hz, w.hl); len(got) != 1 || !got[g] {
		t.Fatalf("hz -> hl applied %v, hz's clients committed only %s (an echo of the index would be extra)", sortedKeys(got), g)
	}
	// every transaction of hl is passed on (the skipped DDL too: its GTID is in the checkpoint),
	// the rows and the index applied
	if got := appliedGTIDs(t, w.hl, w.hz); len(got) < 3 {
		t.Fatalf("hl -> hz applied %v of %v", sortedKeys(got), sortedKeys(hl))
	}

	// a class not named stops the direction
	view, err := execTxn(ctx, w.hl.inst.DB(), "CREATE VIEW app.v AS SELECT id FROM app.t")
	if err != nil {
		t.Fatal(err)
	}
	scenario.WaitFor(t, 45*time.Second, "the hl -> hz direction stops at the view from hl", func() (bool, string) {
		return !w.hl.incr.Running(), w.hl.incr.LogTail()
	})
	st, ok := w.hl.incr.Status()
	if !ok || st.Error == nil || st.Error.Code != omserr.TwoWayDDLWrongRegion || !strings.Contains(st.Error.Message, view) {
		t.Fatalf("stopped with %+v\n%s", st.Error, w.hl.incr.LogTail())
	}
}

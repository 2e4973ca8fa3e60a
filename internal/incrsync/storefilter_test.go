package incrsync

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// TestStoreSendsSelectedOnly: the real binary reads from a real Store with a selection of one
// table and a column subset: the target gets exactly the selected columns, and the Store never
// sends a row of the other table (its filtered_rows_total counts every one of them).
func TestStoreSendsSelectedOnly(t *testing.T) {
	p := newPair(t)
	execAll(t, p.src.DB(),
		"CREATE TABLE "+q(p.db, "a")+" (id INT PRIMARY KEY, v VARCHAR(20), w VARCHAR(200), u INT, UNIQUE KEY (u))",
		"CREATE TABLE "+q(p.db, "b")+" (id INT PRIMARY KEY, x VARCHAR(200))")
	execAll(t, p.dst.DB(), "CREATE DATABASE IF NOT EXISTS `"+p.db+"`",
		"CREATE TABLE "+q(p.db, "a")+" (id INT PRIMARY KEY, v VARCHAR(20))")
	from := gtidPos(t, p.src)
	st := startTestStore(t, p.src, from, false)
	cfg := p.config()
	cfg.StoreAddr = st.Addr()
	cfg.StartGTID = from
	cfg.Selection = selection.Config{Tables: []selection.Rule{{DB: p.db, Table: "a", Columns: []string{"id", "v"}}, {DB: p.db, Table: "b"}},
		Exclude: []selection.Rule{{DB: p.db, Table: "b"}}}
	proc := scenario.NewComponentProcess(t, Kind, fmt.Sprintf("storefilter-%d", taskSeq.Add(1)), cfg)
	proc.Start()

	const n = 50
	bRows := 0
	for i := 1; i <= n; i++ {
		execAll(t, p.src.DB(),
			fmt.Sprintf("INSERT INTO %s VALUES (%d, 'v%d', REPEAT('w', 200), %d)", q(p.db, "a"), i, i, i),
			fmt.Sprintf("INSERT INTO %s VALUES (%d, REPEAT('x', 200))", q(p.db, "b"), i))
		bRows++
	}
	execAll(t, p.src.DB(),
		"UPDATE "+q(p.db, "a")+" SET w = 'changed' WHERE id <= 10", // no selected column changes
		"UPDATE "+q(p.db, "a")+" SET v = CONCAT(v, '!'), u = u + 1000 WHERE id > 40",
		"DELETE FROM "+q(p.db, "a")+" WHERE id = 5",
		"UPDATE "+q(p.db, "b")+" SET x = 'y' WHERE id <= 20", "DELETE FROM "+q(p.db, "b")+" WHERE id > 45")
	bRows += 20 + 5

	want := binlog.MustParseGTIDSet("mariadb", gtidPos(t, p.src))
	proc.WaitStatus(60*time.Second, "caught up with "+want.String(), func(s component.Status) bool {
		return s.Error == nil && s.Position != "" && binlog.MustParseGTIDSet("mariadb", s.Position).ContainsSet(want)
	})
	proc.Kill(syscall.SIGTERM)
	sel := "SELECT id, v FROM " + q(p.db, "a") + " ORDER BY id"
	if !testenv.SameRows(t, "source a (id, v) and target a", testenv.Rows(t, p.src.DB(), sel), testenv.Rows(t, p.dst.DB(), sel)) {
		t.FailNow()
	}
	if got := st.Status().Metrics["filtered_rows_total"]; got != float64(bRows) {
		t.Fatalf("store filtered %v rows, want the %d row changes of the excluded table", got, bRows)
	}
}

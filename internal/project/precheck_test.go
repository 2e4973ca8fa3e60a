package project

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPrecheckBinlogAndEmptySelection: a source at MariaDB's default binlog_row_metadata
// (NO_LOG) fails the precheck with the fix named (else the Store crash-loops later with
// STORE_SCHEMA_UNKNOWN); a wildcard selection that matches no table yet only warns, an exact
// table name that matches nothing still fails; a column subset is checked against the table.
func TestPrecheckBinlogAndEmptySelection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inst := testenv.StartMariaDB(t, testenv.Options{ExtraArgs: []string{"--binlog-row-metadata=NO_LOG"}})
	ep := Endpoint{Host: "127.0.0.1", Port: inst.Port, User: "root"}
	db := testenv.FreshDatabase(t, inst, "pc")
	if _, err := inst.DB().ExecContext(ctx, "CREATE TABLE `"+db+"`.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	incr := projectSpec{EnableIncr: true}
	one := selection.Config{Tables: []selection.Rule{{DB: db, Table: "t", RenameDB: db + "_dst"}}}

	failed := Precheck(ctx, ep, ep, one, incr).Failed()
	if len(failed) != 1 || failed[0].Name != "BINLOG" ||
		!strings.Contains(failed[0].Message, "binlog_row_metadata is NO_LOG") ||
		!strings.Contains(failed[0].Advice, "SET GLOBAL binlog_row_metadata=FULL") || !strings.Contains(failed[0].Advice, "my.cnf") {
		t.Fatalf("binlog_row_metadata=NO_LOG: failed items %v, want one BINLOG item naming the fix", failed)
	}

	if _, err := inst.DB().ExecContext(ctx, "SET GLOBAL binlog_row_metadata=FULL"); err != nil {
		t.Fatal(err)
	}
	if failed := Precheck(ctx, ep, ep, one, incr).Failed(); len(failed) != 0 {
		t.Fatalf("good source: %v", failed)
	}

	// A column subset: unknown columns and a left-out primary key are named; a good one passes,
	// and the project's wire mapping carries it into the selection every component gets.
	if _, err := inst.DB().ExecContext(ctx, "CREATE TABLE `"+db+"`.wide (id INT, k INT, c CHAR(8), pad CHAR(8), PRIMARY KEY (id, k))"); err != nil {
		t.Fatal(err)
	}
	bad := SelectionConfig(api.TransferMapping{Tables: []api.TableRule{{DB: db, Table: "wide", RenameDB: db + "_dst", Columns: []string{"id", "c", "nope"}}}})
	failed = Precheck(ctx, ep, ep, bad, incr).Failed()
	if len(failed) != 1 || failed[0].Name != "COLUMNS" || !strings.Contains(failed[0].Message, `has no column "nope"`) ||
		!strings.Contains(failed[0].Message, `leaves out primary key column "k"`) || strings.Contains(failed[0].Message, `"id"`) {
		t.Fatalf("bad column subset: failed items %v, want one COLUMNS item naming nope and k", failed)
	}
	good := SelectionConfig(api.TransferMapping{Tables: []api.TableRule{{DB: db, Table: "wide", RenameDB: db + "_dst", Columns: []string{"k", "id", "c"}}}})
	if failed := Precheck(ctx, ep, ep, good, incr).Failed(); len(failed) != 0 {
		t.Fatalf("good column subset: %v", failed)
	}
	if got := good.Tables[0].Columns; len(got) != 3 || got[0] != "k" {
		t.Fatalf("selection columns %v", got)
	}

	later := selection.Config{Tables: []selection.Rule{{DB: "app_*"}}}
	res := Precheck(ctx, ep, ep, later, incr)
	if failed := res.Failed(); len(failed) != 0 {
		t.Fatalf("wildcard selection matching nothing yet refused: %v", failed)
	}
	if s := res.Summary(); !strings.Contains(s, "warning: SELECTION (source): the selection matches no table") {
		t.Errorf("summary names no warning: %s", s)
	}
	exact := selection.Config{Tables: []selection.Rule{{DB: db, Table: "absent"}}}
	if failed := Precheck(ctx, ep, ep, exact, incr).Failed(); len(failed) != 1 || failed[0].Name != "SELECTION" {
		t.Errorf("exact selection matching nothing: failed %v, want SELECTION", failed)
	}
	if failed := Precheck(ctx, ep, ep, later, projectSpec{EnableFull: true}).Failed(); len(failed) != 1 {
		t.Errorf("full copy only, nothing selected: failed %v, want SELECTION", failed)
	}
}

package bidir

import (
	"testing"

	"github.com/omsdev/oms/internal/changelog"
)

func TestExcluded(t *testing.T) {
	for _, c := range []struct {
		do, ignore string
		excluded   bool
	}{
		{"", "", false},
		{"app,__oms", "", false},
		{"app", "", true},
		{"", "mysql,__oms", true},
		{"", "mysql", false},
	} {
		if got := excluded("__oms", c.do, c.ignore) != ""; got != c.excluded {
			t.Errorf("excluded(do=%q, ignore=%q) = %v, want %v", c.do, c.ignore, got, c.excluded)
		}
	}
}

func TestEchoFilter(t *testing.T) {
	marker := &changelog.Table{DB: "__oms", Name: MarkerTable, Columns: []changelog.Column{{Name: "task_id"}, {Name: "worker"}}}
	other := &changelog.Table{DB: "app", Name: "t", Columns: []changelog.Column{{Name: "task_id"}}}
	row := func(tbl *changelog.Table, task string) changelog.Row {
		return changelog.Row{Table: tbl, Op: changelog.OpUpdate, Before: []any{[]byte(task), int64(0)}, After: []any{[]byte(task), int64(0)}}
	}
	f := NewEchoFilter("", []string{"incr-hz-hl"})
	for _, c := range []struct {
		name string
		txn  changelog.Txn
		echo bool
	}{
		{"rows with the opposite task's marker", changelog.Txn{Rows: []changelog.Row{row(other, "x"), row(marker, "incr-hz-hl")}}, true},
		{"another task's marker", changelog.Txn{Rows: []changelog.Row{row(other, "x"), row(marker, "incr-other")}}, false},
		{"a table of the same name elsewhere", changelog.Txn{Rows: []changelog.Row{row(&changelog.Table{DB: "app", Name: MarkerTable, Columns: marker.Columns}, "incr-hz-hl")}}, false},
		{"a client's transaction", changelog.Txn{Rows: []changelog.Row{row(other, "incr-hz-hl")}}, false},
		{"a marked DDL", changelog.Txn{DDL: &changelog.DDL{Statement: DDLMarker("ALTER TABLE t ADD c INT -- why", "incr-hz-hl")}}, true},
		{"a DDL marked by another task", changelog.Txn{DDL: &changelog.DDL{Statement: DDLMarker("ALTER TABLE t ADD c INT", "incr-x")}}, false},
		{"a marker that is not at the end", changelog.Txn{DDL: &changelog.DDL{Statement: "ALTER TABLE t COMMENT '/* oms-echo task=incr-hz-hl */ x'"}}, false},
		{"a client's DDL", changelog.Txn{DDL: &changelog.DDL{Statement: "ALTER TABLE t ADD c INT"}}, false},
	} {
		if got := f.Echo(&c.txn); got != c.echo {
			t.Errorf("%s: Echo = %v, want %v", c.name, got, c.echo)
		}
	}
	if (EchoFilter{}).Echo(&changelog.Txn{Rows: []changelog.Row{row(marker, "")}}) {
		t.Error("the zero filter matched")
	}
}

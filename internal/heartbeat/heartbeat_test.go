package heartbeat

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestWritten(t *testing.T) {
	row := func(db, table string) changelog.Row {
		return changelog.Row{Table: &changelog.Table{DB: db, Name: table}}
	}
	for _, c := range []struct {
		name string
		txn  changelog.Txn
		want bool
	}{
		{"a heartbeat", changelog.Txn{Rows: []changelog.Row{row("__oms", "heartbeat")}}, true},
		{"among other rows", changelog.Txn{Rows: []changelog.Row{row("shop", "orders"), row("__oms", "heartbeat")}}, true},
		{"another schema's", changelog.Txn{Rows: []changelog.Row{row("hb", "heartbeat")}}, false},
		{"another table of the schema", changelog.Txn{Rows: []changelog.Row{row("__oms", "switch_fence")}}, false},
		{"no rows (a DDL)", changelog.Txn{DDL: &changelog.DDL{DB: "__oms", Statement: "CREATE TABLE heartbeat (id INT)"}}, false},
		{"a row without its table", changelog.Txn{Rows: []changelog.Row{{}}}, false},
	} {
		if got := Written(&c.txn, "__oms"); got != c.want {
			t.Errorf("%s: Written = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRunSkipsWhileAnotherHeartbeatGoesBy: a writer that saw a heartbeat less than half a period
// ago writes none (another Store's row serves the source); one that saw none, or an old one,
// writes every period.
func TestRunSkipsWhileAnotherHeartbeatGoesBy(t *testing.T) {
	inst := testenv.Shared(t, "src")
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	cases := map[string]func() time.Time{
		"no seen func":        nil,
		"seen just now":       time.Now,
		"seen 10 s ago":       func() time.Time { return time.Now().Add(-10 * time.Second) },
		"nothing seen (zero)": func() time.Time { return time.Time{} },
	}
	schemas := map[string]string{}
	done := make(chan struct{}, len(cases))
	for name, seen := range cases {
		schema := testenv.FreshDatabase(t, inst, "hb")
		schemas[name] = schema
		go func() { _ = Run(ctx, inst.DB(), schema, slog.Default(), seen); done <- struct{}{} }()
	}
	for range cases {
		<-done
	}
	for name, schema := range schemas {
		var ts string
		err := inst.DB().QueryRow("SELECT ts FROM `" + schema + "`.heartbeat WHERE id = 1").Scan(&ts)
		wantRow := name != "seen just now"
		switch {
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			t.Errorf("%s: %v", name, err)
		case wantRow && err != nil:
			t.Errorf("%s: no heartbeat row written", name)
		case !wantRow && err == nil:
			t.Errorf("%s: a heartbeat row was written at %s though another went by", name, ts)
		}
	}
}

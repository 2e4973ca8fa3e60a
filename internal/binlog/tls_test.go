package binlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/testenv"
)

// TestCaptureOverTLS: the binlog dump of a user the server lets in only over TLS (REQUIRE SSL)
// works with the default mode (preferred: TLS because the server offers it) and with
// verify-identity against the server's own CA; with TLS disabled the server refuses it.
func TestCaptureOverTLS(t *testing.T) {
	inst := testenv.StartMariaDB(t, testenv.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range []string{
		"CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE SSL",
		"GRANT ALL ON *.* TO 'tlsonly'@'127.0.0.1'",
		"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)",
	} {
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	start := gtidPos(t, inst)
	if _, err := inst.DB().ExecContext(ctx, "INSERT INTO d.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	conn := mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "tlsonly", Password: "pw"}
	for _, mode := range []mysqlconn.TLS{{}, {Mode: mysqlconn.TLSVerifyIdentity, CA: inst.CA.PEM}} {
		cfg := sourceConfig(inst)
		cfg.Conn = conn
		cfg.Conn.TLS = mode
		c, err := binlog.Open(ctx, cfg, binlog.Start{GTIDSet: start}, schema.NewTracker(inst.DB()))
		if err != nil {
			t.Fatalf("tls %+v: %v", mode, err)
		}
		txns := nextTxns(t, ctx, c, 1)
		c.Close()
		if r := txns[0].Rows[0]; r.Table.Name != "t" || r.After[0] != int64(1) {
			t.Fatalf("tls %+v: row %+v", mode, r)
		}
	}
	cfg := sourceConfig(inst)
	cfg.Conn = conn
	cfg.Conn.TLS.Mode = mysqlconn.TLSDisabled
	if c, err := binlog.Open(ctx, cfg, binlog.Start{GTIDSet: start}, schema.NewTracker(inst.DB())); err == nil {
		c.Close()
		t.Fatal("plain binlog dump of a REQUIRE SSL user was accepted")
	}
}

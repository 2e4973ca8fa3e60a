package mysqlconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestTLSModesAgainstPlainServer: a server without TLS refuses "required" with an error that
// says so, while "preferred" (and the default) fall back to a plain connection.
func TestTLSModesAgainstPlainServer(t *testing.T) {
	inst := testenv.StartMariaDB(t, testenv.Options{NoBinlog: true, ExtraArgs: []string{"--skip-ssl"}})
	ctx := context.Background()
	base := mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}

	for _, mode := range []mysqlconn.TLSMode{"", mysqlconn.TLSDisabled, mysqlconn.TLSPreferred} {
		c := base
		c.TLS.Mode = mode
		db, err := c.Open(ctx, mysqlconn.Options{})
		if err != nil {
			t.Fatalf("mode %q: %v", mode, err)
		}
		var cipher, value string
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&cipher, &value); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if value != "" {
			t.Fatalf("mode %q: session uses TLS cipher %q on a server without TLS", mode, value)
		}
	}

	c := base
	c.TLS.Mode = mysqlconn.TLSRequired
	db, err := c.Open(ctx, mysqlconn.Options{})
	if err == nil {
		db.Close()
		t.Fatal("required: connected to a server without TLS")
	}
	if !errors.Is(err, mysql.ErrNoTLS) || !strings.Contains(err.Error(), "does not offer TLS") || !strings.Contains(err.Error(), inst.Addr()) {
		t.Fatalf("required: unclear error %v", err)
	}
}

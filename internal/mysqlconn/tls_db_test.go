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

	if tc, err := base.ClientTLS(ctx); err != nil || tc != nil {
		t.Fatalf("preferred ClientTLS against a server without TLS: %v %v", tc, err)
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

// TestTLSModesAgainstTLSServer: a server with its own certificates is reached encrypted by every
// mode but disabled (preferred and the default included, as the server sees it: Ssl_cipher), is
// verified by verify-identity (CA as a file or as PEM text), and a wrong CA or a wrong name fail
// with an error that says so.
func TestTLSModesAgainstTLSServer(t *testing.T) {
	inst := testenv.StartMariaDB(t, testenv.Options{NoBinlog: true, TLS: true})
	ctx := context.Background()
	base := mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}

	for _, tc := range []struct {
		name      string
		tls       mysqlconn.TLS
		host      string
		encrypted bool
	}{
		{"default", mysqlconn.TLS{}, "", true},
		{"disabled", mysqlconn.TLS{Mode: mysqlconn.TLSDisabled}, "", false},
		{"preferred", mysqlconn.TLS{Mode: mysqlconn.TLSPreferred}, "", true},
		{"required", mysqlconn.TLS{Mode: mysqlconn.TLSRequired}, "", true},
		{"verify-ca file", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyCA, CAFile: inst.CAFile}, "", true},
		{"verify-identity file", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyIdentity, CAFile: inst.CAFile}, "", true},
		{"verify-identity pem localhost", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyIdentity, CA: inst.CA.PEM}, "localhost", true},
	} {
		c := base
		c.TLS = tc.tls
		if tc.host != "" {
			c.Host = tc.host
		}
		db, err := c.Open(ctx, mysqlconn.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cipher, err := mysqlconn.Cipher(ctx, db)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (cipher != "") != tc.encrypted {
			t.Fatalf("%s: server sees cipher %q, want encrypted=%v", tc.name, cipher, tc.encrypted)
		}
	}

	other, err := testenv.NewTestCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  mysqlconn.TLS
		want string
	}{
		{"verify-ca wrong CA", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyCA, CA: other.PEM}, "not signed by the configured CA"},
		{"verify-identity wrong CA", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyIdentity, CA: other.PEM}, "not signed by the configured CA"},
		{"verify-identity wrong name", mysqlconn.TLS{Mode: mysqlconn.TLSVerifyIdentity, CA: inst.CA.PEM, ServerName: "db.example"}, `does not name "db.example"`},
	} {
		c := base
		c.TLS = tc.tls
		db, err := c.Open(ctx, mysqlconn.Options{})
		if err == nil {
			db.Close()
			t.Fatalf("%s: connected", tc.name)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), inst.Addr()) {
			t.Fatalf("%s: unclear error %v", tc.name, err)
		}
	}

	// Clients other than the driver (the binlog dump) get a TLS config for preferred only when
	// the server offers TLS.
	c := base
	if tc, err := c.ClientTLS(ctx); err != nil || tc == nil {
		t.Fatalf("preferred ClientTLS against a TLS server: %v %v", tc, err)
	}
	c.TLS.Mode = mysqlconn.TLSDisabled
	if tc, err := c.ClientTLS(ctx); err != nil || tc != nil {
		t.Fatalf("disabled ClientTLS: %v %v", tc, err)
	}
}

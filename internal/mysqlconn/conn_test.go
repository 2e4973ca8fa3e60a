package mysqlconn

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/omserr"
)

const pw = "p@ss:w/o?rd=&x"

func TestDSNEscapes(t *testing.T) {
	c := Config{Host: "db.example", Port: 3307, User: "u@x", Password: pw, Database: "s"}
	dsn, err := c.DSN(Options{Params: map[string]string{"time_zone": TimeZoneUTC}, ClientFoundRows: true})
	if err != nil {
		t.Fatal(err)
	}
	back, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("DSN %q does not parse: %v", dsn, err)
	}
	if back.Passwd != pw || back.User != "u@x" || back.Addr != "db.example:3307" || back.DBName != "s" {
		t.Fatalf("round trip lost fields: %+v", back)
	}
	if back.Params["time_zone"] != TimeZoneUTC || !back.ClientFoundRows || !back.InterpolateParams {
		t.Fatalf("options lost: %+v", back)
	}
	// IPv6 hosts need brackets in the address.
	if got := (Config{Host: "::1", Port: 3306}).Addr(); got != "[::1]:3306" {
		t.Fatalf("Addr of ::1 = %q", got)
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	c := Config{Host: "h", Port: 1, User: "u", Password: pw}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "conn", c, "pw", c.Password)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "conn", c, "pw", c.Password)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c.Password), buf.String()} {
		if strings.Contains(s, "p@ss") {
			t.Fatalf("password printed: %s", s)
		}
	}
	if !strings.Contains(buf.String(), Masked) {
		t.Fatalf("log does not show the masked password: %s", buf.String())
	}
	// The spec file carries the real value.
	b, _ := json.Marshal(c)
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back.Password.Reveal() != pw {
		t.Fatalf("JSON round trip: %s -> %v %v", b, back.Password.Reveal(), err)
	}
	if strings.Contains(string(b), "tls") {
		t.Fatalf("empty TLS written: %s", b)
	}
}

func TestTLSCheck(t *testing.T) {
	for _, tc := range []struct {
		tls TLS
		ok  bool
	}{
		{TLS{}, true},
		{TLS{Mode: TLSDisabled}, true},
		{TLS{Mode: TLSPreferred}, true},
		{TLS{Mode: TLSRequired}, true},
		{TLS{Mode: TLSVerifyCA}, true},
		{TLS{Mode: TLSVerifyIdentity, CAFile: "/x"}, true},
		{TLS{Mode: "on"}, false},
		{TLS{Mode: TLSRequired, CAFile: "/x"}, false},
		{TLS{Mode: TLSVerifyCA, CAFile: "/x", CA: "pem"}, false},
		{TLS{CA: "pem"}, false},
	} {
		if err := tc.tls.Check(); (err == nil) != tc.ok {
			t.Errorf("%+v: err %v, want ok=%v", tc.tls, err, tc.ok)
		}
	}
	if _, err := (Config{Host: "h", Port: 1, TLS: TLS{Mode: TLSVerifyCA, CAFile: "/nonexistent/ca.pem"}}).DSN(Options{}); err == nil ||
		!strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
	dsn, err := (Config{Host: "h", Port: 1, TLS: TLS{Mode: TLSRequired}}).DSN(Options{})
	if err != nil || !strings.Contains(dsn, "tls=skip-verify") {
		t.Fatalf("required: %q %v", dsn, err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"deadlock", &mysql.MySQLError{Number: 1213}, true},
		{"lock wait", fmt.Errorf("apply: %w", &mysql.MySQLError{Number: 1205}), true},
		{"read-only failover", &mysql.MySQLError{Number: 1290}, true},
		{"server gone", &mysql.MySQLError{Number: 2006}, true},
		{"killed", &mysql.MySQLError{Number: 1927}, true},
		{"duplicate key", &mysql.MySQLError{Number: 1062}, false},
		{"out of range", &mysql.MySQLError{Number: 1264}, false},
		{"syntax", &mysql.MySQLError{Number: 1064}, false},
		{"bad conn", driver.ErrBadConn, true},
		{"invalid conn", fmt.Errorf("x: %w", mysql.ErrInvalidConn), true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"timeout", timeoutErr{}, true},
		{"operator error", omserr.New("X_Y", "m", "a"), false},
		{"plain", errors.New("boom"), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if ErrNumber(fmt.Errorf("w: %w", &mysql.MySQLError{Number: 1062})) != 1062 || ErrNumber(errors.New("x")) != 0 {
		t.Fatal("ErrNumber")
	}
}

func TestOpenRefusedNamesEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	c := Config{Host: "127.0.0.1", Port: port, User: "u", Password: pw}
	_, err = c.Open(context.Background(), Options{})
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if !strings.Contains(err.Error(), c.Addr()) || strings.Contains(err.Error(), "p@ss") {
		t.Fatalf("error %q: want the address, never the password", err)
	}
	if !Retryable(err) {
		t.Fatalf("a refused connection is retryable: %v", err)
	}
}

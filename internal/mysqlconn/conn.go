// Package mysqlconn is the one way oms connects to a MySQL-protocol server: the endpoint config
// a spec carries (host, port, user, password, TLS), the driver DSN built from it with a caller's
// session settings, a pool opened and pinged with sane limits, and the one classification of
// errors worth retrying. Its String and LogValue never show the password.
package mysqlconn

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Masked is how a password is shown anywhere it could be printed.
const Masked = "******"

// Secret is a password. It never prints (fmt, %#v, slog); JSON keeps the real value because a
// spec file (written 0600 by its owner) is where the component reads it from.
type Secret string

func (Secret) String() string       { return Masked }
func (Secret) GoString() string     { return Masked }
func (Secret) LogValue() slog.Value { return slog.StringValue(Masked) }

// Reveal returns the real value, for the driver only.
func (s Secret) Reveal() string { return string(s) }

// Config is a MySQL-protocol endpoint as specs carry it.
type Config struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password Secret `json:"password,omitempty"`
	// Database is the default schema of the sessions ("" = none).
	Database string `json:"database,omitempty"`
	TLS      TLS    `json:"tls,omitzero"`
}

// Addr is host:port.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// String is user@host:port: never the password.
func (c Config) String() string { return c.User + "@" + c.Addr() }

// LogValue implements slog.LogValuer without the password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("addr", c.Addr()), slog.String("user", c.User), slog.String("password", Masked)}
	if c.TLS.Mode != "" {
		attrs = append(attrs, slog.String("tls", string(c.TLS.Mode)))
	}
	return slog.GroupValue(attrs...)
}

// TimeZoneUTC is the session time_zone the data plane uses, so TIMESTAMP values move as UTC.
const TimeZoneUTC = "'+00:00'"

// Options are a caller's session and pool settings on top of the defaults (client-side
// parameter interpolation: one round trip per query and values back as exact text).
type Options struct {
	// Params are session variables, values written as SQL literals (e.g. "'+00:00'").
	Params map[string]string
	// ClientFoundRows makes UPDATE report matched rows instead of changed rows.
	ClientFoundRows bool
	ParseTime       bool
	Collation       string
	// MaxAllowedPacket in bytes; 0: the driver's 64 MiB; -1: ask the server at connect.
	MaxAllowedPacket int
	// ConnectTimeout defaults to 10s; ReadTimeout and WriteTimeout default to none.
	ConnectTimeout, ReadTimeout, WriteTimeout time.Duration
	// MaxOpen caps the pool (default 4; idle connections are kept up to the same number).
	MaxOpen int
	// ConnMaxLifetime recycles connections (default 1h).
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes pooled connections idle that long (default: never), so a pool never
	// hands out one the server has already closed (wait_timeout).
	ConnMaxIdleTime time.Duration
}

// driverConfig is the go-sql-driver config of c with o applied.
func (c Config) driverConfig(o Options) (*mysql.Config, error) {
	mc := mysql.NewConfig()
	mc.Net, mc.Addr, mc.User, mc.Passwd, mc.DBName = "tcp", c.Addr(), c.User, c.Password.Reveal(), c.Database
	mc.AllowAllFiles = false
	mc.InterpolateParams = true
	switch {
	case o.MaxAllowedPacket < 0:
		mc.MaxAllowedPacket = 0 // the driver asks the server
	case o.MaxAllowedPacket > 0:
		mc.MaxAllowedPacket = o.MaxAllowedPacket
	}
	mc.ClientFoundRows = o.ClientFoundRows
	mc.ParseTime = o.ParseTime
	if o.Collation != "" {
		mc.Collation = o.Collation
	}
	mc.Timeout = 10 * time.Second
	if o.ConnectTimeout > 0 {
		mc.Timeout = o.ConnectTimeout
	}
	mc.ReadTimeout, mc.WriteTimeout = o.ReadTimeout, o.WriteTimeout
	if len(o.Params) > 0 {
		mc.Params = make(map[string]string, len(o.Params))
		for k, v := range o.Params {
			mc.Params[k] = v
		}
	}
	if err := c.TLS.apply(mc, c.Host); err != nil {
		return nil, err
	}
	return mc, nil
}

// DSN is the driver DSN of c with o applied. A TLS mode that needs its own tls.Config (a CA
// file, or verification) is registered with the driver under a name derived from the settings.
func (c Config) DSN(o Options) (string, error) {
	mc, err := c.driverConfig(o)
	if err != nil {
		return "", err
	}
	if err := registerTLS(mc, c.TLS); err != nil {
		return "", err
	}
	return mc.FormatDSN(), nil
}

// Open opens a pool to c with o and pings it; the error names the endpoint (never the
// password) and wraps the driver's, so callers classify it with Retryable and wrap it in their
// own operator error.
func (c Config) Open(ctx context.Context, o Options) (*sql.DB, error) {
	mc, err := c.driverConfig(o)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connection settings of %s: %w", c, err)
	}
	db := sql.OpenDB(conn)
	n := o.MaxOpen
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	life := o.ConnMaxLifetime
	if life <= 0 {
		life = time.Hour
	}
	db.SetConnMaxLifetime(life)
	db.SetConnMaxIdleTime(o.ConnMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, c.connectError(err)
	}
	return db, nil
}

// connectError names the endpoint and, for TLS failures, what is wrong and what to change.
func (c Config) connectError(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, mysql.ErrNoTLS):
		return fmt.Errorf("connect to %s: tls.mode is %s but the server does not offer TLS (enable TLS on the server, or set tls.mode to preferred): %w", c, c.TLS.Mode, err)
	case errors.As(err, &unknown):
		return fmt.Errorf("connect to %s: tls.mode is %s but the server's certificate is not signed by the configured CA (give the CA that issued the server's certificate): %w", c, c.TLS.Mode, err)
	case errors.As(err, &host):
		return fmt.Errorf("connect to %s: tls.mode is verify-identity but the server's certificate does not name %q (connect by a name the certificate lists, or use verify-ca): %w", c, host.Host, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("connect to %s: the server's TLS certificate is not valid (%v): renew it on the server: %w", c, invalid.Reason, err)
	}
	return fmt.Errorf("connect to %s: %w", c, err)
}

package mysqlconn

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

// TLSMode is how a connection uses TLS, named as the mysql client's --ssl-mode.
type TLSMode string

const (
	// TLSDisabled: plain connections.
	TLSDisabled TLSMode = "disabled"
	// TLSPreferred (also the zero value, as for the mariadb client): TLS when the server offers
	// it, without verifying its certificate; plain otherwise.
	TLSPreferred TLSMode = "preferred"
	// TLSRequired: TLS or no connection; the certificate is not verified.
	TLSRequired TLSMode = "required"
	// TLSVerifyCA: TLS with a certificate signed by CAFile (or the system roots); the host name
	// is not checked.
	TLSVerifyCA TLSMode = "verify-ca"
	// TLSVerifyIdentity: as verify-ca, and the certificate names the host (or ServerName).
	TLSVerifyIdentity TLSMode = "verify-identity"
)

// TLS is the TLS part of a Config.
type TLS struct {
	Mode TLSMode `json:"mode,omitempty"`
	// CAFile is a PEM file of the CA certificates to trust (verify-ca, verify-identity; empty:
	// the system roots).
	CAFile string `json:"ca_file,omitempty"`
	// CA is the same as PEM text, for endpoints stored in the MetaDB (a data source's CA travels
	// in the component spec, so no file has to exist on the node that runs the component).
	CA string `json:"ca,omitempty"`
	// ServerName is the name verify-identity expects in the certificate (default: the host).
	ServerName string `json:"server_name,omitempty"`
}

// Modes lists the modes as operators write them.
const Modes = "disabled, preferred, required, verify-ca or verify-identity"

// ParseTLSMode reads a mode as written in config.yaml or an API request ("" is preferred).
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(s); m {
	case "":
		return TLSPreferred, nil
	case TLSDisabled, TLSPreferred, TLSRequired, TLSVerifyCA, TLSVerifyIdentity:
		return m, nil
	}
	return "", fmt.Errorf("TLS mode %q is unknown: use %s", s, Modes)
}

// Check says what is wrong with t, naming the field.
func (t TLS) Check() error {
	if _, err := ParseTLSMode(string(t.Mode)); err != nil {
		return fmt.Errorf("tls.mode: %w", err)
	}
	if t.CAFile != "" && t.CA != "" {
		return errors.New("tls.ca_file and tls.ca are both set: give the CA certificates one way")
	}
	if (t.CAFile != "" || t.CA != "") && !t.Verifies() {
		return fmt.Errorf("a TLS CA is set but tls.mode %q does not verify certificates: use verify-ca or verify-identity", t.Mode)
	}
	if t.CA != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(t.CA)) {
		return errors.New("tls.ca holds no PEM certificate: give the CA certificate as PEM text (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// Verifies reports whether t checks the server's certificate.
func (t TLS) Verifies() bool { return t.Mode == TLSVerifyCA || t.Mode == TLSVerifyIdentity }

// apply sets mc's TLS from t for a server reached as host.
func (t TLS) apply(mc *mysql.Config, host string) error {
	if err := t.Check(); err != nil {
		return err
	}
	switch t.Mode {
	case TLSDisabled:
		mc.TLS = nil
		return nil
	case "", TLSPreferred:
		mc.TLS = &tls.Config{InsecureSkipVerify: true}
		mc.AllowFallbackToPlaintext = true
		return nil
	case TLSRequired:
		mc.TLS = &tls.Config{InsecureSkipVerify: true}
		return nil
	}
	roots, err := t.roots()
	if err != nil {
		return err
	}
	if t.Mode == TLSVerifyIdentity {
		name := t.ServerName
		if name == "" {
			name = host
		}
		mc.TLS = &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
		return nil
	}
	// verify-ca: the chain is verified against roots, the name is not (crypto/tls verifies both
	// or neither, so the chain check is done here).
	mc.TLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return fmt.Errorf("server certificate: %w", err)
				}
				certs[i] = c
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}}
	return nil
}

// roots is the CA pool of t (nil: the system roots).
func (t TLS) roots() (*x509.CertPool, error) {
	pem, what := []byte(t.CA), "tls.ca"
	if t.CAFile != "" {
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pem, what = b, "tls.ca_file "+t.CAFile
	}
	if len(pem) == 0 {
		return nil, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", what)
	}
	return roots, nil
}

// ClientTLS is the tls.Config of c for clients other than go-sql-driver (the binlog dump): nil
// for disabled. Those clients cannot fall back to plain text, so for preferred ClientTLS asks
// the server first (a probe connection through the driver, which falls back by itself): TLS when
// that connection was encrypted, plain otherwise.
func (c Config) ClientTLS(ctx context.Context) (*tls.Config, error) {
	mc := mysql.NewConfig()
	if err := c.TLS.apply(mc, c.Host); err != nil {
		return nil, err
	}
	if mc.TLS == nil || !mc.AllowFallbackToPlaintext {
		return mc.TLS, nil
	}
	db, err := c.Open(ctx, Options{MaxOpen: 1})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	cipher, err := Cipher(ctx, db)
	if err != nil {
		return nil, err
	}
	if cipher == "" {
		return nil, nil
	}
	return mc.TLS, nil
}

// Cipher is the TLS cipher of one connection of db as the server sees it ("": not encrypted).
func Cipher(ctx context.Context, db *sql.DB) (string, error) {
	var name, value string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &value); err != nil {
		return "", fmt.Errorf("read Ssl_cipher: %w", err)
	}
	return value, nil
}

// registerTLS registers mc.TLS with the driver so mc.FormatDSN carries it: under a name derived
// from t, so equal settings share one registration.
func registerTLS(mc *mysql.Config, t TLS) error {
	switch t.Mode {
	case TLSDisabled:
		return nil
	case "", TLSPreferred:
		mc.TLSConfig = "preferred"
		return nil
	case TLSRequired:
		mc.TLSConfig = "skip-verify"
		return nil
	}
	sum := sha256.Sum256([]byte(string(t.Mode) + "\x00" + t.CAFile + "\x00" + t.CA + "\x00" + mc.TLS.ServerName))
	name := "oms-" + hex.EncodeToString(sum[:8])
	if err := mysql.RegisterTLSConfig(name, mc.TLS); err != nil {
		return fmt.Errorf("register TLS config: %w", err)
	}
	mc.TLSConfig = name
	return nil
}

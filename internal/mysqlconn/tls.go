package mysqlconn

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

// TLSMode is how a connection uses TLS, named as the mysql client's --ssl-mode.
type TLSMode string

const (
	// TLSDisabled (also the zero value): plain connections.
	TLSDisabled TLSMode = "disabled"
	// TLSPreferred: TLS when the server offers it, without verifying its certificate; plain
	// otherwise.
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
	// ServerName is the name verify-identity expects in the certificate (default: the host).
	ServerName string `json:"server_name,omitempty"`
}

// Check says what is wrong with t, naming the field.
func (t TLS) Check() error {
	switch t.Mode {
	case "", TLSDisabled, TLSPreferred, TLSRequired:
		if t.CAFile != "" {
			return fmt.Errorf("tls.ca_file is set but tls.mode %q does not verify certificates: use verify-ca or verify-identity", t.Mode)
		}
	case TLSVerifyCA, TLSVerifyIdentity:
	default:
		return fmt.Errorf("tls.mode %q is unknown: use disabled, preferred, required, verify-ca or verify-identity", t.Mode)
	}
	return nil
}

// apply sets mc's TLS from t for a server reached as host.
func (t TLS) apply(mc *mysql.Config, host string) error {
	if err := t.Check(); err != nil {
		return err
	}
	switch t.Mode {
	case "", TLSDisabled:
		mc.TLS = nil
		return nil
	case TLSPreferred:
		mc.TLS = &tls.Config{InsecureSkipVerify: true}
		mc.AllowFallbackToPlaintext = true
		return nil
	case TLSRequired:
		mc.TLS = &tls.Config{InsecureSkipVerify: true}
		return nil
	}
	var roots *x509.CertPool
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return fmt.Errorf("tls.ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls.ca_file %s holds no PEM certificate", t.CAFile)
		}
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

// ClientTLS is the tls.Config of c for clients other than go-sql-driver (the binlog dump): nil
// for disabled. For preferred it is nil too: those clients cannot fall back to plain text, so
// preferred means plain for them (issue 13 decides whether to try TLS first).
func (c Config) ClientTLS() (*tls.Config, error) {
	if c.TLS.Mode == TLSPreferred {
		return nil, nil
	}
	mc := mysql.NewConfig()
	if err := c.TLS.apply(mc, c.Host); err != nil {
		return nil, err
	}
	return mc.TLS, nil
}

// registerTLS registers mc.TLS with the driver so mc.FormatDSN carries it: under a name derived
// from t, so equal settings share one registration.
func registerTLS(mc *mysql.Config, t TLS) error {
	switch t.Mode {
	case "", TLSDisabled:
		return nil
	case TLSPreferred:
		mc.TLSConfig = "preferred"
		return nil
	case TLSRequired:
		mc.TLSConfig = "skip-verify"
		return nil
	}
	sum := sha256.Sum256([]byte(string(t.Mode) + "\x00" + t.CAFile + "\x00" + mc.TLS.ServerName))
	name := "oms-" + hex.EncodeToString(sum[:8])
	if err := mysql.RegisterTLSConfig(name, mc.TLS); err != nil {
		return fmt.Errorf("register TLS config: %w", err)
	}
	mc.TLSConfig = name
	return nil
}

// Package clusterca is the cluster's certificate authority: one CA kept in the MetaDB (cm.config
// row cluster_ca: the certificate in clear, the private key sealed with the cluster keyring of
// internal/secret), created by the first `oms node` or `oms metadb init` (INSERT IGNORE:
// concurrent starts agree on one CA), rotated by `oms cert rotate`, and the node's Keeper that
// issues the node's and its components' certificates. It is control plane (MetaDB and keyring);
// the data plane only uses internal/clustertls, which serves and dials with what is issued here.
// See docs/security.md for the threat model.
package clusterca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Lifetimes.
const (
	caValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is how long a node or component certificate is valid; RenewBefore is when a
	// node reissues it (nodes check every RefreshInterval).
	LeafValidity = 90 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
	// ActivationDelay: a rotated CA is trusted by every node (they re-read the row every
	// RefreshInterval) before any node issues from it, so no node meets a certificate from a CA
	// it does not trust yet.
	ActivationDelay = 3 * RefreshInterval
	RefreshInterval = 10 * time.Second
)

const configName = "cluster_ca"

// caEntry is one CA of the cluster_ca row; the row holds a JSON list, newest first.
type caEntry struct {
	Cert     string `json:"cert"`      // PEM
	Key      string `json:"key"`       // PKCS#8 DER sealed with the keyring ("enc:v1:...")
	UseAfter int64  `json:"use_after"` // unix s: nodes issue from it only from then on
}

// Authority is the cluster's CAs as one node sees them: every trusted CA and the one to issue
// from.
type Authority struct {
	trusted []*x509.Certificate
	pool    *x509.CertPool
	caPEM   []byte
	signer  *x509.Certificate
	key     crypto.Signer
}

// Load reads the cluster CAs from cmDB's config table, creating the first CA when there is none.
func Load(ctx context.Context, db *sql.DB, cmDB string, keys *secret.Keyring) (*Authority, error) {
	tbl := sqlgen.QuoteIdent(cmDB) + ".config"
	read := func() (string, error) {
		var v string
		err := db.QueryRowContext(ctx, "SELECT value FROM "+tbl+" WHERE name = ? AND scope = ''", configName).Scan(&v)
		return v, err
	}
	v, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		first, cerr := newCA(keys, time.Time{})
		if cerr != nil {
			return nil, cerr
		}
		raw, _ := json.Marshal([]caEntry{first})
		if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO "+tbl+" (name, scope, value) VALUES (?, '', ?)", configName, string(raw)); err != nil {
			return nil, fmt.Errorf("store cluster CA: %w", err)
		}
		v, err = read() // ours, or the one a node starting at the same time inserted first
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster CA: %w", err)
	}
	return parse(v, keys, time.Now())
}

// NewAuthority is a CA that lives only in this process: for tests and tools that need a cluster
// of their own (a node uses Load).
func NewAuthority() (*Authority, error) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	keys, err := secret.New(k) // seals the key only in memory
	if err != nil {
		return nil, err
	}
	e, err := newCA(keys, time.Time{})
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal([]caEntry{e})
	return parse(string(raw), keys, time.Now())
}

// Rotate makes a new cluster CA current (after ActivationDelay) and keeps the previous one
// trusted; older ones are dropped. With imported set, that certificate and key (the operator's
// own CA, e.g. an intermediate of the company PKI) become the new CA instead of a generated one.
// Every node reissues its own and its components' certificates once the new CA is active.
func Rotate(ctx context.Context, db *sql.DB, cmDB string, keys *secret.Keyring, imported *tls.Certificate) (fingerprint string, err error) {
	if _, err := Load(ctx, db, cmDB, keys); err != nil { // the row exists from here on
		return "", err
	}
	var next caEntry
	useAfter := time.Now().Add(ActivationDelay)
	if imported != nil {
		if next, err = importCA(keys, imported, useAfter); err != nil {
			return "", err
		}
	} else if next, err = newCA(keys, useAfter); err != nil {
		return "", err
	}
	tbl := sqlgen.QuoteIdent(cmDB) + ".config"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("rotate cluster CA: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var v string
	if err := tx.QueryRowContext(ctx, "SELECT value FROM "+tbl+" WHERE name = ? AND scope = '' FOR UPDATE", configName).Scan(&v); err != nil {
		return "", fmt.Errorf("rotate cluster CA: read: %w", err)
	}
	var entries []caEntry
	if err := json.Unmarshal([]byte(v), &entries); err != nil {
		return "", caInvalid(err)
	}
	// Keep the new CA and the one nodes issue from now: every certificate in use stays trusted,
	// even when two rotations come within ActivationDelay.
	entries = []caEntry{next, entries[activeEntry(entries, time.Now())]}
	raw, _ := json.Marshal(entries)
	if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET value = ? WHERE name = ? AND scope = ''", string(raw), configName); err != nil {
		return "", fmt.Errorf("rotate cluster CA: write: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("rotate cluster CA: %w", err)
	}
	block, _ := pem.Decode([]byte(next.Cert))
	return Fingerprint(block.Bytes), nil
}

// Fingerprint is the SHA-256 of a DER certificate, hex, as operators compare it.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

func caInvalid(err error) error {
	return omserr.Wrap(err, omserr.ClusterCAInvalid, "the cluster CA row (cm.config cluster_ca) cannot be read",
		"run `oms cert rotate -c config.yaml` to create a new cluster CA")
}

func parse(v string, keys *secret.Keyring, now time.Time) (*Authority, error) {
	var entries []caEntry
	if err := json.Unmarshal([]byte(v), &entries); err != nil || len(entries) == 0 {
		if err == nil {
			err = errors.New("no CA in the row")
		}
		return nil, caInvalid(err)
	}
	a := &Authority{pool: x509.NewCertPool()}
	active := activeEntry(entries, now)
	for i, e := range entries {
		block, _ := pem.Decode([]byte(e.Cert))
		if block == nil {
			return nil, caInvalid(errors.New("a CA certificate is not PEM"))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, caInvalid(err)
		}
		a.trusted = append(a.trusted, c)
		a.pool.AddCert(c)
		a.caPEM = append(a.caPEM, pem.EncodeToMemory(block)...)
		if i != active {
			continue
		}
		k, err := openKey(keys, e.Key)
		if err != nil {
			return nil, caInvalid(err)
		}
		a.signer, a.key = c, k
	}
	return a, nil
}

// activeEntry is the index of the CA to issue from: the newest whose UseAfter has passed, else
// the oldest.
func activeEntry(entries []caEntry, now time.Time) int {
	for i, e := range entries {
		if e.UseAfter <= now.Unix() {
			return i
		}
	}
	return len(entries) - 1
}

func openKey(keys *secret.Keyring, sealed string) (crypto.Signer, error) {
	der, err := keys.OpenString(sealed)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey([]byte(der))
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	return s, nil
}

func sealKey(keys *secret.Keyring, k crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	return keys.SealString(string(der)), nil
}

func newCA(keys *secret.Keyring, useAfter time.Time) (caEntry, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return caEntry{}, fmt.Errorf("generate cluster CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "oms cluster CA " + now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return caEntry{}, fmt.Errorf("create cluster CA: %w", err)
	}
	sealed, err := sealKey(keys, k)
	if err != nil {
		return caEntry{}, err
	}
	return caEntry{Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Key: sealed, UseAfter: useAfter.Unix()}, nil
}

func importCA(keys *secret.Keyring, c *tls.Certificate, useAfter time.Time) (caEntry, error) {
	bad := func(msg string) (caEntry, error) {
		return caEntry{}, omserr.New(omserr.ClusterCAInvalid, "the CA to import "+msg, "give a CA certificate (basic constraints CA:TRUE, keyCertSign) and its private key in PEM")
	}
	if len(c.Certificate) == 0 {
		return bad("has no certificate")
	}
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return bad("cannot be parsed")
	}
	if !x.IsCA || x.KeyUsage&x509.KeyUsageCertSign == 0 {
		return bad("is not a CA certificate")
	}
	k, ok := c.PrivateKey.(crypto.Signer)
	if !ok {
		return bad("has a key that cannot sign")
	}
	sealed, err := sealKey(keys, k)
	if err != nil {
		return caEntry{}, err
	}
	return caEntry{Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})), Key: sealed, UseAfter: useAfter.Unix()}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// Pool is every trusted CA.
func (a *Authority) Pool() *x509.CertPool { return a.pool }

// CAPEM is every trusted CA as PEM (a component's ca.pem).
func (a *Authority) CAPEM() []byte { return a.caPEM }

// Signer is the CA new certificates are issued from.
func (a *Authority) Signer() *x509.Certificate { return a.signer }

// Issue makes a certificate for id, valid as a server for hosts (IPs or names) and as a client.
func (a *Authority) Issue(id clustertls.Identity, hosts []string) (clustertls.Leaf, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return clustertls.Leaf{}, fmt.Errorf("generate key for %s: %w", id, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id.String()},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id.URI()},
	}
	if tmpl.NotAfter.After(a.signer.NotAfter) {
		tmpl.NotAfter = a.signer.NotAfter
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.signer, &k.PublicKey, a.key)
	if err != nil {
		return clustertls.Leaf{}, fmt.Errorf("issue certificate for %s: %w", id, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return clustertls.Leaf{}, err
	}
	return clustertls.Leaf{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		CAPEM:    a.caPEM,
		NotAfter: tmpl.NotAfter,
		Issuer:   Fingerprint(a.signer.Raw),
	}, nil
}

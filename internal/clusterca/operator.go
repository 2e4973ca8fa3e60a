package clusterca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/omserr"
)

// OperatorCert names a node certificate (PEM, the leaf first, intermediates after it) and its
// private key that the operator supplies (config node_tls_crt / node_tls_key) instead of the one
// the node issues itself from the cluster CA, e.g. one from the company PKI. The zero value:
// the node issues its own.
type OperatorCert struct{ CertFile, KeyFile string }

// operatorIssuer marks a leaf that came from the operator's files (Keeper.leaf.Issuer).
const operatorIssuer = "operator"

// refreshOwn re-reads the operator's files and takes them when they (or the trusted CAs)
// changed and they pass CheckNodeCert; true when the material changed.
func (k *Keeper) refreshOwn(ctx context.Context, a *Authority, old clustertls.Leaf) (bool, error) {
	certPEM, err := os.ReadFile(k.own.CertFile)
	if err != nil {
		return false, nodeCertInvalid(k.own, fmt.Sprintf("cannot read %s: %v", k.own.CertFile, err))
	}
	keyPEM, err := os.ReadFile(k.own.KeyFile)
	if err != nil {
		return false, nodeCertInvalid(k.own, fmt.Sprintf("cannot read %s: %v", k.own.KeyFile, err))
	}
	if old.Issuer == operatorIssuer && bytes.Equal(old.CertPEM, certPEM) && bytes.Equal(old.KeyPEM, keyPEM) && bytes.Equal(old.CAPEM, a.CAPEM()) {
		k.warnExpiry(old.NotAfter)
		return false, nil
	}
	notAfter, err := CheckNodeCert(k.own, certPEM, keyPEM, a.Pool(), k.ip)
	if err != nil {
		return false, err
	}
	leaf := clustertls.Leaf{CertPEM: certPEM, KeyPEM: keyPEM, CAPEM: a.CAPEM(), NotAfter: notAfter, Issuer: operatorIssuer}
	m, err := leaf.Material()
	if err != nil {
		return false, nodeCertInvalid(k.own, err.Error())
	}
	k.mu.Lock()
	k.leaf = leaf
	k.mu.Unlock()
	k.mem.Set(m)
	k.warnExpiry(notAfter)
	if k.OnRenew != nil {
		k.OnRenew(ctx, notAfter)
	}
	return true, nil
}

// warnExpiry warns (at most hourly) when the operator's certificate is within RenewBefore of its
// end: oms cannot renew it.
func (k *Keeper) warnExpiry(notAfter time.Time) {
	if time.Until(notAfter) > RenewBefore || time.Since(k.warnedAt) < time.Hour || k.log == nil {
		return
	}
	k.warnedAt = time.Now()
	k.log.Warn("the operator's node certificate expires soon; replace node_tls_crt and node_tls_key (the node re-reads them)",
		"file", k.own.CertFile, "not_after", notAfter)
}

// CheckNodeCert checks an operator's node certificate for the host ip before the node uses it:
// the key matches, it is valid now, it chains to a trusted cluster CA (pool) for both server and
// client use (other nodes verify it both ways), it names the node oms://node/<ip> (URI SAN) and
// ip (IP SAN, clients check the address they dialled). It returns the certificate's expiry.
func CheckNodeCert(own OperatorCert, certPEM, keyPEM []byte, pool *x509.CertPool, ip string) (time.Time, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return time.Time{}, nodeCertInvalid(own, fmt.Sprintf("certificate and key do not load as a pair: %v", err))
	}
	leaf := pair.Leaf
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return time.Time{}, nodeCertInvalid(own, fmt.Sprintf("it is valid from %s to %s, not now", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
			return time.Time{}, nodeCertInvalid(own, fmt.Sprintf("it does not verify against the cluster CAs for %s use: %v", usageName(use), err))
		}
	}
	want := clustertls.Node(ip)
	if id, ok := clustertls.IdentityOf(leaf); !ok || id != want {
		return time.Time{}, nodeCertInvalid(own, fmt.Sprintf("it does not name %s as its URI SAN", want))
	}
	if err := leaf.VerifyHostname(ip); err != nil {
		return time.Time{}, nodeCertInvalid(own, fmt.Sprintf("it has no IP SAN %s: %v", ip, err))
	}
	return leaf.NotAfter, nil
}

func usageName(u x509.ExtKeyUsage) string {
	if u == x509.ExtKeyUsageServerAuth {
		return "server (TLS Web Server Authentication)"
	}
	return "client (TLS Web Client Authentication)"
}

func nodeCertInvalid(own OperatorCert, why string) error {
	return omserr.New(omserr.ClusterCertInvalid, fmt.Sprintf("the node certificate %s (node_tls_crt, key node_tls_key) cannot be used: %s", own.CertFile, why),
		"issue it from a cluster CA (your CA imported with `oms cert rotate --ca-cert --ca-key`, or `oms cert issue --node IP`), with URI SAN oms://node/<host IP>, IP SAN <host IP> and extended key usage server and client auth; or remove node_tls_crt/node_tls_key to let the node issue its own")
}

package clustertls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsdev/oms/internal/omserr"
)

// Material is one party's certificate with its key and the CAs it trusts.
type Material struct {
	Cert     tls.Certificate
	Pool     *x509.CertPool
	NotAfter time.Time
}

func materialFromPEM(certPEM, keyPEM, caPEM []byte) (*Material, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("cluster CA file holds no certificate")
	}
	return &Material{Cert: c, Pool: pool, NotAfter: c.Leaf.NotAfter}, nil
}

// Source gives the current material; it may change (rotation), so TLS configs ask it at every
// handshake.
type Source interface {
	Material() (*Material, error)
}

// Memory is a Source set in process (a node: issued from the CA in the MetaDB).
type Memory struct{ m atomic.Pointer[Material] }

// Set replaces the material.
func (s *Memory) Set(m *Material) { s.m.Store(m) }

// Material is the current material.
func (s *Memory) Material() (*Material, error) {
	if m := s.m.Load(); m != nil {
		return m, nil
	}
	return nil, errors.New("no cluster certificate yet")
}

// Files names a component's certificate, key and CA bundle (PEM files the supervisor writes into
// the work dir, 0600). The files are re-read when they change, so a rotation reaches a running
// component without a restart.
type Files struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

// FilesIn are the file names the supervisor uses under dir.
func FilesIn(dir string) Files {
	return Files{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), CA: filepath.Join(dir, "ca.pem")}
}

// Write stores the leaf in f's files (0600; written aside and renamed, so a reader never sees a
// certificate without its key for long).
func (f Files) Write(l Leaf) error {
	for _, w := range []struct {
		path string
		data []byte
	}{{f.CA, l.CAPEM}, {f.Key, l.KeyPEM}, {f.Cert, l.CertPEM}} {
		tmp := w.path + ".tmp"
		if err := os.WriteFile(tmp, w.data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
		if err := os.Rename(tmp, w.path); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return nil
}

// Source returns a Source reading f, re-read when a file's modification time changes.
func (f Files) Source() (Source, error) {
	s := &fileSource{f: f}
	if _, err := s.Material(); err != nil {
		return nil, omserr.Wrap(err, omserr.ClusterCertInvalid, "cannot load the component's cluster certificate "+f.Cert,
			"the supervisor writes it; restart the component through its project")
	}
	return s, nil
}

type fileSource struct {
	f       Files
	mu      sync.Mutex
	m       *Material
	stamp   [3]time.Time
	checked time.Time
}

func (s *fileSource) Material() (*Material, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m != nil && time.Since(s.checked) < time.Second {
		return s.m, nil
	}
	s.checked = time.Now()
	var stamp [3]time.Time
	for i, p := range []string{s.f.Cert, s.f.Key, s.f.CA} {
		st, err := os.Stat(p)
		if err != nil {
			if s.m != nil {
				return s.m, nil // being replaced: keep the last good one
			}
			return nil, err
		}
		stamp[i] = st.ModTime()
	}
	if s.m != nil && stamp == s.stamp {
		return s.m, nil
	}
	read := func(p string) []byte { b, _ := os.ReadFile(p); return b }
	m, err := materialFromPEM(read(s.f.Cert), read(s.f.Key), read(s.f.CA))
	if err != nil {
		if s.m != nil {
			return s.m, nil
		}
		return nil, err
	}
	s.m, s.stamp = m, stamp
	return m, nil
}

// ServerConfig is mutual TLS 1.2+ for a server: its certificate and trusted CAs come from src at
// every handshake; a client certificate is verified when given (handlers decide with Guard, so a
// health check without one still gets up/down).
func ServerConfig(src Source) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m, err := src.Material()
			if err != nil {
				return nil, err
			}
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.Cert}, ClientCAs: m.Pool,
				ClientAuth: tls.VerifyClientCertIfGiven}, nil
		},
	}
}

// Listen is net.Listen wrapped in TLS with ServerConfig(src); src nil is plain TCP.
func Listen(addr string, src Source) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || src == nil {
		return ln, err
	}
	return tls.NewListener(ln, ServerConfig(src)), nil
}

// ClientConfig is mutual TLS 1.2+ for a client of addr: it presents src's certificate and
// verifies the server's against the cluster CAs and addr's host (the IP the server's
// certificate names). sessions (may be nil) lets the client resume TLS sessions; it must belong
// to this one src: a resumed session carries the identity it was made with.
func ClientConfig(src Source, addr string, sessions tls.ClientSessionCache) (*tls.Config, error) {
	m, err := src.Material()
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{m.Cert}, RootCAs: m.Pool, ServerName: host,
		ClientSessionCache: sessions}, nil
}

// Transport is an HTTP transport that dials with ClientConfig(src) (src nil: plain HTTP), built
// anew at every connection so rotated material is used; its connections resume TLS sessions
// (acks and status polls every few seconds do not pay a full handshake each time).
func Transport(src Source, base *http.Transport) *http.Transport {
	if base == nil {
		base = &http.Transport{}
	}
	if base.DialContext == nil {
		base.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if src == nil {
		return base
	}
	dial := base.DialContext
	sessions := tls.NewLRUClientSessionCache(64)
	base.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg, err := ClientConfig(src, addr, sessions)
		if err != nil {
			return nil, err
		}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, cfg)
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
	return base
}

// Scheme is "https" with cluster TLS, "http" without (src nil).
func Scheme(src Source) string {
	if src == nil {
		return "http"
	}
	return "https"
}

// NewServer is the http.Server of every cluster port (CM, supervisor, component status, Store
// stream): headers must arrive within 10 s (a slow-header client cannot hold connections) and stay
// under 64 KiB (an oversized request line, such as a huge consumer id, gets 400 or 431 before any
// handler runs, so it changes nothing); server errors go through ServerErrorLog.
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10, ErrorLog: ServerErrorLog(log)}
}

// ServerErrorLog is an http.Server ErrorLog for cluster TLS ports: failed handshakes (load
// balancer TCP checks, plain-HTTP or certificate-less probes) go to log at debug level, other
// server errors as warnings.
func ServerErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(serverLogWriter{log}, "", 0)
}

type serverLogWriter struct{ log *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		w.log.Debug("http server", "msg", msg)
	} else {
		w.log.Warn("http server", "msg", msg)
	}
	return len(p), nil
}

// Leaf is an issued certificate with its key and the CAs to trust, all PEM.
type Leaf struct {
	CertPEM, KeyPEM, CAPEM []byte
	NotAfter               time.Time
	Issuer                 string // fingerprint of the issuing CA
}

// Material turns the leaf into what a TLS config needs.
func (l Leaf) Material() (*Material, error) {
	return materialFromPEM(l.CertPEM, l.KeyPEM, l.CAPEM)
}

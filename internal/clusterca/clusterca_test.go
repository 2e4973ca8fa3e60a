package clusterca

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func material(t *testing.T, a *Authority, id clustertls.Identity, hosts ...string) clustertls.Source {
	t.Helper()
	l, err := a.Issue(id, hosts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Material()
	if err != nil {
		t.Fatal(err)
	}
	var mem clustertls.Memory
	mem.Set(m)
	return &mem
}

// serve runs h behind clustertls.ServerConfig(src) on 127.0.0.1 and returns its address.
func serve(t *testing.T, src clustertls.Source, h http.Handler) string {
	t.Helper()
	ln, err := clustertls.Listen("127.0.0.1:0", src)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func get(t *testing.T, c *http.Client, url string) (int, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestMutualTLSAndGuard: a plain-HTTP client gets nothing, a TLS client without a cluster
// certificate 401, a certificate of another cluster fails the handshake, a task certificate on a
// nodes-only endpoint 403, a node certificate 200; the server proves its IP.
func TestMutualTLSAndGuard(t *testing.T) {
	a, err := NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewAuthority()
	srvSrc := material(t, a, clustertls.Node("127.0.0.1"), "127.0.0.1")
	mux := http.NewServeMux()
	mux.Handle("GET /secret", clustertls.Guard(clustertls.IsNode, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the-secret") })))
	mux.HandleFunc("GET /health", clustertls.Health(func(*http.Request) (map[string]any, error) {
		return map[string]any{"leader": true}, errors.New("metadb unreachable: dial tcp 10.0.0.5:3306: password=hunter2")
	}))
	addr := serve(t, srvSrc, mux)

	// Plain HTTP to a TLS port: no data.
	code, body, err := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/secret")
	if err == nil && (code == 200 || strings.Contains(body, "the-secret")) {
		t.Fatalf("plain HTTP got %d %q", code, body)
	}
	// TLS trusting the CA but no client certificate: 401.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Pool(), MinVersion: tls.VersionTLS12}}}
	code, body, err = get(t, anon, "https://"+addr+"/secret")
	if err != nil || code != http.StatusUnauthorized || strings.Contains(body, "the-secret") {
		t.Fatalf("no client cert: %d %q %v, want 401", code, body, err)
	}
	var e omserr.Error
	if json.Unmarshal([]byte(body), &e) != nil || e.Code != omserr.ClusterUnauthenticated {
		t.Errorf("401 body %s", body)
	}
	// clustertls.Health to a stranger: up/down only, no cause.
	code, body, err = get(t, anon, "https://"+addr+"/health")
	if err != nil || code != http.StatusServiceUnavailable || strings.Contains(body, "hunter2") || strings.Contains(body, "leader") || !strings.Contains(body, `"down"`) {
		t.Errorf("anonymous health: %d %s %v", code, body, err)
	}
	// Another cluster's certificate: handshake refused.
	strange := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(material(t, other, clustertls.Node("127.0.0.1"), "127.0.0.1"), nil)}
	if code, body, err := get(t, strange, "https://"+addr+"/secret"); err == nil {
		t.Errorf("foreign cluster certificate: %d %q, want a handshake failure", code, body)
	}
	// A task: authenticated, not allowed.
	task := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(material(t, a, clustertls.Task("t1"), "127.0.0.1"), nil)}
	if code, body, err := get(t, task, "https://"+addr+"/secret"); err != nil || code != http.StatusForbidden {
		t.Errorf("task on nodes-only endpoint: %d %q %v, want 403", code, body, err)
	}
	// A node: allowed; and it sees the health details.
	node := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(material(t, a, clustertls.Node("127.0.0.2"), "127.0.0.2"), nil)}
	if code, body, err := get(t, node, "https://"+addr+"/secret"); err != nil || code != 200 || body != "the-secret" {
		t.Errorf("node: %d %q %v", code, body, err)
	}
	if code, body, _ := get(t, node, "https://"+addr+"/health"); code != 503 || !strings.Contains(body, "leader") {
		t.Errorf("node health: %d %s", code, body)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Pool(), MaxVersion: tls.VersionTLS11}}}
	if _, _, err := get(t, old, "https://"+addr+"/health"); err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
	// The server must prove the address dialled: a certificate for another IP is refused.
	wrong := serve(t, material(t, a, clustertls.Node("10.9.9.9"), "10.9.9.9"), mux)
	if _, _, err := get(t, node, "https://"+wrong+"/health"); err == nil {
		t.Error("server certificate for another IP accepted")
	}
}

func TestMayConsume(t *testing.T) {
	for _, c := range []struct {
		id       clustertls.Identity
		consumer string
		ok       bool
	}{
		{clustertls.Task("t1"), "incr-t1", true},
		{clustertls.Task("t1"), "incr-t2", false},
		{clustertls.Task("t1"), "t1", false},
		{clustertls.Task("t1"), "incr-t1x", false},
		{clustertls.Node("10.0.0.1"), "incr-t2", true},
		{clustertls.Identity{}, "incr-", false},
	} {
		if got := c.id.MayConsume(c.consumer); got != c.ok {
			t.Errorf("%v MayConsume(%q) = %v", c.id, c.consumer, got)
		}
	}
}

// TestIdentityRoundTrip: names with odd characters survive the URI SAN.
func TestIdentityRoundTrip(t *testing.T) {
	a, _ := NewAuthority()
	for _, id := range []clustertls.Identity{clustertls.Node("10.0.0.1"), clustertls.Task("prj_1-store"), clustertls.Task("a/b c")} {
		l, err := a.Issue(id, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := l.Material()
		got, ok := clustertls.IdentityOf(m.Cert.Leaf)
		if !ok || got != id {
			t.Errorf("identity %v came back as %v %v", id, got, ok)
		}
	}
}

// TestCAInMetaDBAndRotation: the first Load creates the CA with its key sealed (no PEM key in the
// row), every later Load sees the same CA; Rotate adds a CA that is trusted at once and issued
// from only after ActivationDelay; a Keeper reissues from it then, and the previous CA's
// certificates stay trusted.
// freshCA is a fresh MetaDB, its keyring and the cluster CA Load created in it.
func freshCA(t *testing.T) (metadbtest.MetaDB, *secret.Keyring, *Authority) {
	t.Helper()
	m := metadbtest.Fresh(t)
	ctx := context.Background()
	keys, err := secret.Load(ctx, m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Load(ctx, m.DB, m.Names.CM, keys)
	if err != nil {
		t.Fatal(err)
	}
	return m, keys, a
}

func TestCAInMetaDBAndRotation(t *testing.T) {
	m, keys, a1 := freshCA(t)
	ctx := context.Background()
	a2, err := Load(ctx, m.DB, m.Names.CM, keys)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(a1.Signer().Raw) != Fingerprint(a2.Signer().Raw) {
		t.Fatal("second Load made another CA")
	}
	var row string
	if err := m.DB.QueryRow("SELECT value FROM `" + m.Names.CM + "`.config WHERE name = 'cluster_ca'").Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, "PRIVATE KEY") || !strings.Contains(row, "enc:v1:") {
		t.Errorf("CA key not sealed in the row: %.200s", row)
	}
	k, err := NewKeeper(ctx, m.DB, m.Names.CM, keys, "127.0.0.1", OperatorCert{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldIssuer := k.Issuer()
	oldLeaf := material(t, a1, clustertls.Task("t-old"), "127.0.0.1")

	fp, err := Rotate(ctx, m.DB, m.Names.CM, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fp == oldIssuer {
		t.Fatal("rotate kept the CA")
	}
	if renewed, err := k.refresh(ctx); err != nil || !renewed || k.Issuer() != oldIssuer {
		t.Fatalf("right after rotation: renewed %v err %v issuer changed %v; want the new CA trusted, not yet issuing", renewed, err, k.Issuer() != oldIssuer)
	}
	var v string
	_ = m.DB.QueryRow("SELECT value FROM `" + m.Names.CM + "`.config WHERE name = 'cluster_ca'").Scan(&v)
	later, err := parse(v, keys, time.Now().Add(ActivationDelay+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(later.Signer().Raw) != fp {
		t.Fatal("after the activation delay the new CA does not issue")
	}
	// A server with a new-CA certificate accepts a client still holding an old-CA certificate.
	addr := serve(t, material(t, later, clustertls.Node("127.0.0.1"), "127.0.0.1"), clustertls.Guard(clustertls.AnyIdentity, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	oldClient := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(&withPool{oldLeaf, later}, nil)}
	if code, _, err := get(t, oldClient, "https://"+addr+"/"); err != nil || code != 200 {
		t.Errorf("old-CA client against new-CA server: %d %v", code, err)
	}
	// A second rotation before the first became active keeps the CA nodes issue from now (the
	// first one's certificates are still everywhere) and drops the never-used one.
	fp2, err := Rotate(ctx, m.DB, m.Names.CM, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	a3, err := Load(ctx, m.DB, m.Names.CM, keys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range a3.trusted {
		got = append(got, Fingerprint(c.Raw))
	}
	if len(got) != 2 || got[0] != fp2 || got[1] != oldIssuer || Fingerprint(a3.Signer().Raw) != oldIssuer {
		t.Errorf("after two quick rotations trusted %v signer %s, want [%s %s] issuing from the second", got, Fingerprint(a3.Signer().Raw), fp2, oldIssuer)
	}
}

// withPool is a source with one party's certificate and another's trust pool.
type withPool struct {
	cert clustertls.Source
	pool *Authority
}

func (w *withPool) Material() (*clustertls.Material, error) {
	m, err := w.cert.Material()
	if err != nil {
		return nil, err
	}
	c := *m
	c.Pool = w.pool.Pool()
	return &c, nil
}

// TestFilesReload: a component's clustertls.Files source picks up rewritten files.
func TestFilesReload(t *testing.T) {
	a, _ := NewAuthority()
	f := clustertls.FilesIn(t.TempDir())
	l1, _ := a.Issue(clustertls.Task("t1"), []string{"127.0.0.1"})
	if err := f.Write(l1); err != nil {
		t.Fatal(err)
	}
	src, err := f.Source()
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := src.Material()
	time.Sleep(1100 * time.Millisecond) // the source looks at the files at most once a second
	l2, _ := a.Issue(clustertls.Task("t1"), []string{"127.0.0.1"})
	if err := f.Write(l2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m2, _ := src.Material()
		if m2.Cert.Leaf.SerialNumber.Cmp(m1.Cert.Leaf.SerialNumber) != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("rewritten certificate never loaded")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := (clustertls.Files{Cert: "/nonexistent", Key: "/nonexistent", CA: "/nonexistent"}).Source(); omserr.CodeOf(err) != omserr.ClusterCertInvalid {
		t.Errorf("missing files: %v", err)
	}
	_ = net.IPv4len
}

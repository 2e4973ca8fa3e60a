package clusterca

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/omserr"
)

// TestOperatorNodeCert: a node given the operator's certificate and key (node_tls_crt /
// node_tls_key) serves and calls with exactly that certificate, picks up replaced files without a
// restart, and refuses at start a certificate other nodes would not accept (another CA, another
// node's identity, no IP SAN, a key of another certificate), naming the problem.
func TestOperatorNodeCert(t *testing.T) {
	m, keys, a := freshCA(t)
	ctx := context.Background()
	const ip = "127.0.0.1"
	dir := t.TempDir()
	own := OperatorCert{CertFile: filepath.Join(dir, "node.crt"), KeyFile: filepath.Join(dir, "node.key")}
	write := func(l clustertls.Leaf) {
		t.Helper()
		if err := os.WriteFile(own.CertFile, l.CertPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(own.KeyFile, l.KeyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issue := func(a *Authority, id clustertls.Identity, hosts ...string) clustertls.Leaf {
		t.Helper()
		l, err := a.Issue(id, hosts)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	foreign, err := NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	good, other := issue(a, clustertls.Node(ip), ip), issue(a, clustertls.Node(ip), ip)
	for _, tc := range []struct {
		name string
		cert clustertls.Leaf
		key  []byte
		want string
	}{
		{"another cluster's CA", issue(foreign, clustertls.Node(ip), ip), nil, "does not verify against the cluster CAs"},
		{"another node's identity", issue(a, clustertls.Node("10.0.0.9"), ip), nil, "oms://node/127.0.0.1"},
		{"a task's identity", issue(a, clustertls.Task("t1"), ip), nil, "oms://node/127.0.0.1"},
		{"no IP SAN", issue(a, clustertls.Node(ip), "node1.example"), nil, "no IP SAN 127.0.0.1"},
		{"key of another certificate", good, other.KeyPEM, "do not load as a pair"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.cert
			if tc.key != nil {
				l.KeyPEM = tc.key
			}
			write(l)
			_, err := NewKeeper(ctx, m.DB, m.Names.CM, keys, ip, own, nil)
			if omserr.CodeOf(err) != omserr.ClusterCertInvalid || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), own.CertFile) {
				t.Fatalf("err %v, want %s naming %s and saying %q", err, omserr.ClusterCertInvalid, own.CertFile, tc.want)
			}
		})
	}

	write(good)
	var renewedAt time.Time
	k, err := NewKeeper(ctx, m.DB, m.Names.CM, keys, ip, own, nil)
	if err != nil {
		t.Fatal(err)
	}
	k.OnRenew = func(_ context.Context, notAfter time.Time) { renewedAt = notAfter }
	// Another node (a client with a cluster-CA node certificate) sees the operator's certificate.
	addr := serve(t, k.Source(), clustertls.Guard(clustertls.IsNode, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	peer := func() []byte {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(material(t, a, clustertls.Node("127.0.0.2"), "127.0.0.2"), nil)}
		resp, err := c.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("node call: %s", resp.Status)
		}
		return resp.TLS.PeerCertificates[0].Raw
	}
	certDER := func(l clustertls.Leaf) []byte {
		c, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.Raw
	}
	if string(peer()) != string(certDER(good)) {
		t.Fatal("the node does not serve the operator's certificate")
	}
	// The node calls others with it too: a server that accepts only nodes admits it.
	srv := serve(t, material(t, a, clustertls.Node("127.0.0.2"), "127.0.0.1"), clustertls.Guard(clustertls.IsNode, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _ := clustertls.Caller(r); id != clustertls.Node(ip) {
			w.WriteHeader(http.StatusForbidden)
		}
	})))
	if code, _, err := get(t, &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(k.Source(), nil)}, "https://"+srv+"/"); err != nil || code != 200 {
		t.Fatalf("call with the operator's certificate: %d %v", code, err)
	}
	if renewed, err := k.refresh(ctx); err != nil || renewed {
		t.Fatalf("refresh with unchanged files: renewed %v err %v", renewed, err)
	}
	// Replaced files are taken at the next refresh, without a restart.
	write(other)
	if renewed, err := k.refresh(ctx); err != nil || !renewed || renewedAt.Unix() != other.NotAfter.Unix() {
		t.Fatalf("refresh after replacing the files: renewed %v err %v expiry %v", renewed, err, renewedAt)
	}
	if string(peer()) != string(certDER(other)) {
		t.Fatal("the replaced certificate is not served")
	}
	// A broken replacement is refused and the last good certificate stays in use.
	write(issue(foreign, clustertls.Node(ip), ip))
	if _, err := k.refresh(ctx); omserr.CodeOf(err) != omserr.ClusterCertInvalid {
		t.Fatalf("refresh with a foreign certificate: %v", err)
	}
	if string(peer()) != string(certDER(other)) {
		t.Fatal("a refused certificate replaced the last good one")
	}
}

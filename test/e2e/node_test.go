package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// selfSignedCert writes a certificate and key for ip into dir.
func selfSignedCert(t *testing.T, dir, ip string) (crt, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: ip}, IPAddresses: []net.IP{net.ParseIP(ip)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	crt, key = filepath.Join(dir, "oms.crt"), filepath.Join(dir, "oms.key")
	_ = os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return crt, key
}

// TestNodeStartTLSAndRefusals checks `oms node` on its own: refusals with clear messages and exit
// code 3 (host IP not in cm_nodes, no admin password on first start), HTTPS console with the
// configured certificate, the CLI over it, and an idempotent restart.
func TestNodeStartTLSAndRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta := testenv.StartMariaDB(t)
	dir := t.TempDir()
	ip := "127.0.0.4"
	cfg := writeConfig(t, dir, meta, "tls", []string{ip})
	crt, key := selfSignedCert(t, dir, ip)
	raw, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(raw, []byte("https_crt: "+crt+"\nhttps_key: "+key+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := testenv.OMSBinary(t)

	out, err := exec.Command(bin, "node", "-c", cfg, "--host-ip", "127.0.0.9", "--data-dir", dir).CombinedOutput()
	if scenario.ExitCode(err) != 3 || !strings.Contains(string(out), "NODE_HOST_IP_UNKNOWN") {
		t.Fatalf("host ip outside cm_nodes: exit %d\n%s", scenario.ExitCode(err), out)
	}
	cmd := exec.Command(bin, "node", "-c", cfg, "--host-ip", ip, "--data-dir", dir, "--console-port", strconv.Itoa(testenv.FreePort(t)))
	cmd.Env = append(os.Environ(), "OMS_ADMIN_PASSWORD=")
	out, err = cmd.CombinedOutput()
	if scenario.ExitCode(err) != 3 || !strings.Contains(string(out), "API_ADMIN_PASSWORD_MISSING") || !strings.Contains(string(out), "OMS_ADMIN_PASSWORD") {
		t.Fatalf("first start without admin password: exit %d\n%s", scenario.ExitCode(err), out)
	}

	n := newNode(t, dir, cfg, ip)
	pwFile := filepath.Join(dir, "admin.pw")
	_ = os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600)
	n.startWith(t, "https", "--admin-password-file", pwFile)

	// The CLI over HTTPS with a self-signed certificate.
	cli := exec.Command(bin, "host", "list", "--server", "https://"+ip+":"+strconv.Itoa(n.consolePort), "--insecure")
	cli.Env = append(os.Environ(), "OMS_PASSWORD="+adminPassword)
	out, err = cli.CombinedOutput()
	if err != nil || !strings.Contains(string(out), ip) || !strings.Contains(string(out), "cn-hangzhou") {
		t.Fatalf("oms host list over https: %v\n%s", err, out)
	}
	cli = exec.Command(bin, "project", "list", "--server", "https://"+ip+":"+strconv.Itoa(n.consolePort), "--insecure")
	cli.Env = append(os.Environ(), "OMS_PASSWORD=wrong-password")
	out, err = cli.CombinedOutput()
	if scenario.ExitCode(err) != 1 || !strings.Contains(string(out), "API_UNAUTHORIZED") {
		t.Fatalf("wrong password: exit %d\n%s", scenario.ExitCode(err), out)
	}

	// Restart: MetaDB init changes nothing, the admin keeps its password.
	n.stop()
	n.startWith(t, "https")
	cli = exec.Command(bin, "component", "list", "--server", "https://"+ip+":"+strconv.Itoa(n.consolePort), "--insecure")
	cli.Env = append(os.Environ(), "OMS_PASSWORD="+adminPassword)
	if out, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(out), "COMPONENT") {
		t.Fatalf("oms component list after restart: %v\n%s", err, out)
	}
	if strings.Count(scenario.Tail(n.logPath, 1<<30), "created the admin user") != 1 {
		t.Fatalf("admin created more than once:\n%s", n.logTail())
	}
	checkInternalLinks(t, n, cfg, meta)
}

// checkInternalLinks: the CM and supervisor ports serve only mutual TLS with the cluster CA
// (plain HTTP refused, no client certificate 401, health up/down only), the node's certificate
// names it and its expiry is in `oms host list`; `oms cert rotate` makes the node reissue it from
// the new CA without a restart; with the MetaDB down, health answers "down" without the cause.
func checkInternalLinks(t *testing.T, n *node, cfg string, meta *testenv.Instance) {
	bin := testenv.OMSBinary(t)
	cm := net.JoinHostPort(n.ip, strconv.Itoa(n.cmPort))
	sup := net.JoinHostPort(n.ip, strconv.Itoa(n.supPort))
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, u := range []string{"http://" + cm + "/cm/hosts", "http://" + sup + "/supervisor/components", "http://" + cm + "/cm/health"} {
		if resp, err := plain.Get(u); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 || strings.Contains(string(b), n.ip) {
				t.Errorf("plain HTTP %s: %d %s", u, resp.StatusCode, b)
			}
		}
	}
	// A new connection per request: each GET sees the certificate the server presents now.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // looking at the certificate, not trusting it
	get := func(u string) (int, string, *x509.Certificate) {
		resp, err := anon.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0]
	}
	for _, u := range []string{"https://" + cm + "/cm/hosts", "https://" + sup + "/supervisor/components"} {
		if code, body, _ := get(u); code != http.StatusUnauthorized || !strings.Contains(body, "CLUSTER_UNAUTHENTICATED") {
			t.Errorf("%s without a client certificate: %d %s", u, code, body)
		}
	}
	code, body, cert := get("https://" + cm + "/cm/health")
	if code != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("anonymous CM health: %d %s", code, body)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "oms://node/"+n.ip || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != n.ip {
		t.Errorf("CM certificate names %v %v", cert.URIs, cert.IPAddresses)
	}
	issuer := string(cert.AuthorityKeyId)

	cli := exec.Command(bin, "host", "list", "--server", "https://"+n.ip+":"+strconv.Itoa(n.consolePort), "--insecure")
	cli.Env = append(os.Environ(), "OMS_PASSWORD="+adminPassword)
	out, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CERT EXPIRES") || !strings.Contains(string(out), cert.NotAfter.UTC().Format("2006-01-02")) {
		t.Errorf("oms host list does not show the certificate's expiry %s: %v\n%s", cert.NotAfter.UTC().Format("2006-01-02"), err, out)
	}

	out, err = exec.Command(bin, "cert", "rotate", "-c", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "new cluster CA") {
		t.Fatalf("oms cert rotate: %v\n%s", err, out)
	}
	scenario.WaitFor(t, 90*time.Second, "the node's certificate reissued from the new CA", func() (bool, string) {
		_, _, c := get("https://" + sup + "/supervisor/health")
		return string(c.AuthorityKeyId) != issuer, c.Issuer.String()
	})

	meta.Stop()
	for _, u := range []string{"https://" + cm + "/cm/health", fmt.Sprintf("https://%s:%d/oms/health", n.ip, n.consolePort)} {
		code, body, _ := get(u)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"down"`) || strings.Contains(body, "error") || strings.Contains(body, "dial") || strings.Contains(body, "127.0.0.1:") {
			t.Errorf("%s with the MetaDB down: %d %s, want 503 down without the cause", u, code, body)
		}
	}
}

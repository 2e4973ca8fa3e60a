package e2e

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
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

// TestNodeWithOperatorCert: `oms cert issue --node IP` writes a node certificate; a node whose
// config names it (node_tls_crt / node_tls_key) serves its CM and supervisor with exactly that
// certificate; a certificate of another node is refused at start with CLUSTER_CERT_INVALID naming
// the file and the identity it lacks.
func TestNodeWithOperatorCert(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta := testenv.StartMariaDB(t)
	dir := t.TempDir()
	ip := "127.0.0.6"
	cfg := writeConfig(t, dir, meta, "opcert", []string{ip})
	bin := testenv.OMSBinary(t)
	if out, err := exec.Command(bin, "metadb", "init", "-c", cfg).CombinedOutput(); err != nil {
		t.Fatalf("oms metadb init: %v\n%s", err, out)
	}
	issue := func(node, out string) {
		t.Helper()
		o, err := exec.Command(bin, "cert", "issue", "-c", cfg, "--node", node, "--out", out).CombinedOutput()
		if err != nil || !strings.Contains(string(o), "oms://node/"+node) {
			t.Fatalf("oms cert issue --node %s: %v\n%s", node, err, o)
		}
	}
	good, wrong := filepath.Join(dir, "certs-good"), filepath.Join(dir, "certs-wrong")
	issue(ip, good)
	issue("127.0.0.7", wrong)
	raw, _ := os.ReadFile(cfg)
	withCert := func(d string) {
		t.Helper()
		extra := fmt.Sprintf("node_tls_crt: %s\nnode_tls_key: %s\n", filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem"))
		if err := os.WriteFile(cfg, append(append([]byte{}, raw...), extra...), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	withCert(wrong)
	cmd := exec.Command(bin, "node", "-c", cfg, "--host-ip", ip, "--data-dir", filepath.Join(dir, "refused"),
		"--console-port", strconv.Itoa(testenv.FreePort(t)), "--cm-port", strconv.Itoa(testenv.FreePort(t)), "--supervisor-port", strconv.Itoa(testenv.FreePort(t)))
	cmd.Env = append(os.Environ(), "OMS_ADMIN_PASSWORD="+adminPassword)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CLUSTER_CERT_INVALID") || !strings.Contains(string(out), filepath.Join(wrong, "cert.pem")) || !strings.Contains(string(out), "oms://node/"+ip) {
		t.Fatalf("node with another node's certificate: exit %d\n%s", scenario.ExitCode(err), out)
	}

	withCert(good)
	n := newNode(t, dir, cfg, ip)
	n.start(t)
	want, _ := os.ReadFile(filepath.Join(good, "cert.pem"))
	block, _ := pem.Decode(want)
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // comparing the certificate, not trusting it
	for _, u := range []string{fmt.Sprintf("https://%s:%d/cm/health", ip, n.cmPort), fmt.Sprintf("https://%s:%d/supervisor/health", ip, n.supPort)} {
		resp, err := anon.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if block == nil || string(resp.TLS.PeerCertificates[0].Raw) != string(block.Bytes) {
			t.Errorf("%s does not present the operator's certificate %s", u, filepath.Join(good, "cert.pem"))
		}
	}
}

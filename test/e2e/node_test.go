package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
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
}

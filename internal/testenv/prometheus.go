package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartPrometheus runs a real Prometheus (Debian package prometheus) on a random port with its
// own data dir, scraping targets (host:port, path /metrics) every second, and stops it when the
// test ends. It returns the address of its HTTP API. rulesFile, when not empty, is loaded.
func StartPrometheus(t testing.TB, targets []string, rulesFile string) string {
	t.Helper()
	return StartPrometheusTLS(t, targets, rulesFile, "")
}

// StartPrometheusTLS is StartPrometheus scraping over https with the client certificate in
// tlsDir (cert.pem, key.pem, ca.pem as `oms cert issue` writes them); "" scrapes plain http.
func StartPrometheusTLS(t testing.TB, targets []string, rulesFile, tlsDir string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		SkipOrFail(t, "prometheus is not installed (Debian package prometheus; scripts/install-deps.sh installs it with OMS_DEPLOY_DEPS=1)")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: oms\n    static_configs:\n      - targets: [%s]\n", strings.Join(quoted, ", "))
	if tlsDir != "" {
		cfg += fmt.Sprintf("    scheme: https\n    tls_config:\n      ca_file: %q\n      cert_file: %q\n      key_file: %q\n",
			filepath.Join(tlsDir, "ca.pem"), filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem"))
	}
	if rulesFile != "" {
		cfg += fmt.Sprintf("rule_files: [%q]\n", rulesFile)
	}
	p := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, dir, "prometheus", exec.Command(bin, "--config.file="+p, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr),
		"http://"+addr+"/-/ready")
	return addr
}

package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartPrometheus runs a real Prometheus (Debian package prometheus) on a random port with its
// own data dir, scraping targets (host:port, path /metrics) every second, and stops it when the
// test ends. It returns the address of its HTTP API. rulesFile, when not empty, is loaded.
func StartPrometheus(t testing.TB, targets []string, rulesFile string) string {
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
	if rulesFile != "" {
		cfg += fmt.Sprintf("rule_files: [%q]\n", rulesFile)
	}
	p := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+p, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond) // polling start-up
	}
}

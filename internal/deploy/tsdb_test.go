package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startInfluxDB runs a real influxd (Debian package influxdb, 1.x) with authentication on and an
// admin user, or skips when it is not installed.
func startInfluxDB(t *testing.T, user, password string) string {
	bin, err := exec.LookPath("influxd")
	if err != nil {
		testenv.SkipOrFail(t, "influxd is not installed (Debian package influxdb; scripts/install-deps.sh installs it with OMS_DEPLOY_DEPS=1)")
	}
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[http]
  bind-address = "%[3]s"
  auth-enabled = true
  log-enabled = false
`, freePort(t), dir, httpAddr)
	p := filepath.Join(dir, "influxdb.conf")
	os.WriteFile(p, []byte(cfg), 0o600)
	logf, _ := os.Create(filepath.Join(dir, "influxd.log"))
	cmd := exec.Command(bin, "-config", p)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/ping")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "influxd.log"))
			t.Fatalf("influxd did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond) // polling start-up
	}
	// With auth on and no user yet, InfluxDB accepts creating the first admin.
	q := url.Values{"q": {fmt.Sprintf("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES", user, password)}}
	resp, err := http.PostForm("http://"+httpAddr+"/query", q)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("create influx user: %v %v", err, resp)
	}
	resp.Body.Close()
	return httpAddr
}

func TestCheckInfluxDB(t *testing.T) {
	addr := startInfluxDB(t, "omsmon", "Influx-pw-1")
	ctx := context.Background()
	if err := CheckInfluxDB(ctx, addr, "omsmon", "Influx-pw-1"); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if err := CheckInfluxDB(ctx, "http://"+addr, "omsmon", "Influx-pw-1"); err != nil {
		t.Fatalf("http:// prefix: %v", err)
	}
	err := CheckInfluxDB(ctx, addr, "omsmon", "wrong")
	if omserr.CodeOf(err) != "DEPLOY_TSDB_AUTH" || !strings.Contains(err.Error(), `refuses user "omsmon"`) {
		t.Fatalf("bad password: %v", err)
	}
	err = CheckInfluxDB(ctx, fmt.Sprintf("127.0.0.1:%d", freePort(t)), "omsmon", "Influx-pw-1")
	if omserr.CodeOf(err) != "DEPLOY_TSDB_UNREACHABLE" {
		t.Fatalf("nothing listening: %v", err)
	}
}

// The wizard checks the time-series database on the spot: wrong credentials are refused and the
// section is asked again.
func TestWizardTSDBSectionChecksInfluxDB(t *testing.T) {
	addr := startInfluxDB(t, "omsmon", "Influx-pw-1")
	in := lines("y", "y", "", addr, "omsmon", "wrong", "y", "y", "influxdb", addr, "omsmon", "Influx-pw-1", "y")
	var tr strings.Builder
	w := NewWizard(NewPrompter(strings.NewReader(in), &tr), WizardOptions{TSDBProbe: CheckInfluxDB})
	if err := w.tsdbSection(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, tr.String())
	}
	if !strings.Contains(tr.String(), "The time-series database does not answer with these settings") || !w.shared.TSDBEnabled ||
		w.shared.TSDBURL != addr || w.shared.TSDBPassword.Reveal() != "Influx-pw-1" {
		t.Fatalf("tsdb section: %+v\n%s", w.shared, tr.String())
	}
}

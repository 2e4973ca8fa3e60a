package testenv

import (
	"encoding/json"
	"fmt"
	"io"
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
)

// Influx is a real influxd (Debian package influxdb, 1.x) started for one test, with HTTP
// authentication on and one admin user.
type Influx struct {
	Addr           string // host:port of the HTTP API
	User, Password string
	stop           func()
}

// FreePort returns a TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartInfluxDB runs influxd on random ports with its own config and directories, creates the
// admin user, and stops it when the test ends; it skips (or fails under OMS_TEST_STRICT) when
// influxd is not installed.
func StartInfluxDB(t testing.TB, user, password string) *Influx {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		SkipOrFail(t, "influxd is not installed (Debian package influxdb; scripts/install-deps.sh installs it with OMS_DEPLOY_DEPS=1)")
	}
	dir := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
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
`, FreePort(t), dir, httpAddr)
	p := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := startDaemon(t, dir, "influxd", exec.Command(bin, "-config", p), "http://"+httpAddr+"/ping")
	in := &Influx{Addr: httpAddr, User: user, Password: password, stop: stop}
	// With auth on and no user yet, InfluxDB accepts creating the first admin. /ping answers
	// before the meta store is ready: a 200 whose body carries an error is retried.
	q := url.Values{"q": {fmt.Sprintf("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES", user, password)}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.PostForm("http://"+httpAddr+"/query", q)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"error"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("create influx user: %v %s", err, body)
		}
		time.Sleep(100 * time.Millisecond) // polling start-up
	}
	return in
}

// Stop kills influxd and waits for it (idempotent).
func (in *Influx) Stop() { in.stop() }

// startDaemon starts cmd in its own process group with its output in dir/<name>.log, kills it
// when the test ends, and polls readyURL until it answers 2xx (30 s, then the log is shown).
// It returns an idempotent stop.
func startDaemon(t testing.TB, dir, name string, cmd *exec.Cmd, readyURL string) func() {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	stop := func() { _ = cmd.Process.Kill(); <-done }
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return stop
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not start: %v\n%s", name, err, b)
		}
		time.Sleep(100 * time.Millisecond) // polling start-up
	}
}

// InfluxSeries is one series of an InfluxQL answer.
type InfluxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Query runs an InfluxQL query in database db as the admin user and returns the first
// statement's series (none when InfluxDB does not answer: callers poll).
func (in *Influx) Query(t testing.TB, db, q string) []InfluxSeries {
	t.Helper()
	u := "http://" + in.Addr + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(in.User, in.Password)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Results []struct {
			Series []InfluxSeries `json:"series"`
		} `json:"results"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Results) == 0 {
		return nil
	}
	return r.Results[0].Series
}

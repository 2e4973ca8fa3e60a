package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/omserr"
)

// Installer installs `oms node` on hosts: it implements Deployer.
//
// Layout on a node (the seed's container mount directory, without the container):
//
//	<install>/bin/oms              the binary
//	<install>/conf/config.yaml     the node's config (0600)
//	<install>/conf/admin_password  the console admin password (0600; never in argv)
//	<install>/conf/tls/            https_key / https_crt when given
//	<install>/logs/init-*.log      start-up log of each start
//	<install>/store, <install>/run data of the Store, the pid file
type Installer struct {
	Out           io.Writer
	HealthTimeout time.Duration // 0: 90 s
	// Dial opens a Runner for a node (nil: local shell for Local nodes, SSH otherwise).
	Dial func(ctx context.Context, n Node) (Runner, error)
	// Registry checks and removes host rows (nil: the node's MetaDB).
	Registered func(ctx context.Context, c config.Config, ip string) (bool, error)
	Unregister func(ctx context.Context, c config.Config, ip string) error
}

// SetupRegion implements Deployer.
func (in *Installer) SetupRegion(ctx context.Context, c config.Config) error {
	rep, err := SetupRegion(ctx, c)
	if err != nil {
		return err
	}
	state := "unchanged (already set up)"
	if rep.Changed() {
		state = "set up"
	}
	fmt.Fprintf(in.out(), "Region %s: MetaDB databases %s, %s, %s %s; region row registered.\n", c.CMRegion, c.RMDB, c.CMDB, c.HeartbeatDB, state)
	return nil
}

func (in *Installer) out() io.Writer {
	if in.Out == nil {
		return io.Discard
	}
	return in.Out
}

func (in *Installer) dial(ctx context.Context, n Node) (Runner, error) {
	if in.Dial != nil {
		return in.Dial(ctx, n)
	}
	if n.Local {
		return LocalRunner{}, nil
	}
	return DialSSH(ctx, n.IP, n.SSH)
}

// StepError is an installation failure: the node, the step and the (remote) error.
type StepError struct {
	Host, Step string
	Err        error
	LogTail    string
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("host %s: step %q: %v", e.Host, e.Step, e.Err)
	if e.LogTail != "" {
		s += "\n--- start-up log (tail) ---\n" + e.LogTail
	}
	return s
}
func (e *StepError) Unwrap() error { return e.Err }

// InstallNode implements Deployer: stop an older node there, copy binary and config, start,
// wait for health. On failure it stops the node and removes a host row it created.
func (in *Installer) InstallNode(ctx context.Context, n Node) error {
	fail := func(step string, err error) error { return &StepError{Host: n.IP, Step: step, Err: err} }
	r, err := in.dial(ctx, n)
	if err != nil {
		return fail("connect", err)
	}
	defer r.Close()
	fmt.Fprintf(in.out(), "Node %s: connected; installing into %s.\n", n.IP, n.InstallDir)

	registeredBefore := false
	if in.registered() != nil {
		if registeredBefore, err = in.registered()(ctx, n.Config, n.IP); err != nil {
			return fail("read host registration", err)
		}
	}
	d := n.InstallDir
	if err := in.preflight(ctx, r, n); err != nil {
		return err
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"stop the running node", func() error { return stopNode(ctx, r, d) }},
		{"create directories", func() error {
			_, err := r.Run(ctx, fmt.Sprintf("mkdir -p %[1]s/bin %[1]s/conf/tls %[1]s/logs %[1]s/store %[1]s/run && chmod 700 %[1]s/conf", shellQuote(d)), nil)
			return err
		}},
		{"copy the binary", func() error { return putFile(ctx, r, n.Binary, path.Join(d, "bin/oms"), "0755") }},
		{"write the config", func() error { return putBytes(ctx, r, nodeConfig(n), path.Join(d, "conf/config.yaml"), "0600") }},
		{"write the admin password", func() error {
			if n.AdminPassword == "" {
				return nil // config apply: the node keeps the password file it has
			}
			return putBytes(ctx, r, []byte(n.AdminPassword.Reveal()), path.Join(d, "conf/admin_password"), "0600")
		}},
		{"copy the TLS key and certificate", func() error {
			if n.TLSKey == "" {
				return nil
			}
			if err := putFile(ctx, r, n.TLSKey, path.Join(d, "conf/tls/https.key"), "0600"); err != nil {
				return err
			}
			return putFile(ctx, r, n.TLSCrt, path.Join(d, "conf/tls/https.crt"), "0644")
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fail(s.name, err)
		}
	}
	logName, err := startNode(ctx, r, n)
	if err != nil {
		return fail("start the node", err)
	}
	fmt.Fprintf(in.out(), "Node %s: started (log %s); waiting for %s.\n", n.IP, logName, healthURL(n))
	if err := in.waitHealthy(ctx, r, n); err != nil {
		se := &StepError{Host: n.IP, Step: "wait for health", Err: err}
		se.LogTail, _ = r.Run(ctx, "tail -n 30 "+shellQuote(logName)+" 2>/dev/null", nil)
		if strings.TrimSpace(se.LogTail) == "" {
			se.LogTail = "(the log is empty: the process never started or died before writing anything)"
		}
		_ = stopNode(context.WithoutCancel(ctx), r, d)
		if !registeredBefore && in.unregister() != nil {
			if uerr := in.unregister()(context.WithoutCancel(ctx), n.Config, n.IP); uerr != nil {
				se.Err = fmt.Errorf("%w; and removing its host registration failed: %v", se.Err, uerr)
			}
		}
		return se
	}
	// The admin user exists now: the password file is not needed again.
	if _, err := r.Run(ctx, "rm -f "+shellQuote(path.Join(d, "conf/admin_password")), nil); err != nil {
		fmt.Fprintf(in.out(), "Node %s: warning: could not remove conf/admin_password: %v\n", n.IP, err)
	}
	return nil
}

func (in *Installer) registered() func(context.Context, config.Config, string) (bool, error) {
	if in.Registered != nil {
		return in.Registered
	}
	return hostRegistered
}

func (in *Installer) unregister() func(context.Context, config.Config, string) error {
	if in.Unregister != nil {
		return in.Unregister
	}
	return unregisterHost
}

// nodeConfig is the region's config as this node runs it: TLS paths point into conf/tls.
func nodeConfig(n Node) []byte {
	c := n.Config
	c.HTTPSKey, c.HTTPSCrt = "", ""
	if n.TLSKey != "" {
		c.HTTPSKey = path.Join(n.InstallDir, "conf/tls/https.key")
		c.HTTPSCrt = path.Join(n.InstallDir, "conf/tls/https.crt")
	}
	return config.Format(c)
}

// preflight checks the host before anything is changed: OS and architecture, free disk, and
// that the node's ports are free or held by an oms node of this installation.
func (in *Installer) preflight(ctx context.Context, r Runner, n Node) error {
	c := n.Config
	script := fmt.Sprintf(`set -e
uname -sm
d=%s; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
df -Pk "$d" | awk 'NR==2 {print $4}'
pid=$(cat %s/run/oms.pid 2>/dev/null || true)
ip=%s
for p in %d %d %d; do
  if { command -v ss >/dev/null && ss -Hltn | awk '{print $4}' | grep -qxF -e "$ip:$p" -e "0.0.0.0:$p" -e "*:$p" -e "[::]:$p"; } || (exec 3<>"/dev/tcp/$ip/$p") 2>/dev/null; then
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "port $p ours"; else echo "port $p busy"; fi
  fi
done
if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' %s %d 2>/dev/null; then echo "metadb ok"; else echo "metadb unreachable"; fi
echo "clock $(date +%%s)"`, shellQuote(n.InstallDir), shellQuote(n.InstallDir), shellQuote(n.IP), c.CMPort, c.ConsolePort, c.SupervisorPort,
		shellQuote(c.MetaHost), c.MetaPort)
	out, err := r.Run(ctx, "bash -c "+shellQuote(script), nil)
	if err != nil {
		return &StepError{Host: n.IP, Step: "check the host", Err: err}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var probs []string
	if len(lines) > 0 && !strings.HasPrefix(lines[0], "Linux") {
		probs = append(probs, "operating system is "+lines[0]+", not Linux")
	}
	if len(lines) > 1 {
		if kb, err := strconv.ParseInt(strings.TrimSpace(lines[1]), 10, 64); err == nil && kb < minFreeKB {
			fmt.Fprintf(in.out(), "Node %s: warning: only %d MiB free under %s; the Store keeps change logs there.\n", n.IP, kb/1024, n.InstallDir)
		}
	}
	for _, l := range lines {
		switch {
		case strings.HasSuffix(l, " busy"):
			probs = append(probs, strings.TrimSuffix(l, " busy")+" is in use by another process")
		case l == "metadb unreachable":
			probs = append(probs, fmt.Sprintf("the node cannot connect to the MetaDB at %s:%d", c.MetaHost, c.MetaPort))
		case strings.HasPrefix(l, "clock "):
			if p := in.clockProblem(ctx, c, strings.TrimPrefix(l, "clock ")); p != "" {
				probs = append(probs, p)
			}
		}
	}
	if len(probs) > 0 {
		return &StepError{Host: n.IP, Step: "check the host", Err: omserr.New(omserr.DeployHostCheck,
			strings.Join(probs, "; "), "fix what is listed: free the ports (8088 CM, 8089 console, 9000 supervisor) or change cm_server_port/nginx_server_port/supervisor_server_port; open the node's route to the MetaDB; synchronise the clock (NTP)")}
	}
	return nil
}

// maxClockSkew is how far a node's clock may be from the MetaDB's: leases and heartbeats compare
// times written by different hosts.
const maxClockSkew = 5 * time.Second

// clockProblem compares the node's clock (unix seconds) with the MetaDB's; "" when close enough
// or when the MetaDB cannot be asked from here (the MetaDB check reports that).
func (in *Installer) clockProblem(ctx context.Context, c config.Config, nodeUnix string) string {
	node, err := strconv.ParseInt(strings.TrimSpace(nodeUnix), 10, 64)
	if err != nil {
		return ""
	}
	meta, err := metaUnix(ctx, c)
	if err != nil {
		return ""
	}
	skew := time.Duration(node-meta) * time.Second
	if skew < 0 {
		skew = -skew
	}
	if skew > maxClockSkew {
		return fmt.Sprintf("the node's clock is %s off the MetaDB's (limit %s)", skew, maxClockSkew)
	}
	return ""
}

// minFreeKB is the free-disk warning threshold of the install directory (10 GiB).
const minFreeKB = 10 << 20

func putBytes(ctx context.Context, r Runner, data []byte, dst, mode string) error {
	_, err := r.Run(ctx, fmt.Sprintf("umask 077 && cat > %[1]s.new && chmod %[2]s %[1]s.new && mv -f %[1]s.new %[1]s", shellQuote(dst), mode), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func putFile(ctx context.Context, r Runner, src, dst, mode string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer f.Close()
	_, err = r.Run(ctx, fmt.Sprintf("umask 077 && cat > %[1]s.new && chmod %[2]s %[1]s.new && mv -f %[1]s.new %[1]s", shellQuote(dst), mode), f)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// StopNode stops the node installed at n (and the components it ran), leaving it installed: the
// upgrade stops a node before its components move, so none of them runs twice.
func (in *Installer) StopNode(ctx context.Context, n Node) error {
	r, err := in.dial(ctx, n)
	if err != nil {
		return &StepError{Host: n.IP, Step: "connect", Err: err}
	}
	defer r.Close()
	if err := stopNode(ctx, r, n.InstallDir); err != nil {
		return &StepError{Host: n.IP, Step: "stop the node", Err: err}
	}
	return nil
}

// stopNode stops the node started from this installation directory (pid file), waiting up to
// 20 s before SIGKILL, then any component it left running (each records its pid in its work
// directory: a node of an older version stops its children when it stops, but one killed
// outright leaves them). No pid file or a dead pid is not an error.
func stopNode(ctx context.Context, r Runner, dir string) error {
	script := fmt.Sprintf(`pf=%[1]s/run/oms.pid
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active -q oms-node 2>/dev/null; then
  systemctl stop oms-node
fi
[ -f "$pf" ] || exit 0
pid=$(cat "$pf")
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid"
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
  kill -0 "$pid" 2>/dev/null && { kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid"; }
fi
rm -f "$pf"
left=""
for f in %[1]s/run/*/pid %[1]s/store/*/pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  case "$p" in ''|*[!0-9]*) continue;; esac
  if kill -0 "$p" 2>/dev/null && tr '\0' ' ' < /proc/"$p"/cmdline 2>/dev/null | grep -q ' component '; then
    kill -TERM "$p" 2>/dev/null; left="$left $p"
  fi
done
for p in $left; do
  i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$p" 2>/dev/null || true
done
exit 0`, shellQuote(dir))
	_, err := r.Run(ctx, script, nil)
	return err
}

// startNode starts `oms node` with its output in logs/init-<time>.log and returns the log's
// path. Where systemd runs, as the unit oms-node (restarted on failure, started at boot);
// elsewhere detached in its own session, so it outlives the SSH session.
func startNode(ctx context.Context, r Runner, n Node) (string, error) {
	d := n.InstallDir
	logName := path.Join(d, "logs", "init-"+time.Now().UTC().Format("20060102T150405")+".log")
	script := fmt.Sprintf(`cd %[1]s || exit 1
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  cat > /etc/systemd/system/oms-node.service <<'OMS_UNIT_END'
%[4]sOMS_UNIT_END
  systemctl daemon-reload && systemctl enable -q oms-node && systemctl restart oms-node &&
  systemctl show -p MainPID --value oms-node > %[1]s/run/oms.pid
else
  pwf=; [ ! -f conf/admin_password ] || pwf="--admin-password-file conf/admin_password"
  setsid nohup ./bin/oms node -c conf/config.yaml --host-ip %[2]s --data-dir %[1]s $pwf > %[3]s 2>&1 < /dev/null &
  echo $! > %[1]s/run/oms.pid
fi`, shellQuote(d), shellQuote(n.IP), shellQuote(logName), SystemdUnit(d, n.IP, logName))
	_, err := r.Run(ctx, script, nil)
	return logName, err
}

// SystemdUnit is the oms-node service of an installation. The admin password file is passed
// only while it exists (the first start creates the admin user, then deploy removes the file).
func SystemdUnit(installDir, hostIP, logPath string) string {
	return fmt.Sprintf(`[Unit]
Description=oms node (console, CM, supervisor) of %[1]s
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory=%[1]s
ExecStart=/bin/sh -c 'pwf=; [ ! -f conf/admin_password ] || pwf="--admin-password-file conf/admin_password"; exec ./bin/oms node -c conf/config.yaml --host-ip %[2]s --data-dir %[1]s $pwf'
StandardOutput=append:%[3]s
StandardError=append:%[3]s
KillMode=control-group
Restart=on-failure
RestartSec=2
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`, installDir, hostIP, logPath)
}

// healthURL is the node console's health endpoint: https when the console has TLS.
func healthURL(n Node) string {
	scheme := "http"
	if n.TLSKey != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(n.IP, strconv.Itoa(n.Config.ConsolePort)) + "/oms/health"
}

// healthPoll is how often the health endpoint and the process are checked.
const healthPoll = 500 * time.Millisecond

// waitHealthy polls GET /oms/health on the console port until it answers 200, failing early when
// the process is gone.
func (in *Installer) waitHealthy(ctx context.Context, r Runner, n Node) error {
	timeout := in.HealthTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := healthURL(n)
	// Liveness only: a self-signed console certificate must not fail the wait.
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // health probe, no data
	var last error
	t := time.NewTicker(healthPoll)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err
		}
		alive, _ := r.Run(ctx, fmt.Sprintf(`pid=$(cat %s/run/oms.pid 2>/dev/null); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo alive || echo dead`, shellQuote(n.InstallDir)), nil)
		if strings.TrimSpace(alive) == "dead" {
			return fmt.Errorf("the oms node process exited (or never started) before %s answered", url)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %s: %v", url, timeout, last)
		case <-t.C:
		}
	}
}

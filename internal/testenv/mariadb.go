// Package testenv starts throwaway MariaDB servers (and the oms binary) for tests and benchmarks.
//
// Every instance is a real mariadbd from Debian's package with its own datadir under a directory
// owned by the calling process, a random free port on 127.0.0.1, binlog ROW/FULL with
// binlog_row_metadata=FULL, GTID strict mode, a unique server_id and local_infile on. Instances
// die with the process that started them (Pdeathsig) and are removed by t.Cleanup or Main, so a
// failing or killed test leaves nothing running. There are no database mocks in this project.
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options tune one instance. The zero value is what package tests want: small buffer pool and
// relaxed durability of the server itself (oms's own durability is what tests check).
type Options struct {
	// BufferPool is innodb_buffer_pool_size, e.g. "1G". Default "128M".
	BufferPool string
	// Durable sets innodb_flush_log_at_trx_commit=1 and sync_binlog=1 (benchmarks use it).
	Durable bool
	// NoBinlog starts the server without a binary log (to test prechecks).
	NoBinlog bool
	// ExtraArgs are appended to the mariadbd command line, e.g. "--binlog-format=STATEMENT".
	ExtraArgs []string
	// ServerID overrides the generated unique server_id.
	ServerID uint32
	// TLS starts the server with its own certificates: a new CA (Instance.CA) and a server
	// certificate for localhost and 127.0.0.1, so clients can use every TLS mode up to
	// verify-identity. Without it the server offers no TLS.
	TLS bool
}

// Instance is one running mariadbd. Login is root with an empty password over TCP 127.0.0.1.
type Instance struct {
	Port     int
	ServerID uint32
	Dir      string // instance directory: data/, binlog/, tmp/, error.log
	Socket   string
	// CA issued the server's certificate (Options.TLS; nil otherwise); CAFile is its PEM file.
	CA     *TestCA
	CAFile string

	cmd     *exec.Cmd
	exited  chan struct{}
	stopped atomic.Bool
	dbOnce  sync.Once
	db      *sql.DB
}

var serverIDs atomic.Uint32

func init() {
	// Distinct per test process so instances of parallel test binaries never clash.
	serverIDs.Store(uint32(os.Getpid()%50000)*1000 + 100)
}

// Root is the directory that holds this process's instances; a sweep removes the ones of dead
// processes (see sweepOrphans).
func Root() string {
	return filepath.Join(os.TempDir(), "oms-testenv", strconv.Itoa(os.Getpid()))
}

// Start creates and starts a new instance. The caller must Stop it; tests use StartMariaDB.
func Start(ctx context.Context, opt Options) (*Instance, error) {
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err2 := os.Stat("/usr/sbin/mariadbd"); err2 != nil {
			return nil, errors.New("testenv: mariadbd not found; install it with 'apt-get install -y mariadb-server' (make test does this)")
		}
	}
	sweepOrphans()
	sid := opt.ServerID
	if sid == 0 {
		sid = serverIDs.Add(1)
	}
	dir, err := os.MkdirTemp(mkdirAll(Root()), "mdb-")
	if err != nil {
		return nil, fmt.Errorf("testenv: create instance dir: %w", err)
	}
	for _, d := range []string{"data", "binlog", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("testenv: %w", err)
		}
	}
	inst := &Instance{ServerID: sid, Dir: dir, Socket: filepath.Join(dir, "mysql.sock"), exited: make(chan struct{})}
	if err := inst.install(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if opt.TLS {
		if inst.CA, err = NewTestCA("oms test CA " + filepath.Base(dir)); err == nil {
			err = inst.CA.WriteServerCert(filepath.Join(dir, "tls"))
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		inst.CAFile = filepath.Join(dir, "tls", "ca.pem")
	}
	// A port picked free can be taken by someone else before mariadbd binds it: retry.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		inst.Port = port
		if lastErr = inst.launch(ctx, opt); lastErr == nil {
			if err := inst.bootstrapUsers(ctx); err != nil {
				inst.Stop()
				return nil, err
			}
			return inst, nil
		}
		inst.exited = make(chan struct{})
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

func mkdirAll(p string) string { _ = os.MkdirAll(p, 0o755); return p }

// install creates the datadir. Its own tmpdir matters: bootstrap servers running at once with
// the shared /tmp crash on each other's Aria temporary tables (signal 11 in ha_maria::drop_table,
// about one run in six with four at once on MariaDB 10.11).
func (i *Instance) install(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "mariadb-install-db", "--no-defaults",
		"--datadir="+filepath.Join(i.Dir, "data"), "--tmpdir="+filepath.Join(i.Dir, "tmp"), "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db",
		"--innodb-log-file-size=32M")
	out, err := cmd.CombinedOutput()
	if err != nil {
		// the cause is near the top; the end is the same advice every time
		return fmt.Errorf("testenv: mariadb-install-db failed: %w\n%s", err, head(string(out), 12))
	}
	return nil
}

func (i *Instance) args(opt Options) []string {
	bp := opt.BufferPool
	if bp == "" {
		bp = "128M"
	}
	flush, syncBinlog := "2", "0"
	if opt.Durable {
		flush, syncBinlog = "1", "1"
	}
	a := []string{
		"--no-defaults", "--user=root",
		"--port=" + strconv.Itoa(i.Port), "--bind-address=127.0.0.1",
		"--socket=" + i.Socket,
		"--datadir=" + filepath.Join(i.Dir, "data"),
		"--tmpdir=" + filepath.Join(i.Dir, "tmp"),
		"--pid-file=" + filepath.Join(i.Dir, "mariadbd.pid"),
		"--log-error=" + filepath.Join(i.Dir, "error.log"),
		"--skip-name-resolve", "--max-connections=500", "--max-allowed-packet=256M",
		"--local-infile=1", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--innodb-buffer-pool-size=" + bp, "--innodb-log-file-size=32M",
		"--innodb-flush-log-at-trx-commit=" + flush, "--sync-binlog=" + syncBinlog,
		"--server-id=" + strconv.FormatUint(uint64(i.ServerID), 10),
		"--gtid-strict-mode=ON", "--gtid-domain-id=0",
		"--performance-schema=OFF", "--skip-log-error=0",
	}
	if !opt.NoBinlog {
		a = append(a,
			"--log-bin="+filepath.Join(i.Dir, "binlog", "mysql-bin"),
			"--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
			"--log-slave-updates=ON", "--max-binlog-size=256M",
			"--relay-log="+filepath.Join(i.Dir, "binlog", "relay-bin"))
	}
	if opt.TLS {
		a = append(a, i.tlsArgs()...)
	}
	return append(a, opt.ExtraArgs...)
}

func (i *Instance) launch(ctx context.Context, opt Options) error {
	bin := "mariadbd"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "/usr/sbin/mariadbd"
	}
	cmd := exec.Command(bin, i.args(opt)...)
	out, err := os.OpenFile(filepath.Join(i.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group (a ^C to the test does not hit it twice) and death with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("testenv: start mariadbd: %w", err)
	}
	i.cmd = cmd
	exited := i.exited
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	_ = os.WriteFile(filepath.Join(i.Dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("testenv: mariadbd on port %d exited during start-up:\n%s", i.Port, tail(i.ErrorLog(), 15))
		case <-ctx.Done():
			i.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if c, err := net.DialTimeout("unix", i.Socket, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	i.kill()
	return fmt.Errorf("testenv: mariadbd on port %d did not answer within 60s:\n%s", i.Port, tail(i.ErrorLog(), 15))
}

// bootstrapUsers lets root log in over TCP from 127.0.0.1, without writing to the binlog.
func (i *Instance) bootstrapUsers(ctx context.Context) error {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User = "unix", i.Socket, "root"
	cfg.MultiStatements = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `SET sql_log_bin=0;
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
		GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		DELETE FROM mysql.global_priv WHERE User='';
		FLUSH PRIVILEGES;`)
	if err != nil {
		return fmt.Errorf("testenv: bootstrap users on port %d: %w", i.Port, err)
	}
	// Without a binlog (Options.NoBinlog) there is nothing to reset: error 1186.
	var me *mysql.MySQLError
	if _, err := db.ExecContext(ctx, "RESET MASTER"); err != nil && !(errors.As(err, &me) && me.Number == 1186) {
		return fmt.Errorf("testenv: reset binlog on port %d: %w", i.Port, err)
	}
	return nil
}

// Addr is host:port for clients.
func (i *Instance) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(i.Port)) }

// DSN is a go-sql-driver DSN for database db (may be empty), with local infile allowed.
func (i *Instance) DSN(db string) string {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.DBName = "tcp", i.Addr(), "root", db
	cfg.AllowAllFiles = true
	cfg.ParseTime = false
	cfg.InterpolateParams = true
	cfg.MultiStatements = true
	return cfg.FormatDSN()
}

// DB is a shared connection pool to the instance (no default database), closed on Stop.
func (i *Instance) DB() *sql.DB {
	i.dbOnce.Do(func() {
		db, err := sql.Open("mysql", i.DSN(""))
		if err != nil {
			panic(err) // only on a malformed DSN, which DSN() never builds
		}
		db.SetMaxOpenConns(32)
		i.db = db
	})
	return i.db
}

// ErrorLog returns the server's error log.
func (i *Instance) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(i.Dir, "error.log"))
	return string(b)
}

// PID is the mariadbd process ID (0 when not running).
func (i *Instance) PID() int {
	if i.cmd == nil || i.cmd.Process == nil {
		return 0
	}
	return i.cmd.Process.Pid
}

// Kill9 kills the server with SIGKILL (for crash tests) and waits for it to exit. Restart with
// Restart.
func (i *Instance) Kill9() {
	i.kill()
}

func (i *Instance) kill() {
	if i.cmd != nil && i.cmd.Process != nil {
		_ = i.cmd.Process.Kill()
		<-i.exited
	}
}

// Restart starts a stopped or killed instance again on the same port and datadir.
func (i *Instance) Restart(ctx context.Context, opt Options) error {
	select {
	case <-i.exited:
	default:
		return fmt.Errorf("testenv: instance on port %d is still running", i.Port)
	}
	i.exited = make(chan struct{})
	return i.launch(ctx, opt)
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 30 s) and removes its directory.
// Safe to call more than once.
func (i *Instance) Stop() {
	if !i.stopped.CompareAndSwap(false, true) {
		return
	}
	if i.db != nil {
		i.db.Close()
	}
	if i.cmd != nil && i.cmd.Process != nil {
		_ = i.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-i.exited:
		case <-time.After(30 * time.Second):
			i.kill()
		}
	}
	_ = os.RemoveAll(i.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sweepOrphans kills and removes instances left by test processes that no longer exist (a test
// binary killed by a timeout cannot run its cleanup; Pdeathsig already killed the servers, this
// removes their files and anything that escaped).
func sweepOrphans() {
	base := filepath.Join(os.TempDir(), "oms-testenv")
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dirs, _ := filepath.Glob(filepath.Join(base, e.Name(), "mdb-*"))
		for _, d := range dirs {
			if b, err := os.ReadFile(filepath.Join(d, "mariadbd.pid")); err == nil {
				if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processAlive(p) {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		_ = os.RemoveAll(filepath.Join(base, e.Name()))
	}
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

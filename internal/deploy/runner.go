package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/omserr"
)

// Runner runs shell scripts on one host: this one, or a remote one over SSH.
type Runner interface {
	// Run runs script with sh on the host, feeding stdin (may be nil); it returns stdout and, on
	// failure, an error holding the exit status and the tail of stderr.
	Run(ctx context.Context, script string, stdin io.Reader) (string, error)
	Close() error
}

// LocalRunner runs scripts on this host.
type LocalRunner struct{}

// Run implements Runner.
func (LocalRunner) Run(ctx context.Context, script string, stdin io.Reader) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, tailText(errb.String(), 10))
	}
	return out.String(), nil
}

// Close implements Runner.
func (LocalRunner) Close() error { return nil }

// SSHRunner runs scripts on a remote host over one SSH connection; a user other than root runs
// them under sudo: `sudo -n` when the user has passwordless sudo, else `sudo -S` with the
// password written to sudo's stdin ahead of the script's input (never in argv, never logged).
type SSHRunner struct {
	client  *ssh.Client
	sudo    string        // "" (root), "-n" or "-S"
	sudoPW  config.Secret // for -S
	sshUser string
}

// sshDialTimeout bounds the TCP connect and the SSH handshake.
const sshDialTimeout = 15 * time.Second

// DialSSH logs in to host with l.
func DialSSH(ctx context.Context, host string, l SSHLogin) (*SSHRunner, error) {
	var auth []ssh.AuthMethod
	if l.Password != "" {
		pw := l.Password.Reveal()
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			a := make([]string, len(qs))
			for i := range a {
				a[i] = pw
			}
			return a, nil
		}))
	}
	if l.KeyFile != "" {
		pem, err := os.ReadFile(expandHome(l.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("read SSH key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			return nil, fmt.Errorf("parse SSH key %s: %w (a passphrase-protected key is not supported: use ssh-agent-free key or a password)", l.KeyFile, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if len(auth) == 0 {
		return nil, fmt.Errorf("ssh %s: give a password or a private key file", host)
	}
	hostKey := ssh.InsecureIgnoreHostKey() //nolint:gosec // documented: pass --ssh-known-hosts to check host keys
	if l.KnownHosts != "" {
		cb, err := knownhosts.New(expandHome(l.KnownHosts))
		if err != nil {
			return nil, fmt.Errorf("read known hosts %s: %w", l.KnownHosts, err)
		}
		hostKey = cb
	}
	port := l.Port
	if port == 0 {
		port = 22
	}
	cfg := &ssh.ClientConfig{User: l.User, Auth: auth, HostKeyCallback: hostKey, Timeout: sshDialTimeout}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	d := net.Dialer{Timeout: sshDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(sshDialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh login as %s to %s: %w", l.User, addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	r := &SSHRunner{client: ssh.NewClient(c, chans, reqs), sshUser: l.User}
	if l.User != "root" {
		sudoPW := l.SudoPassword
		if sudoPW == "" {
			sudoPW = l.Password
		}
		if err := r.chooseSudo(ctx, sudoPW); err != nil {
			r.Close()
			return nil, fmt.Errorf("ssh %s as %s: %w", addr, l.User, err)
		}
	}
	return r, nil
}

// chooseSudo picks passwordless sudo when the user has it, else sudo with the password.
func (r *SSHRunner) chooseSudo(ctx context.Context, pw config.Secret) error {
	r.sudo = "-n"
	if _, err := r.Run(ctx, "true", nil); err == nil {
		return nil
	}
	if pw == "" {
		return omserr.New(omserr.DeployHostCheck, fmt.Sprintf("user %s cannot run sudo without a password and no password was given", r.sshUser),
			"give the user's sudo password (the wizard's sudo or SSH password, --sudo-password-file, OMS_SUDO_PASSWORD, or the SSH password), allow it passwordless sudo, or log in as root")
	}
	r.sudo, r.sudoPW = "-S", pw
	if _, err := r.Run(ctx, "true", nil); err != nil {
		return omserr.New(omserr.DeployHostCheck, fmt.Sprintf("user %s cannot run sudo with the given password: %v", r.sshUser, err),
			"check the password and that the user may use sudo (sudoers), or log in as root")
	}
	return nil
}

// Run implements Runner.
func (r *SSHRunner) Run(ctx context.Context, script string, stdin io.Reader) (string, error) {
	s, err := r.client.NewSession()
	if err != nil {
		return "", fmt.Errorf("open ssh session: %w", err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &out, &errb, stdin
	cmd := "sh -c " + shellQuote(script)
	switch r.sudo {
	case "-n":
		cmd = "sudo -n " + cmd
	case "-S":
		// -k: always ask, so the password line is never left for the script's stdin; -p '': no
		// prompt text in stderr. sudo reads the password up to the newline, the rest is the script's.
		cmd = "sudo -k -S -p '' " + cmd
		in := []io.Reader{strings.NewReader(r.sudoPW.Reveal() + "\n")}
		if stdin != nil {
			in = append(in, stdin)
		}
		s.Stdin = io.MultiReader(in...)
	}
	done := make(chan error, 1) // buffered: Run's result is dropped when ctx ends first
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		return out.String(), ctx.Err()
	}
	if err != nil {
		msg := tailText(errb.String(), 10)
		if r.sudo != "" && strings.Contains(msg, "sudo") {
			msg += " (the SSH user needs sudo on this host: passwordless, or with the password given; or log in as root)"
		}
		return out.String(), fmt.Errorf("%w: %s", err, msg)
	}
	return out.String(), nil
}

// Close implements Runner.
func (r *SSHRunner) Close() error { return r.client.Close() }

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tailText(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return h + p[1:]
		}
	}
	return p
}

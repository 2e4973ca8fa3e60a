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
// them under `sudo -n`.
type SSHRunner struct {
	client *ssh.Client
	sudo   bool
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
	return &SSHRunner{client: ssh.NewClient(c, chans, reqs), sudo: l.User != "root"}, nil
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
	if r.sudo {
		cmd = "sudo -n " + cmd
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
		if r.sudo && strings.Contains(msg, "sudo") {
			msg += " (the SSH user needs passwordless sudo on this host, or log in as root)"
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

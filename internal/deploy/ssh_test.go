package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/omsdev/oms/internal/config"
)

// sshServer is an in-process SSH server that runs exec requests with sh on this host, with a
// fake sudo first on PATH, and records every command line it was asked to run (what ps would
// show on the node).
type sshServer struct {
	addr string
	mu   sync.Mutex
	cmds []string
}

func (s *sshServer) commands() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.cmds, "\n")
}

// fakeSudo: -n fails unless the nopasswd file exists; -k -S -p ” reads the password line from
// stdin, checks it against the password file and runs the command with the rest of stdin.
const fakeSudo = `#!/bin/sh
d=$(dirname "$0")
case "$1" in
-n) [ -f "$d/nopasswd" ] || { echo "sudo: a password is required" >&2; exit 1; }; shift; exec "$@";;
-k) [ "$2" = -S ] && [ "$3" = -p ] && [ "$4" = "" ] || { echo "sudo: unexpected flags $*" >&2; exit 2; }
    shift 4
    IFS= read -r pw
    [ "$pw" = "$(cat "$d/password")" ] || { echo "sudo: 1 incorrect password attempt" >&2; exit 1; }
    exec "$@";;
esac
echo "sudo: unexpected flags $*" >&2; exit 2
`

func startSSHServer(t *testing.T, user, password string) (*sshServer, string) {
	t.Helper()
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "sudo"), []byte(fakeSudo), 0o755)
	os.WriteFile(filepath.Join(bin, "password"), []byte(password), 0o600)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
		if c.User() == user && string(pw) == password {
			return nil, nil
		}
		return nil, os.ErrPermission
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &sshServer{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn, cfg, bin)
		}
	}()
	return s, bin
}

func (s *sshServer) serve(conn net.Conn, cfg *ssh.ServerConfig, bin string) {
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range creqs {
				if req.Type != "exec" || len(req.Payload) < 4 {
					req.Reply(false, nil)
					continue
				}
				line := string(req.Payload[4 : 4+binary.BigEndian.Uint32(req.Payload)])
				s.mu.Lock()
				s.cmds = append(s.cmds, line)
				s.mu.Unlock()
				req.Reply(true, nil)
				cmd := exec.Command("sh", "-c", line)
				cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				status := uint32(0)
				if err := cmd.Run(); err != nil {
					status = 1
					if ee, ok := err.(*exec.ExitError); ok {
						status = uint32(ee.ExitCode())
					}
				}
				ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
				return
			}
		}()
	}
}

// A user with sudo and its password (the guide's set-up): commands run under `sudo -S`, the
// password goes to sudo's stdin ahead of the script's input, never into a command line, and the
// script still gets its own input intact.
func TestSSHRunnerSudoWithPassword(t *testing.T) {
	const pw = "Sudo-Secret-42"
	srv, bin := startSSHServer(t, "deployer", pw)
	host, port, _ := net.SplitHostPort(srv.addr)
	p, _ := strconv.Atoi(port)
	ctx := context.Background()
	r, err := DialSSH(ctx, host, SSHLogin{User: "deployer", Password: config.Secret(pw), Port: p})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.sudo != "-S" {
		t.Fatalf("sudo mode %q, want -S (the user has no passwordless sudo)", r.sudo)
	}
	dst := filepath.Join(t.TempDir(), "config.yaml")
	payload := []byte("line one\nline two\n")
	if err := putBytes(ctx, r, payload, dst, "0600"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, payload) {
		t.Fatalf("the script's stdin arrived as %q, want %q", got, payload)
	}
	out, err := r.Run(ctx, "echo hello", nil)
	if err != nil || strings.TrimSpace(out) != "hello" {
		t.Fatalf("run without stdin: %q %v", out, err)
	}
	cmds := srv.commands()
	if strings.Contains(cmds, pw) || !strings.Contains(cmds, "sudo -k -S -p '' sh -c") {
		t.Fatalf("command lines (as ps shows them):\n%s", cmds)
	}

	// A wrong password is refused at login with advice, and the error holds no password.
	os.WriteFile(filepath.Join(bin, "password"), []byte("another"), 0o600)
	_, err = DialSSH(ctx, host, SSHLogin{User: "deployer", Password: config.Secret(pw), Port: p})
	if err == nil || !strings.Contains(err.Error(), "cannot run sudo with the given password") || strings.Contains(err.Error(), pw) {
		t.Fatalf("wrong sudo password: %v", err)
	}

	// A sudo password other than the SSH password (--sudo-password-file): sudo gets it, on stdin.
	const sudoPW = "Other-Sudo-Secret-7"
	r3, err := DialSSH(ctx, host, SSHLogin{User: "deployer", Password: config.Secret(pw), SudoPassword: config.Secret(sudoPW), Port: p})
	if err == nil || strings.Contains(err.Error(), sudoPW) {
		t.Fatalf("sudo with a password that is not sudo's: %v", err)
	}
	os.WriteFile(filepath.Join(bin, "password"), []byte(sudoPW), 0o600)
	if r3, err = DialSSH(ctx, host, SSHLogin{User: "deployer", Password: config.Secret(pw), SudoPassword: config.Secret(sudoPW), Port: p}); err != nil {
		t.Fatalf("sudo with its own password: %v", err)
	}
	if out, err := r3.Run(ctx, "echo as-root", nil); err != nil || strings.TrimSpace(out) != "as-root" || r3.sudo != "-S" {
		t.Fatalf("run under sudo with its own password: %q %v (mode %q)", out, err, r3.sudo)
	}
	r3.Close()
	if cmds := srv.commands(); strings.Contains(cmds, sudoPW) {
		t.Fatalf("the sudo password is on a command line:\n%s", cmds)
	}

	// Passwordless sudo is preferred when the user has it.
	os.WriteFile(filepath.Join(bin, "nopasswd"), nil, 0o600)
	r2, err := DialSSH(ctx, host, SSHLogin{User: "deployer", Password: config.Secret(pw), Port: p})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.sudo != "-n" {
		t.Fatalf("sudo mode %q, want -n", r2.sudo)
	}
}

package deploy

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/omsdev/oms/internal/testenv"
)

// openPTY returns a pseudo-terminal's master and slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pty slave: %v", err)
	}
	return m, s
}

// screen collects what the program writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (s *screen) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.buf.String() }

// The whole wizard through a pseudo-terminal, as an operator runs it: passwords are read with
// echo off (they never appear on the screen), and a single-region deployment installs a real
// node on this host.
func TestWizardOverPTY(t *testing.T) {
	inst := testenv.Shared(t, "metadb")
	const metaPW, adminPW = "Pty-Secret-9", "Admin-pw-9"
	user := fmt.Sprintf("pty%d", os.Getpid()%100000)
	if _, err := inst.DB().Exec(fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", user, metaPW)); err != nil {
		t.Fatal(err)
	}
	inst.DB().Exec(fmt.Sprintf("GRANT ALL ON *.* TO '%s'@'127.0.0.1'", user))
	t.Cleanup(func() { inst.DB().Exec(fmt.Sprintf("DROP USER '%s'@'127.0.0.1'", user)) })
	prefix := uniquePrefix()
	t.Cleanup(func() {
		for _, d := range []string{prefix + "_rm", prefix + "_cm", prefix + "_cm_hb"} {
			inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
		}
	})
	ip := loopbackIP()
	dir := t.TempDir()
	bin := testenv.OMSBinary(t)
	t.Cleanup(func() { _ = stopNode(context.Background(), LocalRunner{}, filepath.Join(dir, "nodes", ip)) })

	master, slave := openPTY(t)
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "deploy", "--out", dir, "-i", ip, "-d", bin, "-o", filepath.Join(dir, "nodes", "{ip}"), "--health-timeout", "40s")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var scr screen
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	steps := []struct{ prompt, answer string }{
		{"Enter a number", "1"}, {"Enter a number", "1"},
		{"MetaDB URL", "127.0.0.1"}, {"MetaDB port", strconv.Itoa(inst.Port)}, {"MetaDB username", user},
		{"MetaDB password", metaPW}, {"Prefix for the names", prefix}, {"Are the MetaDB settings correct?", "y"},
		{"Region ID", "cn-pty"}, {"cm_region_cn", ""}, {"CM service URL", ip + ":8088"},
		{"IP addresses of all servers", ip}, {"Region code cm_location", "1"}, {"Heartbeat database", ""}, {"Are the OMS cluster settings correct?", "y"},
		{"Monitor historical data", "n"}, {"Enable the audit log", "n"}, {"Modify any setting?", "n"},
		{"Password of the console user admin", adminPW}, {"Enter the admin password again", adminPW},
		{"Installation directory on the node", ""}, {"Install ", "y"}, {"Mount an SSL certificate", "n"},
	}
	pos := 0
	for _, s := range steps {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out := scr.String()
			if i := strings.Index(out[pos:], s.prompt); i >= 0 {
				if j := strings.Index(out[pos+i:], ": "); j >= 0 {
					pos += i + j + 2
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %q; screen:\n%s", s.prompt, out)
			}
			time.Sleep(20 * time.Millisecond) // polling the screen
		}
		if _, err := master.Write([]byte(s.answer + "\r")); err != nil {
			t.Fatal(err)
		}
	}
	err := cmd.Wait()
	out := scr.String()
	if err != nil {
		t.Fatalf("wizard over a pty: %v\n%s", err, out)
	}
	for _, want := range []string{"Node " + ip + " is running.", "Deployment finished."} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{metaPW, adminPW} {
		if strings.Contains(out, secret) {
			t.Errorf("password %q was echoed on the terminal:\n%s", secret, out)
		}
	}
	if err := healthyURL("http://" + ip + ":8089/oms/health"); err != nil {
		t.Fatal(err)
	}
}

func healthyURL(u string) error {
	resp, err := httpGet(u)
	if err != nil {
		return err
	}
	if resp != 200 {
		return fmt.Errorf("%s answered %d", u, resp)
	}
	return nil
}

func httpGet(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

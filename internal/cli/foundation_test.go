package cli_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run executes the real binary and returns combined output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testenv.OMSBinary(t), args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestHelpAndVersion(t *testing.T) {
	out, code := run(t, "--help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range []string{"version", "config", "metadb", "component"} {
		if !strings.Contains(out, c) {
			t.Errorf("help does not list %q:\n%s", c, out)
		}
	}
	out, code = run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "oms ") || !strings.Contains(out, "commit ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if _, code := run(t, "no-such-command"); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
}

func TestConfigCheckSeedSample(t *testing.T) {
	out, code := run(t, "config", "check", "-c", "../config/testdata/seed-heilongjiang.yaml")
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	if !strings.Contains(out, "oms_meta_password, line 4: this looks like a masked placeholder; put the real password in quotes") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestMetaDBInitTwiceWithRealBinary(t *testing.T) {
	inst := testenv.StartMariaDB(t)
	if _, err := inst.DB().Exec("CREATE USER 'meta'@'127.0.0.1' IDENTIFIED BY 'Secr3t-Meta'; GRANT ALL ON *.* TO 'meta'@'127.0.0.1'"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	text := fmt.Sprintf(`oms_meta_host: 127.0.0.1
oms_meta_port: %d
oms_meta_user: meta
oms_meta_password: "Secr3t-Meta"
drc_rm_db: oms_rm
drc_cm_db: oms_cm
drc_cm_heartbeat_db: oms_cm_heartbeat
cm_url: http://10.1.1.1:8088
cm_location: 1
cm_region: cn-hangzhou
cm_nodes:
 - 10.1.1.2
`, inst.Port)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "metadb", "init", "-c", cfg)
	if code != 0 || strings.Count(out, "created") != 3 || !strings.Contains(out, "oms_cm_heartbeat") {
		t.Fatalf("first init exit %d:\n%s", code, out)
	}
	out, code = run(t, "metadb", "init", "-c", cfg)
	if code != 0 || strings.Count(out, "unchanged") != 3 || !strings.Contains(out, "already exist") {
		t.Fatalf("second init exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "Secr3t-Meta") {
		t.Fatal("password printed")
	}
	out, _ = run(t, "config", "show", "-c", cfg)
	if strings.Contains(out, "Secr3t-Meta") || !strings.Contains(out, "oms_meta_password: ******") {
		t.Fatalf("config show leaks or hides wrongly:\n%s", out)
	}
	// A newer schema is refused with exit code 4 and nothing changes.
	if _, err := inst.DB().Exec("INSERT INTO oms_rm.oms_schema_migrations (version, name, binary_version) VALUES (999, 'future', 'v9')"); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "metadb", "init", "-c", cfg)
	if code != 4 || !strings.Contains(out, "METADB_SCHEMA_NEWER") {
		t.Fatalf("newer schema: exit %d:\n%s", code, out)
	}
}

package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/testenv"
)

// The upgrade's MetaDB backup connects as the nodes do: over TLS, verifying the server with
// oms_meta_tls_ca, for an account that requires TLS; with TLS disabled that account is refused.
func TestDumpMetaDBOverTLS(t *testing.T) {
	inst := testenv.StartMariaDB(t, testenv.Options{NoBinlog: true, TLS: true})
	ctx := context.Background()
	for _, q := range []string{"CREATE USER 'meta'@'127.0.0.1' IDENTIFIED BY 'Meta-pw-7' REQUIRE SSL", "GRANT ALL ON *.* TO 'meta'@'127.0.0.1'"} {
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rm, cm, hb, _ := config.DatabaseNames("tlsdump", 1, true)
	c := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "meta", MetaPassword: "Meta-pw-7", RMDB: rm, CMDB: cm, HeartbeatDB: hb,
		MetaTLSMode: "verify-identity", MetaTLSCA: inst.CAFile,
		CMURL: "http://10.1.0.100:8088", CMLocation: 1, CMRegion: "cn-a", CMRegionCN: "cn-a", CMIsDefault: true, CMNodes: []string{"10.1.0.1"}}
	if _, err := SetupRegion(ctx, c); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "over-tls.sql")
	if err := DumpMetaDB(ctx, c, path); err != nil {
		t.Fatalf("backup over TLS: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "`"+cm+"`") {
		t.Fatalf("the backup lacks %s", cm)
	}
	c.MetaTLSMode, c.MetaTLSCA = "disabled", ""
	if err := DumpMetaDB(ctx, c, filepath.Join(dir, "plain.sql")); err == nil {
		t.Fatal("a backup without TLS by an account that requires it succeeded")
	}
}

func TestDumpTLSOptions(t *testing.T) {
	for _, tc := range []struct {
		tool, mode, ca, want string
	}{
		{"mariadb-dump", "", "", ""},
		{"mariadb-dump", "preferred", "", ""},
		{"mariadb-dump", "disabled", "", "skip-ssl"},
		{"mariadb-dump", "required", "", "ssl skip-ssl-verify-server-cert"},
		{"mariadb-dump", "verify-identity", "/ca.pem", "ssl ssl-verify-server-cert ssl-ca=/ca.pem"},
		{"mysqldump", "verify-ca", "/ca.pem", "ssl-mode=VERIFY_CA ssl-ca=/ca.pem"},
		{"mysqldump", "disabled", "", "ssl-mode=DISABLED"},
	} {
		got, err := dumpTLSOptions(tc.tool, config.Config{MetaTLSMode: tc.mode, MetaTLSCA: tc.ca})
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s %s: %q %v, want %q", tc.tool, tc.mode, got, err, tc.want)
		}
	}
	if _, err := dumpTLSOptions("mariadb-dump", config.Config{MetaTLSMode: "sometimes"}); err == nil {
		t.Error("an unknown mode passes")
	}
}

package metadb

import (
	"context"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// TestInitOverTLS: with oms_meta_tls_mode verify-identity and oms_meta_tls_ca the node's MetaDB
// pool is encrypted and verified (a REQUIRE SSL account, the server's Ssl_cipher), and metadb init
// runs over it; required against a server without TLS fails with an error that says so.
func TestInitOverTLS(t *testing.T) {
	inst := testenv.StartMariaDB(t, testenv.Options{NoBinlog: true, TLS: true})
	ctx := context.Background()
	for _, q := range []string{"CREATE USER 'meta'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE SSL", "GRANT ALL ON *.* TO 'meta'@'127.0.0.1'"} {
		if _, err := inst.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(inst, "tls")
	cfg.MetaUser, cfg.MetaPassword = "meta", "pw"
	cfg.MetaTLSMode, cfg.MetaTLSCA = "verify-identity", inst.CAFile
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep, err := Init(ctx, db, NamesFrom(cfg)); err != nil || !rep.Changed() {
		t.Fatalf("init over TLS: %+v %v", rep, err)
	}
	if c, err := mysqlconn.Cipher(ctx, db); err != nil || c == "" {
		t.Fatalf("MetaDB session cipher %q %v", c, err)
	}

	plain := testenv.Shared(t, "meta")
	pcfg := testConfig(plain, "tlsplain")
	pcfg.MetaTLSMode = "required"
	_, err = Open(ctx, pcfg)
	if omserr.CodeOf(err) != omserr.MetaDBUnreachable || !strings.Contains(err.Error(), "does not offer TLS") {
		t.Fatalf("required against a plain server: %v", err)
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// TestDataSourceTLS: a data source's tlsMode and tlsCa are checked at creation (400 naming the
// field), listed, used by the precheck (which says per connection whether it is encrypted, as the
// server sees it) and carried into every component spec, so components connect as the precheck
// did. The source is a MariaDB with its own certificates and an account it admits only over TLS.
func TestDataSourceTLS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tlsInst := testenv.StartMariaDB(t, testenv.Options{TLS: true})
	for _, q := range []string{
		"CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY 'pw' REQUIRE SSL", "GRANT ALL ON *.* TO 'tlsonly'@'127.0.0.1'",
		"CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)", "INSERT INTO shop.t VALUES (1)",
	} {
		if _, err := tlsInst.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	base := api.CreateMysqlDataSourceRequest{Name: "bad", Host: "127.0.0.1", Port: tlsInst.Port, UserName: "tlsonly", Password: "pw"}
	for _, bad := range []struct{ mode, ca, field string }{
		{"on", "", "tlsMode"},
		{"required", tlsInst.CA.PEM, "tlsCa"},
		{"verify-ca", "not a certificate", "tlsCa"},
	} {
		r := base
		r.TLSMode, r.TLSCA = bad.mode, bad.ca
		_, err := f.cli.CreateMysqlDataSource(ctx, r)
		apiErr(t, err, 400, omserr.APIInvalidArgument)
		if !strings.Contains(err.Error(), bad.field) {
			t.Fatalf("mode %q: error does not name %s: %v", bad.mode, bad.field, err)
		}
	}

	r := base
	r.Name, r.TLSMode, r.TLSCA = "tls-src", "verify-identity", tlsInst.CA.PEM
	src, err := f.cli.CreateMysqlDataSource(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := f.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "plain-dst", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.cli.ListDataSource(ctx, api.ListDataSourceRequest{})
	if err != nil || len(list) != 2 || list[0].TLSMode != "verify-identity" || list[0].TLSCA != tlsInst.CA.PEM || list[1].TLSMode != "preferred" {
		t.Fatalf("list: %v %+v", err, list)
	}

	// The connection test goes through the data source's TLS (the account is REQUIRE SSL).
	if res, err := f.cli.TestDataSource(ctx, api.TestDataSourceRequest{ID: src.ID}); err != nil || !res.OK {
		t.Fatalf("test data source over TLS: %+v %v", res, err)
	}
	if res, err := f.cli.TestDataSource(ctx, api.TestDataSourceRequest{ID: src.ID, TLSMode: "disabled"}); err != nil || res.OK {
		t.Fatalf("test data source with TLS disabled against a REQUIRE SSL account: %+v %v", res, err)
	}
	// An update keeps the stored CA unless told: required with the CA is refused, without it not.
	_, err = f.cli.UpdateMysqlDataSource(ctx, api.UpdateMysqlDataSourceRequest{ID: src.ID, TLSMode: "required"})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
	noCA := ""
	if d, err := f.cli.UpdateMysqlDataSource(ctx, api.UpdateMysqlDataSourceRequest{ID: src.ID, TLSMode: "required", TLSCA: &noCA}); err != nil || d.TLSMode != "required" || d.TLSCA != "" {
		t.Fatalf("update to required: %+v %v", d, err)
	}
	if _, err := f.cli.UpdateMysqlDataSource(ctx, api.UpdateMysqlDataSourceRequest{ID: src.ID, TLSMode: "verify-identity", TLSCA: &tlsInst.CA.PEM}); err != nil {
		t.Fatal(err)
	}

	p, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "tls", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, StartImmediately: true,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", RenameDB: "shop_tls"}}}})
	if err != nil {
		t.Fatal(err)
	}
	// Reconcile until the Store's task exists (after the precheck and the schema).
	var spec []byte
	deadline := time.Now().Add(60 * time.Second)
	for spec == nil {
		if time.Now().After(deadline) {
			got, _ := f.cli.DescribeProject(ctx, p.ID)
			t.Fatalf("no store task: %s %s %+v", got.Status, got.ErrorMessage, got.Steps)
		}
		if err := f.ps.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		_ = f.db.QueryRowContext(ctx, "SELECT spec FROM `"+f.names.CM+"`.tasks WHERE project_id = ? AND kind = 'store'", p.ID).Scan(&spec)
	}
	got, _ := f.cli.DescribeProject(ctx, p.ID)
	msg := got.Steps[0].Message
	for _, want := range []string{"TLS(source, encrypted)", "TLS (target): the connection to 127.0.0.1:", "is NOT encrypted (tlsMode preferred)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("precheck message lacks %q: %s", want, msg)
		}
	}
	var s struct {
		Config struct {
			Source struct {
				User string `json:"user"`
				TLS  struct {
					Mode string `json:"mode"`
					CA   string `json:"ca"`
				} `json:"tls"`
			} `json:"source"`
		} `json:"config"`
	}
	if err := json.Unmarshal(spec, &s); err != nil {
		t.Fatal(err)
	}
	if s.Config.Source.User != "tlsonly" || s.Config.Source.TLS.Mode != "verify-identity" || s.Config.Source.TLS.CA != tlsInst.CA.PEM {
		t.Fatalf("store spec source: %+v (%s)", s.Config.Source, spec)
	}
}

package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/verify"
	"github.com/omsdev/oms/internal/verifyresult"
)

// TestVerificationResult: a finished verification's output dir, uploaded as the supervisor does,
// is served by DescribeVerificationResult and DownloadVerificationFixSQL (JSON or attachment),
// to a viewer too.
func TestVerificationResult(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	p, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.cli.DescribeVerificationResult(ctx, p.ID)
	apiErr(t, err, 404, omserr.APINotFound)
	_, err = f.cli.DownloadVerificationFixSQL(ctx, "np_none")
	apiErr(t, err, 404, omserr.APINotFound)

	// An equal verification has no fix SQL: stored as empty, not refused.
	eqDir := t.TempDir()
	eqRaw, _ := json.Marshal(verify.Report{FinishedAt: time.Now(), Compared: 3, Equal: true, Tables: []verify.TableResult{{Table: "shop.t", Target: "shop.t", Compared: 3}}})
	if err := os.WriteFile(filepath.Join(eqDir, verify.ReportFile), eqRaw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verifyresult.Store(ctx, f.db, f.names.RM, p.ID, p.ID+"-full-verify", "10.0.0.5", eqDir); err != nil {
		t.Fatal(err)
	}
	if res, err := f.cli.DescribeVerificationResult(ctx, p.ID); err != nil || !res.Equal || res.FixSQLBytes != 0 || len(res.Tables) != 1 {
		t.Fatalf("equal verification: %+v %v", res, err)
	}

	dir := t.TempDir()
	fix := "UPDATE `shop`.`t` SET `c` = 'two' WHERE `id` = 2 LIMIT 1;\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.t.sql"), []byte(fix), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := verify.Report{FinishedAt: time.Now(), Compared: 3, Different: 1, Tables: []verify.TableResult{
		{Table: "shop.t", Target: "shop.t", Method: verify.MethodRange, Compared: 3, Different: 1, SQLFile: "shop.t.sql"},
		{Table: "shop.u", Target: "shop.u", Method: verify.MethodTableChecksum, Compared: 5, SchemaDifferences: []string{"column c: type int vs bigint"}},
	}}
	raw, _ := json.Marshal(rep)
	if err := os.WriteFile(filepath.Join(dir, verify.ReportFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := verifyresult.Store(ctx, f.db, f.names.RM, p.ID, p.ID+"-full-verify", "10.0.0.5", dir); err != nil {
		t.Fatal(err)
	}

	if _, err := f.cli.CreateUser(ctx, api.CreateUserRequest{UserName: "vera", Password: "viewer-pw-1", Role: api.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	viewer := api.NewClient(f.srv.URL, "vera", "viewer-pw-1", false)
	res, err := viewer.DescribeVerificationResult(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Equal || res.Different != 1 || res.RowsCompared != 3 || len(res.Tables) != 2 || res.Tables[0].Different != 1 ||
		res.Tables[1].SchemaDifferences[0] != "column c: type int vs bigint" || res.FixSQLBytes == 0 || res.FixSQLTruncated {
		t.Fatalf("verification result: %+v", res)
	}
	got, err := viewer.DownloadVerificationFixSQL(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.SQL, "-- shop.t -> shop.t\n"+fix) || got.FileName != "oms-fix-"+p.ID+".sql" || int64(len(got.SQL)) != res.FixSQLBytes {
		t.Fatalf("fix SQL: %+v", got)
	}

	// attachment: true answers the SQL itself as a download.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v2?Action="+api.ActionDownloadVerificationFixSQL,
		strings.NewReader(`{"id": "`+p.ID+`", "attachment": true}`))
	req.SetBasicAuth("vera", "viewer-pw-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename=oms-fix-`+p.ID+`.sql` || string(body) != got.SQL {
		t.Fatalf("attachment: HTTP %d %q %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
}

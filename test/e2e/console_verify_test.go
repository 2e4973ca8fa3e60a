package e2e

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// startProjectWithDifference creates and starts (through the API) a project that copies vdiff.t
// with incremental off and verification on, into a target table created beforehand (structure
// transfer off) whose trigger changes row 2 as it is copied: the verification finds it.
func startProjectWithDifference(t *testing.T, cli *api.Client, src, dst *sql.DB, srcID, dstID string) string {
	t.Helper()
	for _, q := range []string{
		"CREATE DATABASE vdiff", "CREATE TABLE vdiff.t (id INT PRIMARY KEY, c VARCHAR(32) NOT NULL)",
	} {
		for _, db := range []*sql.DB{src, dst} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if _, err := src.Exec("INSERT INTO vdiff.t VALUES (1, 'one'), (2, 'two'), (3, 'three')"); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Exec("CREATE TRIGGER vdiff.tamper BEFORE INSERT ON vdiff.t FOR EACH ROW SET NEW.c = IF(NEW.id = 2, 'tampered', NEW.c)"); err != nil {
		t.Fatal(err)
	}
	off, on := false, true
	p, err := cli.CreateProject(context.Background(), api.CreateProjectRequest{Name: "verify-diff", SourceEndpointID: srcID, SinkEndpointID: dstID,
		TransferMapping:      api.TransferMapping{Tables: []api.TableRule{{DB: "vdiff", Table: "t"}}},
		EnableStructTransfer: &off, EnableIncrTransfer: &off, EnableFullVerify: &on, StartImmediately: true})
	if err != nil {
		t.Fatalf("create the verification project: %v", err)
	}
	return p.ID
}

// downloadFixSQL shows the project's verification result in the page, clicks "Download fix SQL"
// and returns the file the browser saved.
func (p *page) downloadFixSQL(cli *api.Client, id string) string {
	p.t.Helper()
	scenario.WaitFor(p.t, 4*time.Minute, "verification of "+id+" finished", func() (bool, string) {
		pr, err := cli.DescribeProjectProgress(context.Background(), id)
		return err == nil && pr.VerifyFinished, pr.Status + " " + pr.CurrentStep
	})
	dir := p.t.TempDir()
	p.AllowDownloads(dir)
	p.open("project/" + id)
	p.WaitJS(30*time.Second, "per-table verification counts", `[...document.querySelectorAll('#verify-result tr')].some((tr) => tr.textContent.includes('vdiff.t'))`)
	p.screenshot("project-verification")
	p.Click("#verify-download")
	return string(p.WaitFile(30*time.Second, filepath.Join(dir, "oms-fix-"+id+".sql")))
}

func assertFixSQL(t *testing.T, sqlText string) {
	t.Helper()
	if !strings.Contains(sqlText, "UPDATE `vdiff`.`t` SET `c` = 'two' WHERE `id` = ") {
		t.Fatalf("the downloaded fix SQL does not repair row 2:\n%s", sqlText)
	}
}

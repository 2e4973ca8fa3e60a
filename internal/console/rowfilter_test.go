package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// Injection through a row filter is refused at project creation with a 400 that names the
// offending part, and nothing is created (so nothing is ever copied); a plain filter is accepted.
func TestRowFilterInjectionRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	srcDB := testenv.FreshDatabase(t, f.inst, "rfsrc")
	dstDB := testenv.FreshDatabase(t, f.inst, "rfdst")
	if _, err := f.db.Exec(fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY, note VARCHAR(20))", srcDB)); err != nil {
		t.Fatal(err)
	}
	src, dst := f.dataSources(t)
	outfile := filepath.Join(t.TempDir(), "x")
	for _, tc := range []struct{ where, names string }{
		{"1=0) UNION ALL SELECT User, Password FROM mysql.user WHERE (1=1", "UNION"},
		{"1=1) INTO OUTFILE '" + outfile + "' -- ", "INTO"},
		{"(SELECT 1)", "subquer"},
		{"id IN (SELECT id FROM mysql.user)", "subquer"},
		{"1=1 `;` DROP TABLE t", "`;`"},
		{"id=1; DROP TABLE t", "';'"},
		{"SLEEP(1)", "SLEEP"},
		{"@@version LIKE '1%'", "@@version"},
		{"id = 1 /* */", "comments"},
	} {
		_, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "inj", SourceEndpointID: src.ID, SinkEndpointID: dst.ID, StartImmediately: true,
			TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: srcDB, RenameDB: dstDB, Where: tc.where}}}})
		apiErr(t, err, 400, omserr.APIInvalidArgument)
		if !strings.Contains(err.Error(), tc.names) {
			t.Errorf("where %q: error does not name %q: %v", tc.where, tc.names, err)
		}
	}
	if ps, err := f.cli.ListProjects(ctx, api.ListProjectsRequest{PageSize: 100}); err != nil || len(ps) != 0 {
		t.Fatalf("projects after refused creations: %v %+v", err, ps)
	}
	if err := f.ps.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", dstDB).Scan(&n); err != nil || n != 0 {
		t.Fatalf("target tables: %d, %v", n, err)
	}
	if _, err := os.Stat(outfile); !os.IsNotExist(err) {
		t.Fatalf("the source server wrote %s: %v", outfile, err)
	}
	if _, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "ok", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: srcDB, RenameDB: dstDB, Where: "id > 1 AND note <> 'a;b'"}}}}); err != nil {
		t.Fatalf("a plain filter is refused: %v", err)
	}
}

package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/testenv"
)

// The MetaDB migrates forward from the schema of every released version: each release
// (testenv.Releases) is built from git history, creates the MetaDB with its own `oms metadb
// init`, and this binary's set-up brings every database to the current version; running it again
// changes nothing.
func TestMigrationsForwardFromReleasedSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every released version: not in -short")
	}
	inst := testenv.Shared(t, "metadb")
	for _, rel := range testenv.Releases {
		tag := rel.Tag
		t.Run(tag, func(t *testing.T) {
			old := testenv.ReleaseBinary(t, rel)
			prefix := uniquePrefix()
			rm, cm, hb, _ := config.DatabaseNames(prefix, 1, true)
			c := config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: rm, CMDB: cm, HeartbeatDB: hb,
				CMURL: "http://10.1.0.100:8088", CMLocation: 1, CMRegion: "cn-a", CMRegionCN: "cn-a", CMIsDefault: true, CMNodes: []string{"10.1.0.1"}}
			t.Cleanup(func() {
				for _, d := range []string{rm, cm, hb} {
					inst.DB().Exec("DROP DATABASE IF EXISTS `" + d + "`")
				}
			})
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(cfg, config.Format(c), 0o600)
			if out, err := exec.Command(old, "metadb", "init", "-c", cfg).CombinedOutput(); err != nil {
				t.Fatalf("%s metadb init: %v\n%s", tag, err, out)
			}
			ctx := context.Background()
			rep, err := SetupRegion(ctx, c)
			if err != nil {
				t.Fatalf("migrate from %s: %v", tag, err)
			}
			for _, d := range rep.Databases {
				if !d.Existed || d.ToVersion < d.FromVersion {
					t.Errorf("%s: %+v", d.Name, d)
				}
				t.Logf("%s: %d -> %d", d.Name, d.FromVersion, d.ToVersion)
			}
			again, err := SetupRegion(ctx, c)
			if err != nil || again.Changed() {
				t.Fatalf("the second set-up changed something: %+v %v", again, err)
			}
			db, err := metadb.Open(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, d := range again.Databases {
				if v, err := metadb.SchemaVersion(ctx, db, d.Name); err != nil || v != d.ToVersion {
					t.Errorf("%s at version %d (%v), want %d", d.Name, v, err, d.ToVersion)
				}
			}
		})
	}
}

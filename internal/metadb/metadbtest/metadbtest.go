// Package metadbtest gives a test a fresh MetaDB: the rm, cm and heartbeat databases built by the
// real migrations on the test binary's shared MariaDB, dropped when the test ends.
package metadbtest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/testenv"
)

// MetaDB is one test's MetaDB.
type MetaDB struct {
	DB    *sql.DB // opened like a node opens it (metadb.Open)
	Names metadb.Names
	Inst  *testenv.Instance // the shared "meta" instance holding it
}

// Fresh initialises a MetaDB under a unique prefix on testenv.Shared(t, "meta"). The package's
// TestMain must be testenv.Main.
func Fresh(t testing.TB) MetaDB {
	t.Helper()
	inst := testenv.Shared(t, "meta")
	prefix := testenv.FreshDatabase(t, inst, "oms")
	names := metadb.Names{RM: prefix + "_rm", CM: prefix + "_cm", Heartbeat: prefix + "_cm_hb"}
	ctx := context.Background()
	db, err := metadb.Open(ctx, config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := metadb.Init(ctx, db, names); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range []string{names.RM, names.CM, names.Heartbeat} {
			_, _ = inst.DB().Exec("DROP DATABASE IF EXISTS `" + n + "`")
		}
	})
	return MetaDB{DB: db, Names: names, Inst: inst}
}

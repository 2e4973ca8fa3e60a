package metadb

import (
	"context"
	"testing"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testConfig(inst *testenv.Instance, prefix string) config.Config {
	rm, cm, hb, err := config.DatabaseNames(prefix, 1, true)
	if err != nil {
		panic(err)
	}
	return config.Config{MetaHost: "127.0.0.1", MetaPort: inst.Port, MetaUser: "root", RMDB: rm, CMDB: cm, HeartbeatDB: hb}
}

func TestInitTwiceChangesNothing(t *testing.T) {
	inst := testenv.Shared(t, "meta")
	ctx := context.Background()
	cfg := testConfig(inst, "twice")
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names := NamesFrom(cfg)
	if ex, err := Existing(ctx, db, names); err != nil || len(ex) != 0 {
		t.Fatalf("existing before init: %v %v", ex, err)
	}
	rep, err := Init(ctx, db, names)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Changed() || len(rep.Databases) != 3 || rep.Server.Product != "MariaDB" {
		t.Fatalf("first init report %+v", rep)
	}
	for _, d := range rep.Databases {
		if d.Existed || d.FromVersion != 0 || d.ToVersion < 1 {
			t.Fatalf("first init db %+v", d)
		}
	}
	tables := func(name string) string {
		var list string
		if err := db.QueryRow(`SELECT COALESCE(GROUP_CONCAT(CONCAT(table_name, ':', create_time) ORDER BY table_name), '')
			FROM information_schema.tables WHERE table_schema = ?`, name).Scan(&list); err != nil {
			t.Fatal(err)
		}
		return list
	}
	before := tables("twice_rm") + tables("twice_cm") + tables("twice_cm_hb")
	for _, want := range []string{"users", "projects", "audit_log"} {
		var n int
		_ = db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='twice_rm' AND table_name=?", want).Scan(&n)
		if n != 1 {
			t.Fatalf("table twice_rm.%s missing", want)
		}
	}
	ex, err := Existing(ctx, db, names)
	if err != nil || len(ex) != 3 {
		t.Fatalf("existing after init: %v %v", ex, err)
	}
	rep2, err := Init(ctx, db, names)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Changed() {
		t.Fatalf("second init changed something: %+v", rep2)
	}
	if after := tables("twice_rm") + tables("twice_cm") + tables("twice_cm_hb"); after != before {
		t.Fatalf("tables changed on second init:\n%s\n%s", before, after)
	}
	var rows int
	_ = db.QueryRow("SELECT COUNT(*) FROM twice_cm.oms_schema_migrations").Scan(&rows)
	if rows != len(Migrations(KindCM)) {
		t.Fatalf("migration rows %d", rows)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	inst := testenv.Shared(t, "meta")
	ctx := context.Background()
	cfg := testConfig(inst, "newer")
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Init(ctx, db, NamesFrom(cfg)); err != nil {
		t.Fatal(err)
	}
	future := len(Migrations(KindCM)) + 5
	if _, err := db.Exec("INSERT INTO newer_cm.oms_schema_migrations (version, name, binary_version) VALUES (?, 'from the future', 'v99')", future); err != nil {
		t.Fatal(err)
	}
	_, err = Init(ctx, db, NamesFrom(cfg))
	if omserr.CodeOf(err) != "METADB_SCHEMA_NEWER" {
		t.Fatalf("want METADB_SCHEMA_NEWER, got %v", err)
	}
	if v, _ := SchemaVersion(ctx, db, "newer_cm"); v != future {
		t.Fatalf("version changed to %d", v)
	}
}

func TestRefusesUnwritableMetaDB(t *testing.T) {
	inst := testenv.Shared(t, "meta")
	ctx := context.Background()
	root := inst.DB()
	if _, err := root.Exec("CREATE USER IF NOT EXISTS 'ro'@'127.0.0.1' IDENTIFIED BY 'ro-pass'; GRANT SELECT ON *.* TO 'ro'@'127.0.0.1'"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(inst, "ro")
	cfg.MetaUser, cfg.MetaPassword = "ro", "ro-pass"
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Init(ctx, db, NamesFrom(cfg))
	if omserr.CodeOf(err) != "METADB_NOT_WRITABLE" {
		t.Fatalf("want METADB_NOT_WRITABLE, got %v", err)
	}
	if ex, _ := Existing(ctx, root, NamesFrom(cfg)); len(ex) != 0 {
		t.Fatalf("databases created by a read-only user: %v", ex)
	}
}

func TestUnreachable(t *testing.T) {
	cfg := config.Config{MetaHost: "127.0.0.1", MetaPort: 1, MetaUser: "root"}
	_, err := Open(context.Background(), cfg)
	if omserr.CodeOf(err) != "METADB_UNREACHABLE" {
		t.Fatalf("want METADB_UNREACHABLE, got %v", err)
	}
}

func TestParseServerVersion(t *testing.T) {
	cases := []struct {
		v, comment, product string
		ok                  bool
	}{
		{"10.11.19-MariaDB-0+deb12u1", "Debian 12", "MariaDB", true},
		{"10.5.1-MariaDB", "", "MariaDB", true},
		{"10.4.30-MariaDB", "", "MariaDB", false},
		{"11.4.2-MariaDB", "", "MariaDB", true},
		{"8.0.36", "MySQL Community Server - GPL", "MySQL", true},
		{"5.7.44-log", "MySQL Community Server (GPL)", "MySQL", true},
		{"5.6.51", "MySQL Community Server (GPL)", "MySQL", false},
		{"5.7.25-OceanBase-v4.2.1.0", "OceanBase 4.2.1.0", "OceanBase", true},
	}
	for _, c := range cases {
		info, err := ParseServerVersion(c.v, c.comment)
		if info.Product != c.product || (err == nil) != c.ok {
			t.Errorf("%s: product %s err %v", c.v, info.Product, err)
		}
		if err != nil && omserr.CodeOf(err) != "METADB_UNSUPPORTED_VERSION" {
			t.Errorf("%s: code %q", c.v, omserr.CodeOf(err))
		}
	}
}

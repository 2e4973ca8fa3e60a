package fullimport

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// pair returns the package's shared source and target instances (tests use their own
// databases and task ids on them).
func pair(t testing.TB) (src, dst *testenv.Instance) {
	return testenv.Shared(t, "source"), testenv.Shared(t, "target")
}

func connOf(inst *testenv.Instance) mysqlconn.Config {
	return mysqlconn.Config{Host: "127.0.0.1", Port: inst.Port, User: "root"}
}

func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// runImport runs one full import to completion (Init, Run, Close) and returns the unit.
func runImport(t *testing.T, cfg Config, task string) (*Unit, error) {
	t.Helper()
	u, err := NewWithConfig(cfg, task, 1, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return u, testenv.RunUnit(t, u, 2*time.Minute)
}

// rawDB opens a pool whose results are raw bytes in each column's character set.
func rawDB(t testing.TB, inst *testenv.Instance) *sql.DB {
	db, err := connOf(inst).Open(context.Background(), sessionOptions(true, nil, 4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var autoIncRe = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

func showCreate(t testing.TB, db *sql.DB, dbName, table string) string {
	t.Helper()
	var name, create string
	if err := db.QueryRow("SHOW CREATE TABLE `"+dbName+"`.`"+table+"`").Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	return autoIncRe.ReplaceAllString(create, "")
}

// createTypesSchema makes tables with every common column type, composite and string keys,
// unique keys, NULLs, unicode and large BLOBs, n rows each.
func createTypesSchema(t testing.TB, db *sql.DB, dbName string, n int) []string {
	q := "`" + dbName + "`."
	mustExec(t, db,
		"CREATE TABLE "+q+"all_types (\n"+
			" id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,\n"+
			" ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i INT NOT NULL DEFAULT 7, bi BIGINT,\n"+
			" dec1 DECIMAL(30,10), f FLOAT, d DOUBLE, b BIT(13),\n"+
			" dt DATE, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, yr YEAR,\n"+
			" c CHAR(10) CHARACTER SET latin1, vc VARCHAR(200) COMMENT 'unicode, emoji',\n"+
			" txt TEXT, lb LONGBLOB, vb VARBINARY(64), bn BINARY(4),\n"+
			" e ENUM('a','b','c'), st SET('x','y','z'), j JSON,\n"+
			" gen INT AS (i * 2) VIRTUAL,\n"+
			" PRIMARY KEY (id),\n"+
			" UNIQUE KEY u_vc (vc(50)),\n"+
			" KEY k_dt (dt, i),\n"+
			" KEY k_bi (bi) COMMENT 'secondary'\n"+
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='all types'",
		"CREATE TABLE "+q+"composite (\n"+
			" a INT NOT NULL, b VARCHAR(20) NOT NULL, c DATETIME NOT NULL, v INT,\n"+
			" PRIMARY KEY (a, b, c), KEY k_v (v)\n) ENGINE=InnoDB",
		"CREATE TABLE "+q+"strkey (\n"+
			" k VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, v TEXT, FULLTEXT KEY ft (v)\n) ENGINE=InnoDB",
		"CREATE TABLE "+q+"binkey (\n"+
			" k VARBINARY(16) NOT NULL PRIMARY KEY, v INT\n) ENGINE=InnoDB",
		"CREATE TABLE "+q+"uniq_only (\n"+
			" code CHAR(8) NOT NULL, note VARCHAR(10), UNIQUE KEY u_code (code)\n) ENGINE=InnoDB",
		"CREATE TABLE "+q+"empty_t (id INT PRIMARY KEY) ENGINE=InnoDB",
	)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit; unblocks cleanup after a failure
	words := []string{"héllo", "日本語", "emoji 😀🎉", "tab\there", "nl\nthere", `back\slash`, "quote'\"", "", "Ünïcödé"}
	for r := 0; r < n; r++ {
		var blob any
		if r%50 == 0 {
			blob = bytes.Repeat([]byte{byte(r), 0, '\t', '\n', '\\', 0xff}, 200_000) // 1.2 MB
		} else if r%3 == 0 {
			blob = nil
		} else {
			blob = []byte{byte(r), 0, 1, 0xfe}
		}
		null := func(v any) any {
			if r%7 == 3 {
				return nil
			}
			return v
		}
		if _, err := tx.Exec("INSERT INTO "+q+"all_types (ti,si,mi,i,bi,dec1,f,d,b,dt,tm,dtm,ts,yr,c,vc,txt,lb,vb,bn,e,st,j) VALUES (?,?,?,?,?,?,?,?,b'1010101010101',?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			null(r%128-64), null(r%65535), null(-r), r, null(int64(r)*1_000_000_007-(1<<62)), null(fmt.Sprintf("%d.%010d", r, r)),
			null(float32(r)/3), null(float64(r)/7), null("2024-02-29"), null("-838:59:59.123"), null(fmt.Sprintf("2020-01-01 00:00:%02d.123456", r%60)),
			null("2021-06-01 12:00:00"), null(1901+r%200), null([]byte("ab\xe9")[:2+r%2]), null(fmt.Sprintf("%s #%d", words[r%len(words)], r)),
			null(strings.Repeat(words[r%len(words)], r%20)), blob, null([]byte{0, byte(r), 0}), null([]byte{1, 2}), null([]string{"a", "b", "c"}[r%3]),
			null("x,z"), null(fmt.Sprintf(`{"k": %d, "s": "%s"}`, r, "ü"))); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO "+q+"composite VALUES (?,?,?,?)", r%17, fmt.Sprintf("k%05d€", r), fmt.Sprintf("2020-01-%02d 10:00:00", 1+r%28), null(r)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO "+q+"strkey VALUES (?,?)", fmt.Sprintf("%s-%06d", words[r%len(words)], r), null(words[(r+1)%len(words)])); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO "+q+"binkey VALUES (?,?)", []byte{byte(r >> 8), byte(r), 0, 0xff, byte(r % 7)}, r); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO "+q+"uniq_only VALUES (?,?)", fmt.Sprintf("c%07d", r), null("n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tables := []string{"all_types", "composite", "strkey", "binkey", "uniq_only", "empty_t"}
	for _, tb := range tables {
		mustExec(t, db, "ANALYZE TABLE "+q+tb)
	}
	return tables
}

func orderKey(table string) string {
	switch table {
	case "composite":
		return "a, b, c"
	case "strkey", "binkey":
		return "k"
	case "uniq_only":
		return "code"
	}
	return "id"
}

// compareDB checks every table row by row and its SHOW CREATE TABLE (modulo AUTO_INCREMENT and
// the database name).
func compareDB(t *testing.T, src, dst *testenv.Instance, srcDB, dstDB string, tables []string) {
	t.Helper()
	sr, dr := rawDB(t, src), rawDB(t, dst)
	for _, tb := range tables {
		cols := "*"
		if tb == "all_types" {
			cols = "id,ti,si,mi,i,bi,dec1,f,d,HEX(b),dt,tm,dtm,ts,yr,c,vc,txt,lb,vb,bn,e,st,j,gen"
		}
		q := "SELECT " + cols + " FROM `%s`.`" + tb + "` ORDER BY " + orderKey(tb)
		testenv.SameRows(t, tb, testenv.Rows(t, sr, fmt.Sprintf(q, srcDB)), testenv.Rows(t, dr, fmt.Sprintf(q, dstDB)))
		if a, b := showCreate(t, src.DB(), srcDB, tb), showCreate(t, dst.DB(), dstDB, tb); a != b {
			t.Errorf("SHOW CREATE TABLE %s differs:\nsource:\n%s\ntarget:\n%s", tb, a, b)
		}
	}
}

func TestFullImportAllTypes(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "types")
	tables := createTypesSchema(t, src.DB(), srcDB, 3000)
	for _, method := range []string{WriteLoadData, WriteInsert} {
		t.Run(method, func(t *testing.T) {
			dstDB := srcDB + "_" + method
			cfg := Config{
				Source: connOf(src), Target: connOf(dst),
				Selection: selection.Config{Tables: []selection.Rule{{DB: srcDB, Table: "*", RenameDB: dstDB}}},
				ChunkRows: 1000, Concurrency: 3, WriteMethod: method,
			}
			u, err := runImport(t, cfg, "types-"+method)
			if err != nil {
				t.Fatalf("run: %v\nobjects: %+v", err, u.Objects())
			}
			compareDB(t, src, dst, srcDB, dstDB, tables)
			st := u.Status()
			if st.State != "FINISHED" || st.Progress == nil || st.Progress.RowsDone != 5*3000 || !strings.Contains(st.Position, "gtid=") {
				t.Errorf("status %+v progress %+v", st, st.Progress)
			}
			if st.Metrics["chunks_done"] < 10 {
				t.Errorf("expected several chunks, got %v", st.Metrics)
			}
			created := 0
			for _, o := range u.Objects() {
				if o.Kind == "indexes" && o.Status == ObjCreated {
					created++
				}
			}
			if created != 3 { // all_types, composite, strkey have deferred keys
				t.Errorf("deferred index objects created = %d: %+v", created, u.Objects())
			}
			// A second run of the same task is a no-op that still ends identical.
			if _, err := runImport(t, cfg, "types-"+method); err != nil {
				t.Fatal(err)
			}
			compareDB(t, src, dst, srcDB, dstDB, tables[:1])
		})
	}
}

func TestSelectionRenameFilterColumns(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "sel")
	for _, tb := range []string{"log_1", "log_2", "log_x", "orders", "tmp_a"} {
		mustExec(t, src.DB(), "CREATE TABLE `"+srcDB+"`."+tb+" (id INT PRIMARY KEY, amount INT, secret VARCHAR(10), KEY k_amount (amount))")
		for i := 1; i <= 50; i++ {
			mustExec(t, src.DB(), fmt.Sprintf("INSERT INTO `%s`.%s VALUES (%d, %d, 's%d')", srcDB, tb, i, i*10, i))
		}
	}
	dstDB := srcDB + "_dst"
	cfg := Config{
		Source: connOf(src), Target: connOf(dst),
		Selection: selection.Config{
			Tables: []selection.Rule{
				{DB: srcDB, Table: "orders", RenameDB: dstDB, RenameTable: "orders_v2", Where: "amount > 200", Columns: []string{"id", "amount"}},
				{DB: srcDB, Table: "log_[0-9]", RenameDB: dstDB},
				{DB: srcDB, Table: "tmp_*", RenameDB: dstDB},
			},
			Exclude: []selection.Rule{{DB: srcDB, Table: "tmp_?"}},
		},
	}
	u, err := runImport(t, cfg, "sel")
	if err != nil {
		t.Fatalf("%v %+v", err, u.Objects())
	}
	var got []string
	rows, err := dst.DB().Query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=? ORDER BY 1", dstDB)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		got = append(got, n)
	}
	rows.Close()
	if strings.Join(got, ",") != "log_1,log_2,orders_v2" {
		t.Fatalf("target tables %v", got)
	}
	sr, dr := rawDB(t, src), rawDB(t, dst)
	testenv.SameRows(t, "orders_v2", testenv.Rows(t, sr, "SELECT id, amount FROM `"+srcDB+"`.orders WHERE amount > 200 ORDER BY id"),
		testenv.Rows(t, dr, "SELECT * FROM `"+dstDB+"`.orders_v2 ORDER BY id"))
	testenv.SameRows(t, "log_1", testenv.Rows(t, sr, "SELECT * FROM `"+srcDB+"`.log_1 ORDER BY id"), testenv.Rows(t, dr, "SELECT * FROM `"+dstDB+"`.log_1 ORDER BY id"))
	create := showCreate(t, dst.DB(), dstDB, "orders_v2")
	if strings.Contains(create, "secret") || !strings.Contains(create, "KEY `k_amount`") {
		t.Errorf("orders_v2 create:\n%s", create)
	}
}

func TestNonEmptyTargetAndFailedObjects(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "pol")
	mustExec(t, src.DB(),
		"CREATE TABLE `"+srcDB+"`.a (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE `"+srcDB+"`.b (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE `"+srcDB+"`.nokey (v INT, w INT)",
		"INSERT INTO `"+srcDB+"`.a VALUES (1,1),(2,2)",
		"INSERT INTO `"+srcDB+"`.b VALUES (1,1),(2,2)",
	)
	okDB, badDB := srcDB+"_ok", srcDB+"_bad"
	// A target user who may not create tables in badDB: b fails with the target's error, a
	// is still copied.
	mustExec(t, dst.DB(),
		"CREATE DATABASE `"+okDB+"`", "CREATE DATABASE `"+badDB+"`",
		"CREATE TABLE `"+okDB+"`.a (id INT PRIMARY KEY, v INT)",
		"INSERT INTO `"+okDB+"`.a VALUES (1, 100)",
		"CREATE USER IF NOT EXISTS 'limited'@'127.0.0.1'",
		"GRANT ALL ON `"+okDB+"`.* TO 'limited'@'127.0.0.1'",
		"GRANT ALL ON `__oms`.* TO 'limited'@'127.0.0.1'",
		"GRANT SELECT ON `"+badDB+"`.* TO 'limited'@'127.0.0.1'",
		"GRANT SELECT ON *.* TO 'limited'@'127.0.0.1'",
	)
	target := connOf(dst)
	target.User = "limited"
	cfg := Config{
		Source: connOf(src), Target: target,
		Selection: selection.Config{Tables: []selection.Rule{
			{DB: srcDB, Table: "a", RenameDB: okDB}, {DB: srcDB, Table: "b", RenameDB: badDB}, {DB: srcDB, Table: "nokey", RenameDB: okDB},
		}},
	}
	_, err := runImport(t, cfg, "pol-stop")
	if omserr.CodeOf(err) != "FULL_TARGET_NOT_EMPTY" || !strings.Contains(err.Error(), okDB+".a") {
		t.Fatalf("want FULL_TARGET_NOT_EMPTY naming a, got %v", err)
	}
	cfg.NonEmptyTarget = NonEmptyContinue
	u, err := runImport(t, cfg, "pol-continue")
	if omserr.CodeOf(err) != "FULL_OBJECTS_FAILED" {
		t.Fatalf("want FULL_OBJECTS_FAILED, got %v", err)
	}
	var sawB, sawNoKey bool
	for _, o := range u.Objects() {
		if o.Source == srcDB+".b" && o.Kind == "table" {
			sawB = o.Status == ObjFailed && strings.Contains(o.Error, "denied")
		}
		if o.Source == srcDB+".nokey" {
			sawNoKey = o.Status == ObjRefused && strings.Contains(o.Error, "no primary key")
		}
	}
	if !sawB || !sawNoKey {
		t.Errorf("objects: %+v", u.Objects())
	}
	var v int
	if err := dst.DB().QueryRow("SELECT SUM(v) FROM `" + okDB + "`.a").Scan(&v); err != nil || v != 3 {
		t.Errorf("a on target: sum %d, %v (want the source's rows, 1 overwritten)", v, err)
	}
	if u.Status().State != "FAILED" || u.Status().Error == nil {
		t.Errorf("status %+v", u.Status())
	}
	_ = strconv.Itoa
}

// A row filter naming a column the source table lacks stops Full-Import at start: nothing is
// created or copied.
func TestFilterUnknownColumnRefusedAtStart(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "fcol")
	mustExec(t, src.DB(), "CREATE TABLE `"+srcDB+"`.t (id INT PRIMARY KEY, amount INT)", "INSERT INTO `"+srcDB+"`.t VALUES (1, 10)")
	dstDB := srcDB + "_dst"
	cfg := Config{Source: connOf(src), Target: connOf(dst),
		Selection: selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB, Where: "amount > 1 AND nope = 1"}}}}
	u, err := NewWithConfig(cfg, "fcol", 1, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = u.Init(ctx)
	if err == nil {
		err = u.Run(ctx)
	}
	u.Close()
	if omserr.CodeOf(err) != omserr.FilterColumnUnknown || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("start = %v, want %s naming nope", err, omserr.FilterColumnUnknown)
	}
	var n int
	if err := dst.DB().QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", dstDB).Scan(&n); err != nil || n != 0 {
		t.Fatalf("target database created: %d %v", n, err)
	}
}

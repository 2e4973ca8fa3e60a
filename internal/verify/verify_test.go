package verify

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is a source and a target server shared by the package's tests (each test uses its own
// databases).
type env struct {
	src, dst *testenv.Instance
}

func newEnv(t *testing.T) env {
	t.Helper()
	return env{src: testenv.Shared(t, "source"), dst: testenv.Shared(t, "target")}
}

func conn(i *testenv.Instance) Conn { return Conn{Host: "127.0.0.1", Port: i.Port, User: "root"} }

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// run runs one verification to the end and returns its report.
func run(t *testing.T, e env, cfg Config, workDir string) *Report {
	t.Helper()
	cfg.Source, cfg.Target = conn(e.src), conn(e.dst)
	v, err := New(cfg, workDir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.Init(ctx); err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return v.Result()
}

func rounds(n int) *int { return &n }

// diffKeys reads a .diff file: "KIND key" for every difference, sorted.
func diffKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, " ") {
			continue
		}
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func applySQL(t *testing.T, db *sql.DB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(b)); err != nil {
		t.Fatalf("apply %s: %v", path, err)
	}
}

const allTypesDDL = `CREATE TABLE %s.t (
	id INT NOT NULL PRIMARY KEY,
	ti TINYINT, bi BIGINT UNSIGNED,
	dec1 DECIMAL(20,6), fl FLOAT, db DOUBLE,
	dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, dd DATE, tm TIME(3), yr YEAR,
	vc VARCHAR(100) CHARACTER SET utf8mb4, ch CHAR(10), tx TEXT, lat VARCHAR(20) CHARACTER SET latin1,
	js JSON, bl BLOB, vb VARBINARY(20), bt BIT(8), en ENUM('a','b','c'), st SET('x','y','z')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`

const allTypesFill = `INSERT INTO %s.t SELECT seq, seq %% 128, seq * 1000003, seq / 7, seq / 3, seq / 11,
	'2024-01-02 03:04:05.123456' + INTERVAL seq SECOND, '2024-01-02 03:04:05.5' + INTERVAL seq SECOND,
	'2024-01-01' + INTERVAL seq DAY, SEC_TO_TIME(seq), 2000 + seq %% 50,
	CONCAT('v', seq, IF(seq %% 10 = 0, '😀', '')), CONCAT('c', seq %% 100), REPEAT('t', seq %% 50),
	CONCAT('l', seq), JSON_OBJECT('n', seq, 'a', JSON_ARRAY(1, 2)), UNHEX(MD5(seq)), UNHEX(SHA1(seq)),
	seq %% 256, ELT(1 + seq %% 3, 'a', 'b', 'c'), 'x,z'
	FROM %s.seq_1_to_%d`

// TestFindsExactlyInjectedDifferences injects every kind of difference across the column types
// and checks that exactly those keys are reported, in range and IN mode, and that the generated
// SQL makes the next verification report zero.
func TestFindsExactlyInjectedDifferences(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "vs"), testenv.FreshDatabase(t, e.dst, "vd")
	const n = 3000
	exec(t, e.src.DB(), fmt.Sprintf(allTypesDDL, sdb), fmt.Sprintf(allTypesFill, sdb, sdb, n))
	exec(t, e.dst.DB(), fmt.Sprintf(allTypesDDL, ddb), fmt.Sprintf(allTypesFill, ddb, ddb, n))
	exec(t, e.src.DB(),
		"UPDATE "+sdb+".t SET vc = NULL WHERE id = 100",
		"UPDATE "+sdb+".t SET vc = '' WHERE id = 101",
		"UPDATE "+sdb+".t SET tx = NULL, ch = '' WHERE id = 102")
	exec(t, e.dst.DB(),
		"DELETE FROM "+ddb+".t WHERE id IN (17, 1500)",                        // missing in the target
		"INSERT INTO "+ddb+".t (id, vc) VALUES (-5, 'neg'), (2222222, 'far')", // extra, outside the source's span
		"DELETE FROM "+ddb+".t WHERE id = 2999",
		"INSERT INTO "+ddb+".t (id) VALUES (2999)",                                // same key, other values
		"UPDATE "+ddb+".t SET vc = '' WHERE id = 100",                             // NULL -> ''
		"UPDATE "+ddb+".t SET vc = NULL WHERE id = 101",                           // '' -> NULL
		"UPDATE "+ddb+".t SET tx = '', ch = NULL WHERE id = 102",                  // swapped NULL and ''
		"UPDATE "+ddb+".t SET dec1 = dec1 + 0.000001 WHERE id = 200",              // last DECIMAL digit
		"UPDATE "+ddb+".t SET vc = 'v300😁' WHERE id = 300",                        // emoji
		"UPDATE "+ddb+".t SET bl = CONCAT(LEFT(bl, 15), X'00') WHERE id = 400",    // one BLOB byte
		"UPDATE "+ddb+".t SET dt = dt + INTERVAL 1 MICROSECOND WHERE id = 600",    // DATETIME(6)
		"UPDATE "+ddb+".t SET db = db + 1e-9 WHERE id = 700",                      // DOUBLE
		"UPDATE "+ddb+".t SET lat = 'L801' WHERE id = 801",                        // latin1 case
		"UPDATE "+ddb+".t SET js = '{\"a\": [1,2],   \"n\": 900}' WHERE id = 900", // same JSON: NOT a difference
		"UPDATE "+ddb+".t SET bt = 255 WHERE id = 1001",                           // BIT
		"UPDATE "+ddb+".t SET st = 'x' WHERE id = 1002",                           // SET
		"UPDATE "+ddb+".t SET ts = ts + INTERVAL 1 SECOND WHERE id = 1003",        // TIMESTAMP
		"UPDATE "+ddb+".t SET fl = fl * 2 WHERE id = 1004")                        // FLOAT
	want := []string{
		"DIFFERENT id=100 columns=vc", "DIFFERENT id=1001 columns=bt", "DIFFERENT id=1002 columns=st",
		"DIFFERENT id=1003 columns=ts", "DIFFERENT id=1004 columns=fl", "DIFFERENT id=101 columns=vc",
		"DIFFERENT id=102 columns=ch,tx", "DIFFERENT id=200 columns=dec1",
		"DIFFERENT id=2999 columns=ti,bi,dec1,fl,db,dt,ts,dd,tm,yr,vc,ch,tx,lat,js,bl,vb,bt,en,st",
		"DIFFERENT id=300 columns=vc", "DIFFERENT id=400 columns=bl", "DIFFERENT id=600 columns=dt",
		"DIFFERENT id=700 columns=db", "DIFFERENT id=801 columns=lat",
		"ONLY_IN_SOURCE id=1500", "ONLY_IN_SOURCE id=17",
		"ONLY_IN_TARGET id=-5", "ONLY_IN_TARGET id=2222222",
	}
	sort.Strings(want)
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, Table: "t", RenameDB: ddb}}}
	for _, mode := range []string{ModeRange, ModeIn} {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			rep := run(t, e, Config{Selection: sel, ChunkSize: 500, Mode: mode, RecheckRounds: rounds(1),
				RecheckDelay: Duration(10 * time.Millisecond), OutputDir: out}, t.TempDir())
			if rep.OnlyInSource != 2 || rep.OnlyInTarget != 2 || rep.Different != 14 || rep.Compared != n {
				t.Errorf("counts: %+v", rep.Tables)
			}
			got := diffKeys(t, filepath.Join(out, sdb+".t.diff"))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("reported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	out := t.TempDir()
	rep := run(t, e, Config{Selection: sel, ChunkSize: 500, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	if rep.Equal {
		t.Fatal("differences not found")
	}
	applySQL(t, e.dst.DB(), filepath.Join(out, sdb+".t.sql"))
	rep = run(t, e, Config{Selection: sel, ChunkSize: 500, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir())
	if !rep.Equal || rep.Compared != n {
		b, _ := os.ReadFile(filepath.Join(out, sdb+".t.sql"))
		t.Fatalf("after applying the correction SQL: %+v\n%s", rep.Tables, b)
	}
}

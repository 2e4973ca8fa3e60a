package verify

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// env is a source and a target server shared by the package's tests (each test uses its own
// databases).
type env struct {
	src, dst *testenv.Instance
}

func newEnv(t *testing.T) env {
	t.Helper()
	return env{src: testenv.Shared(t, "source"), dst: testenv.Shared(t, "target")}
}

func conn(i *testenv.Instance) mysqlconn.Config {
	return mysqlconn.Config{Host: "127.0.0.1", Port: i.Port, User: "root"}
}

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
	v, err := New(cfg, workDir, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.RunUnit(t, v, 2*time.Minute); err != nil {
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
	sdb, ddb := allTypesPair(t, e, "vs", "vd")
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
				RecheckDelay: component.Duration(10 * time.Millisecond), OutputDir: out}, t.TempDir())
			if rep.OnlyInSource != 2 || rep.OnlyInTarget != 2 || rep.Different != 14 || rep.Compared != allTypesRows {
				t.Errorf("counts: %+v", rep.Tables)
			}
			if rep.Tables[0].TableChecksum != tcDifferent {
				t.Errorf("the table checksum was not taken (or not different): %+v", rep.Tables[0])
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
	// Equal values, not equal bytes (the JSON of id 900 is another text of the same document):
	// the table checksum differs, the chunks find no difference.
	if !rep.Equal || rep.Compared != allTypesRows || rep.Tables[0].TableChecksum != tcDifferent {
		b, _ := os.ReadFile(filepath.Join(out, sdb+".t.sql"))
		t.Fatalf("after applying the correction SQL: %+v\n%s", rep.Tables, b)
	}
}

// startVerifier runs a verification in the background; the returned func waits for its report.
func startVerifier(t *testing.T, e env, cfg Config, workDir string) (*Verifier, func() (*Report, error)) {
	t.Helper()
	cfg.Source, cfg.Target = conn(e.src), conn(e.dst)
	v, err := New(cfg, workDir, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.StartUnit(t, v)
	return v, func() (*Report, error) {
		err := run.Wait()
		return v.Result(), err
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLaggingWriterIsNotReported: the target receives the source's latest changes a few seconds
// late (like Incr-Sync with lag). The chunk pass sees them as differences; the re-check rounds
// see them converge, so nothing is reported.
func TestLaggingWriterIsNotReported(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "ls"), testenv.FreshDatabase(t, e.dst, "ld")
	ddl := "CREATE TABLE %s.t (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(10,2))"
	fill := "INSERT INTO %s.t SELECT seq, CONCAT('v', seq), seq / 100 FROM %s.seq_1_to_2000"
	exec(t, e.src.DB(), fmt.Sprintf(ddl, sdb), fmt.Sprintf(fill, sdb, sdb))
	exec(t, e.dst.DB(), fmt.Sprintf(ddl, ddb), fmt.Sprintf(fill, ddb, ddb))
	changes := func(db string) []string {
		return []string{
			"UPDATE " + db + ".t SET v = CONCAT(v, '-upd') WHERE id % 97 = 0",
			"DELETE FROM " + db + ".t WHERE id IN (5, 1999)",
			"INSERT INTO " + db + ".t VALUES (2001, 'new', 1.5), (3000, NULL, NULL)",
		}
	}
	exec(t, e.src.DB(), changes(sdb)...) // the source changed; the target has not seen it yet
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	v, wait := startVerifier(t, e, Config{Selection: sel, ChunkSize: 300, RecheckRounds: rounds(20),
		RecheckDelay: component.Duration(300 * time.Millisecond), OutputDir: t.TempDir()}, t.TempDir())
	// The lagging writer: applies the changes once the verifier has seen them as differences,
	// 2 s late.
	waitFor(t, "chunk pass to finish with candidates", time.Minute, func() bool {
		st := v.Status()
		return st.Metrics["chunks_total"] > 0 && st.Metrics["chunks_done"] == st.Metrics["chunks_total"] && st.Metrics["candidate_rows"] > 0
	})
	cands := v.Status().Metrics["candidate_rows"]
	lag := time.NewTimer(2 * time.Second)
	<-lag.C
	exec(t, e.dst.DB(), changes(ddb)...)
	rep, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if cands != 20+2+2 {
		t.Errorf("chunk pass saw %v candidate rows, want 24", cands)
	}
	if !rep.Equal || rep.Tables[0].Converged != 24 {
		t.Fatalf("lagging rows reported as differences (24 must have converged): %+v", rep.Tables)
	}
}

// TestRenameMapping compares source a.t with target b.t2 (selection rename) and writes SQL for
// b.t2.
func TestRenameMapping(t *testing.T) {
	e := newEnv(t)
	a, b := testenv.FreshDatabase(t, e.src, "a"), testenv.FreshDatabase(t, e.dst, "b")
	exec(t, e.src.DB(), "CREATE TABLE "+a+".t (id BIGINT PRIMARY KEY, s VARCHAR(10))",
		"INSERT INTO "+a+".t VALUES (1,'x'),(2,'y'),(3,'z')",
		"CREATE TABLE "+a+".other (id INT PRIMARY KEY)") // not selected
	exec(t, e.dst.DB(), "CREATE TABLE "+b+".t2 (id BIGINT PRIMARY KEY, s VARCHAR(10))",
		"INSERT INTO "+b+".t2 VALUES (1,'x'),(2,'Y')",
		"CREATE TABLE "+b+".t (id BIGINT PRIMARY KEY, s VARCHAR(10))") // a decoy with the source's name
	sel := selection.Config{Tables: []selection.Rule{{DB: a, Table: "t", RenameDB: b, RenameTable: "t2"}}}
	out := t.TempDir()
	rep := run(t, e, Config{Selection: sel, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	if len(rep.Tables) != 1 || rep.Tables[0].Target != b+".t2" || rep.Different != 1 || rep.OnlyInSource != 1 {
		t.Fatalf("report: %+v", rep.Tables)
	}
	sqlText, _ := os.ReadFile(filepath.Join(out, a+".t.sql"))
	if !strings.Contains(string(sqlText), "INSERT INTO `"+b+"`.`t2`") || !strings.Contains(string(sqlText), "UPDATE `"+b+"`.`t2` SET `s` = 'y' WHERE `id` = 2") {
		t.Fatalf("correction SQL:\n%s", sqlText)
	}
	applySQL(t, e.dst.DB(), filepath.Join(out, a+".t.sql"))
	if rep := run(t, e, Config{Selection: sel, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir()); !rep.Equal {
		t.Fatalf("after correction: %+v", rep.Tables)
	}
}

// TestCompositeStringKeyAndNoKeyTable: chunks walked along a composite key with a
// case-insensitive string column (a key whose case changed is the same row, a DIFFERENT one),
// and a table without any key compared as a multiset of rows (a missing duplicate is found).
func TestCompositeStringKeyAndNoKeyTable(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "cs"), testenv.FreshDatabase(t, e.dst, "cd")
	for _, x := range []struct {
		db *sql.DB
		n  string
	}{{e.src.DB(), sdb}, {e.dst.DB(), ddb}} {
		exec(t, x.db,
			"CREATE TABLE "+x.n+".k (name VARCHAR(20) NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (name, n)) CHARSET utf8mb4 COLLATE utf8mb4_general_ci",
			"INSERT INTO "+x.n+".k SELECT CONCAT('name', seq % 37), seq, seq FROM "+x.n+".seq_1_to_1000",
			"CREATE TABLE "+x.n+".nokey (a INT, b VARCHAR(10))",
			"INSERT INTO "+x.n+".nokey VALUES (1,'x'),(1,'x'),(2,NULL),(3,'')")
	}
	exec(t, e.dst.DB(),
		"UPDATE "+ddb+".k SET name = 'NAME5' WHERE name = 'name5' AND n = 5", // key case only
		"UPDATE "+ddb+".k SET v = NULL WHERE name = 'name10' AND n = 10",     // value
		"DELETE FROM "+ddb+".k WHERE name = 'name0' AND n = 37",              // missing
		"INSERT INTO "+ddb+".k VALUES ('zzz', 1, 1)",                         // extra
		"DELETE FROM "+ddb+".nokey WHERE a = 1 LIMIT 1",                      // one of two copies
		"UPDATE "+ddb+".nokey SET b = '' WHERE a = 2")                        // NULL -> ''
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	for _, mode := range []string{ModeRange, ModeIn} {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			rep := run(t, e, Config{Selection: sel, ChunkSize: 50, Mode: mode, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
			got := strings.Join(diffKeys(t, filepath.Join(out, sdb+".k.diff")), "\n")
			want := strings.Join([]string{
				"DIFFERENT name='name10' n=10 columns=v", "DIFFERENT name='name5' n=5 columns=name",
				"ONLY_IN_SOURCE name='name0' n=37", "ONLY_IN_TARGET name='zzz' n=1"}, "\n")
			if got != want {
				t.Errorf("keyed table reported:\n%s\nwant:\n%s", got, want)
			}
			got = strings.Join(diffKeys(t, filepath.Join(out, sdb+".nokey.diff")), "\n")
			want = strings.Join([]string{"ONLY_IN_SOURCE COPIES=1", "ONLY_IN_SOURCE COPIES=1", "ONLY_IN_TARGET COPIES=1"}, "\n")
			if got != want {
				t.Errorf("key-less table reported:\n%s\nwant:\n%s", got, want)
			}
			for _, tr := range rep.Tables {
				if tr.Table == sdb+".nokey" && (tr.Method != MethodMultiset || !strings.Contains(tr.Note, "multiset")) {
					t.Errorf("key-less table result: %+v", tr)
				}
			}
		})
	}
	out := t.TempDir()
	run(t, e, Config{Selection: sel, ChunkSize: 50, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	applySQL(t, e.dst.DB(), filepath.Join(out, sdb+".k.sql"))
	applySQL(t, e.dst.DB(), filepath.Join(out, sdb+".nokey.sql"))
	if rep := run(t, e, Config{Selection: sel, ChunkSize: 50, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir()); !rep.Equal {
		t.Fatalf("after correction: %+v", rep.Tables)
	}
	// Skipping key-less tables is reported as such.
	rep := run(t, e, Config{Selection: sel, NoKeyTables: NoKeySkip, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir())
	found := false
	for _, tr := range rep.Tables {
		found = found || (tr.Table == sdb+".nokey" && tr.Method == MethodSkipped && tr.Note != "")
	}
	if !found {
		t.Fatalf("skipped key-less table not in report: %+v", rep.Tables)
	}
}

// TestOnlyPreviousDifferences: the second run looks only at the rows that differed before.
func TestOnlyPreviousDifferences(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "ps"), testenv.FreshDatabase(t, e.dst, "pd")
	for _, x := range []struct {
		db *sql.DB
		n  string
	}{{e.src.DB(), sdb}, {e.dst.DB(), ddb}} {
		exec(t, x.db, "CREATE TABLE "+x.n+".a (id INT PRIMARY KEY, v INT)", "CREATE TABLE "+x.n+".b (id INT PRIMARY KEY, v INT)",
			"INSERT INTO "+x.n+".a SELECT seq, seq FROM "+x.n+".seq_1_to_500", "INSERT INTO "+x.n+".b SELECT seq, seq FROM "+x.n+".seq_1_to_500")
	}
	exec(t, e.dst.DB(), "UPDATE "+ddb+".a SET v = 0 WHERE id IN (10, 20, 30)")
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	out := t.TempDir()
	rep := run(t, e, Config{Selection: sel, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	if rep.Different != 3 {
		t.Fatalf("first run: %+v", rep.Tables)
	}
	// The first run took the table checksum: b equal by it, a different, so compared by chunks.
	for _, tr := range rep.Tables {
		if want := map[string]string{sdb + ".a": tcDifferent, sdb + ".b": tcEqual}[tr.Table]; tr.TableChecksum != want {
			t.Fatalf("first run, %s: table checksum %q, want %q", tr.Table, tr.TableChecksum, want)
		}
	}
	// Fix one row; change a row that did not differ before (it must not be looked at).
	exec(t, e.dst.DB(), "UPDATE "+ddb+".a SET v = 20 WHERE id = 20", "UPDATE "+ddb+".a SET v = 0 WHERE id = 40",
		"UPDATE "+ddb+".b SET v = 0 WHERE id = 1")
	rep = run(t, e, Config{Selection: sel, OnlyPreviousDifferences: true, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	got := strings.Join(diffKeys(t, filepath.Join(out, sdb+".a.diff")), "\n")
	if got != "DIFFERENT id=10 columns=v\nDIFFERENT id=30 columns=v" || rep.Different != 2 {
		t.Fatalf("re-verify reported %q, report %+v", got, rep.Tables)
	}
	for _, tr := range rep.Tables {
		if tr.Table == sdb+".b" && tr.Method != MethodNotReverified {
			t.Fatalf("table without previous differences: %+v", tr)
		}
	}
}

// TestResumeAfterPause: a run cancelled mid-way resumes from its state file and still reports
// exactly the differences.
func TestResumeAfterPause(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "rs"), testenv.FreshDatabase(t, e.dst, "rd")
	for _, x := range []struct {
		db *sql.DB
		n  string
	}{{e.src.DB(), sdb}, {e.dst.DB(), ddb}} {
		exec(t, x.db, "CREATE TABLE "+x.n+".t (id INT PRIMARY KEY, v INT)", "INSERT INTO "+x.n+".t SELECT seq, seq FROM "+x.n+".seq_1_to_4000")
	}
	exec(t, e.dst.DB(), "UPDATE "+ddb+".t SET v = 0 WHERE id IN (50, 3950)")
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	work, out := t.TempDir(), t.TempDir()
	// 2,000 rows/s: 4,000 rows take ~2 s; pause after the first chunks.
	cfg := Config{Selection: sel, ChunkSize: 100, Concurrency: 1, RowsPerSecond: 2000, RecheckRounds: rounds(0), OutputDir: out}
	cfg.Source, cfg.Target = conn(e.src), conn(e.dst)
	v, err := New(cfg, work, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	run := testenv.StartUnit(t, v)
	waitFor(t, "some chunks", time.Minute, func() bool { return v.Status().Metrics["chunks_done"] >= 5 })
	if err := run.Pause(); err == nil || v.Status().State != "PAUSED" {
		t.Fatalf("paused run returned %v, state %s", err, v.Status().State)
	}
	_ = run.Stop()
	st, resumed, err := loadState(work, v.cfg.fingerprint())
	if err != nil || !resumed || st.Tables[sdb+".t"].RowsDone < 500 || st.Tables[sdb+".t"].RowsDone >= 4000 {
		t.Fatalf("state after pause: resumed=%v err=%v %+v", resumed, err, st.Tables[sdb+".t"])
	}
	rowsBefore := st.Tables[sdb+".t"].RowsDone
	cfg.RowsPerSecond = 0
	v2, wait := startVerifier(t, e, cfg, work)
	rep, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Different != 2 || rep.Compared != 4000 || rep.ChunksResumed < rowsBefore/100 {
		t.Fatalf("resumed run (%d chunks from the state, %d rows before): %+v", rep.ChunksResumed, rowsBefore, rep.Tables)
	}
	_ = v2
}

// TestComponentCommand runs `oms component full-verify --spec FILE` as a real process.
func TestComponentCommand(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "cs"), testenv.FreshDatabase(t, e.dst, "cd")
	exec(t, e.src.DB(), "CREATE TABLE "+sdb+".t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO "+sdb+".t VALUES (1,'a'),(2,'b')")
	exec(t, e.dst.DB(), "CREATE TABLE "+ddb+".t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO "+ddb+".t VALUES (1,'a'),(2,'B')")
	bin := testenv.OMSBinary(t)
	work := t.TempDir()
	spec := fmt.Sprintf(`{"kind":"full-verify","task_id":"t1","epoch":1,"work_dir":%q,"config":{
		"source":{"host":"127.0.0.1","port":%d,"user":"root"},"target":{"host":"127.0.0.1","port":%d,"user":"root"},
		"selection":{"tables":[{"db":%q,"rename_db":%q}]},"recheck_rounds":1,"recheck_delay":"50ms"}}`,
		work, e.src.Port, e.dst.Port, sdb, ddb)
	specFile := filepath.Join(work, "spec.json")
	if err := os.WriteFile(specFile, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := osexec.Command(bin, "component", "full-verify", "--spec", specFile).CombinedOutput()
	if err != nil {
		t.Fatalf("oms component full-verify: %v\n%s", err, out)
	}
	rep, err := os.ReadFile(filepath.Join(work, "output", ReportFile))
	if err != nil || !strings.Contains(string(rep), `"different": 1`) {
		t.Fatalf("report: %s (%v)\n%s", rep, err, out)
	}
	// A spec with an unknown field is invalid input: exit code 3.
	bad := strings.Replace(spec, `"recheck_rounds"`, `"recheck_roundz"`, 1)
	if err := os.WriteFile(specFile, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err = osexec.Command(bin, "component", "full-verify", "--spec", specFile).Run()
	var ee *osexec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("invalid spec: %v, want exit code 3", err)
	}
}

// TestTargetTailIsCutAgain: the target holds many rows beyond the source's last key (and a
// source table is empty); the open last chunk is cut again along the target's key and every
// extra row is reported.
func TestTargetTailIsCutAgain(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "ts"), testenv.FreshDatabase(t, e.dst, "td")
	for _, x := range []struct {
		db *sql.DB
		n  string
	}{{e.src.DB(), sdb}, {e.dst.DB(), ddb}} {
		exec(t, x.db, "CREATE TABLE "+x.n+".t (id INT PRIMARY KEY, v INT)", "INSERT INTO "+x.n+".t SELECT seq, seq FROM "+x.n+".seq_1_to_100",
			"CREATE TABLE "+x.n+".empty (id VARCHAR(10) PRIMARY KEY)")
	}
	exec(t, e.dst.DB(), "INSERT INTO "+ddb+".t SELECT seq, seq FROM "+ddb+".seq_1000_to_3999",
		"INSERT INTO "+ddb+".empty SELECT CONCAT('k', seq) FROM "+ddb+".seq_1_to_700")
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	out := t.TempDir()
	v, wait := startVerifier(t, e, Config{Selection: sel, ChunkSize: 50, RecheckRounds: rounds(0), OutputDir: out}, t.TempDir())
	rep, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if split := v.Status().Metrics["chunks_split"]; split != 2 {
		t.Errorf("%v chunks cut again, want 2 (the tail of t, the whole of empty)", split)
	}
	if rep.OnlyInTarget != 3000+700 || rep.Different != 0 || rep.OnlyInSource != 0 || rep.Compared != 100 {
		t.Fatalf("report: %+v", rep.Tables)
	}
	applySQL(t, e.dst.DB(), filepath.Join(out, sdb+".t.sql"))
	applySQL(t, e.dst.DB(), filepath.Join(out, sdb+".empty.sql"))
	if rep := run(t, e, Config{Selection: sel, ChunkSize: 50, RecheckRounds: rounds(0), OutputDir: t.TempDir()}, t.TempDir()); !rep.Equal {
		t.Fatalf("after correction: %+v", rep.Tables)
	}
}

// allTypesRows is how many rows allTypesPair puts in each side's table t.
const allTypesRows = 3000

// allTypesPair creates a fresh database on each side holding the same table t of every common
// column type, filled with the same allTypesRows rows.
func allTypesPair(t *testing.T, e env, srcPrefix, dstPrefix string) (sdb, ddb string) {
	t.Helper()
	sdb, ddb = testenv.FreshDatabase(t, e.src, srcPrefix), testenv.FreshDatabase(t, e.dst, dstPrefix)
	exec(t, e.src.DB(), fmt.Sprintf(allTypesDDL, sdb), fmt.Sprintf(allTypesFill, sdb, sdb, allTypesRows))
	exec(t, e.dst.DB(), fmt.Sprintf(allTypesDDL, ddb), fmt.Sprintf(allTypesFill, ddb, ddb, allTypesRows))
	return sdb, ddb
}

package verify

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
)

// Tables named with '/', '..', spaces, unicode, 64 characters and names differing only by case
// get their own .diff and .sql files, all inside the output folder: a table called
// x/../../escaped once made full-verify write next to (and above) its output folder.
func TestDiffFilesStayInOutputFolder(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "ns"), testenv.FreshDatabase(t, e.dst, "nd")
	long := "L" + strings.Repeat("ong_Name", 7) + "_end_x_"
	if len(long) != 64 {
		t.Fatalf("long name has %d characters", len(long))
	}
	names := []string{"x/../../escaped", "..", "a b", "tábla_ü", long, strings.ToLower(long), "Orders", "orders", `back\slash`}
	for _, n := range names {
		for _, s := range []struct {
			i  *testenv.Instance
			db string
		}{{e.src, sdb}, {e.dst, ddb}} {
			tbl := sqlgen.Table(s.db, n)
			exec(t, s.i.DB(), "CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO "+tbl+" VALUES (1, 'a'), (2, 'b')")
		}
		exec(t, e.dst.DB(), "UPDATE "+sqlgen.Table(ddb, n)+" SET v = 'changed' WHERE id = 2")
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	sel := selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb}}}
	work := filepath.Join(parent, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	rep := run(t, e, Config{Selection: sel, RecheckRounds: rounds(0), OutputDir: out}, work)
	if rep.Different != int64(len(names)) {
		t.Fatalf("different: %d, want %d: %+v", rep.Different, len(names), rep.Tables)
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var top []string
	for _, e := range ents {
		top = append(top, e.Name())
	}
	sort.Strings(top)
	if strings.Join(top, " ") != "out work" {
		t.Fatalf("files written next to the output folder: %v", top)
	}
	files := map[string]bool{}
	for _, r := range rep.Tables {
		for _, f := range []string{r.DiffFile, r.SQLFile} {
			if f == "" || filepath.Base(f) != f || files[strings.ToLower(f)] {
				t.Errorf("table %s: file %q is empty, not a plain name or shared (case-folded)", r.Table, f)
			}
			files[strings.ToLower(f)] = true
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("table %s: %v", r.Table, err)
			}
		}
		if got := diffKeys(t, filepath.Join(out, r.DiffFile)); strings.Join(got, ",") != "DIFFERENT id=2 columns=v" {
			t.Errorf("table %s: %s holds %v", r.Table, r.DiffFile, got)
		}
	}
	if len(files) != 2*len(names) {
		t.Errorf("%d files for %d tables", len(files), len(names))
	}
}

// A row filter naming a column the table lacks stops the verification at start, before any
// comparison, with the code that says so.
func TestFilterUnknownColumnRefusedAtStart(t *testing.T) {
	e := newEnv(t)
	sdb, ddb := testenv.FreshDatabase(t, e.src, "fs"), testenv.FreshDatabase(t, e.dst, "fd")
	exec(t, e.src.DB(), "CREATE TABLE "+sqlgen.Table(sdb, "t")+" (id INT PRIMARY KEY, v INT)")
	exec(t, e.dst.DB(), "CREATE TABLE "+sqlgen.Table(ddb, "t")+" (id INT PRIMARY KEY)")
	for _, tc := range []struct{ where, names string }{
		{"nope = 1", `"nope"`},
		{"`;` = 1", `";"`},
		{"v > 1", ddb + ".t"}, // the filter runs on the target too, which lacks v
	} {
		cfg := Config{Selection: selection.Config{Tables: []selection.Rule{{DB: sdb, RenameDB: ddb, Where: tc.where}}}, OutputDir: t.TempDir()}
		cfg.Source, cfg.Target = conn(e.src), conn(e.dst)
		v, err := New(cfg, t.TempDir(), nil, quiet)
		if err != nil {
			t.Fatal(err)
		}
		err = v.Init(context.Background())
		v.Close()
		if omserr.CodeOf(err) != omserr.FilterColumnUnknown || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("where %q: Init = %v, want %s naming %s", tc.where, err, omserr.FilterColumnUnknown, tc.names)
		}
	}
}

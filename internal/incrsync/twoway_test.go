package incrsync

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	cfl "github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/omserr"
)

// conflictPair prepares tables (named after policies) that start equal on source and target,
// then lets the target diverge so that each of six source transactions meets one kind of
// conflict, and returns the source position before those transactions.
func conflictPair(t *testing.T, tables ...string) *pair {
	t.Helper()
	p := newPair(t)
	execAll(t, p.dst.DB(), "CREATE DATABASE "+q(p.db, "")[:len(q(p.db, ""))-3])
	for _, tb := range tables {
		for _, db := range []*pair{p} {
			ddl := "CREATE TABLE " + q(db.db, tb) + " (id INT PRIMARY KEY, v VARCHAR(20), ver INT NOT NULL, code VARCHAR(10) NULL, UNIQUE KEY uk_code (code))"
			rows := "INSERT INTO " + q(db.db, tb) + " VALUES (2, 'init', 1, NULL), (3, 'init', 1, NULL), (4, 'init', 1, NULL), (5, 'init', 1, NULL)"
			execAll(t, p.src.DB(), ddl, rows)
			execAll(t, p.dst.DB(), ddl, rows)
		}
		// the target diverges: one row per kind of conflict
		execAll(t, p.dst.DB(),
			"INSERT INTO "+q(p.db, tb)+" VALUES (1, 'tgt', 5, NULL)",     // insert_exists
			"DELETE FROM "+q(p.db, tb)+" WHERE id = 2",                   // update_missing
			"UPDATE "+q(p.db, tb)+" SET v = 'tgt', ver = 9 WHERE id = 3", // update_differs
			"DELETE FROM "+q(p.db, tb)+" WHERE id = 4",                   // delete_missing
			"UPDATE "+q(p.db, tb)+" SET v = 'tgt', ver = 0 WHERE id = 5", // delete_differs
			"INSERT INTO "+q(p.db, tb)+" VALUES (60, 'tgt', 1, 'X')",     // unique_collision
		)
	}
	p.start = gtidPos(t, p.src)
	for _, tb := range tables {
		execAll(t, p.src.DB(),
			"INSERT INTO "+q(p.db, tb)+" VALUES (1, 'src', 7, NULL)",
			"UPDATE "+q(p.db, tb)+" SET v = 'src', ver = 2 WHERE id = 2",
			"UPDATE "+q(p.db, tb)+" SET v = 'src', ver = 2 WHERE id = 3",
			"DELETE FROM "+q(p.db, tb)+" WHERE id = 4",
			"DELETE FROM "+q(p.db, tb)+" WHERE id = 5",
			"INSERT INTO "+q(p.db, tb)+" VALUES (6, 'src', 1, 'X')",
		)
	}
	return p
}

func twoWayConfig(p *pair, c cfl.Config) Config {
	cfg := p.config()
	cfg.TwoWay = &TwoWayConfig{SourceRegion: "hz", TargetRegion: "hl", DDLRegion: "hz", Conflicts: c}
	return cfg
}

// recorded lists a task's recorded conflicts as "table kind decision".
func recorded(t *testing.T, p *pair, task string) []string {
	t.Helper()
	rows, err := p.dst.DB().Query("SELECT table_name, kind, decision, source_region, target_region, row_key, COALESCE(source_image, ''), COALESCE(target_image, '') FROM __oms.incr_conflict WHERE task_id = ?", task)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var tb, kind, dec, sr, tr, key, si, ti string
		if err := rows.Scan(&tb, &kind, &dec, &sr, &tr, &key, &si, &ti); err != nil {
			t.Fatal(err)
		}
		if sr != "hz" || tr != "hl" || key == "" {
			t.Errorf("conflict %s %s recorded with regions %s -> %s, key %q", tb, kind, sr, tr, key)
		}
		if kind != string(cfl.DeleteMissing) && kind != string(cfl.UpdateMissing) && ti == "" || si == "" {
			t.Errorf("conflict %s %s without both row images: source %q target %q", tb, kind, si, ti)
		}
		out = append(out, tb[strings.IndexByte(tb, '.')+1:]+" "+kind+" "+dec)
	}
	sort.Strings(out)
	return out
}

// Every kind of conflict under every resolving policy: what the target ends with, and each
// conflict recorded once with its decision.
func TestTwoWayConflictPolicies(t *testing.T) {
	tables := []string{"t_ignore", "t_overwrite", "t_priority", "t_lww"}
	p := conflictPair(t, tables...)
	cfg := twoWayConfig(p, cfl.Config{Priority: []string{"hz", "hl"}, Default: cfl.Rule{Policy: cfl.Stop}, Tables: map[string]cfl.Rule{
		p.db + ".t_ignore": {Policy: cfl.Ignore}, p.db + ".t_overwrite": {Policy: cfl.Overwrite},
		p.db + ".t_priority": {Policy: cfl.Priority}, p.db + ".t_lww": {Policy: cfl.LWW, Column: "ver"},
	}})
	task := fmt.Sprintf("tw-%d", taskSeq.Add(1))
	r := start(t, cfg, task, 1, captureSource(p.src))
	r.waitCaughtUp(t, p.src, 60*time.Second)

	keep := []string{"1 tgt 5 NULL", "3 tgt 9 NULL", "5 tgt 0 NULL", "60 tgt 1 X"}
	take := []string{"1 src 7 NULL", "2 src 2 NULL", "3 src 2 NULL", "6 src 1 X"}
	lww := []string{"1 src 7 NULL", "2 src 2 NULL", "3 tgt 9 NULL", "6 src 1 X"}
	want := map[string][]string{"t_ignore": keep, "t_overwrite": take, "t_priority": take, "t_lww": lww}
	for tb, rows := range want {
		got := testenv_rows(t, p, tb)
		if strings.Join(got, "|") != strings.Join(rows, "|") {
			t.Errorf("%s ends with %v, want %v", tb, got, rows)
		}
	}
	decisions := map[string]map[cfl.Kind]cfl.Decision{
		"t_ignore":    {},
		"t_overwrite": {},
		"t_priority":  {},
		"t_lww": {cfl.InsertExists: cfl.DecideTakeSource, cfl.UpdateMissing: cfl.DecideTakeSource, cfl.UpdateDiffers: cfl.DecideKeepTarget,
			cfl.DeleteDiffers: cfl.DecideTakeSource, cfl.UniqueCollision: cfl.DecideTakeSource},
	}
	var exp []string
	for tb, m := range decisions {
		for _, k := range cfl.Kinds {
			d, ok := m[k]
			switch {
			case k == cfl.DeleteMissing:
				d = cfl.DecideKeepTarget
			case ok:
			case tb == "t_ignore":
				d = cfl.DecideKeepTarget
			default:
				d = cfl.DecideTakeSource
			}
			exp = append(exp, tb+" "+string(k)+" "+string(d))
		}
	}
	sort.Strings(exp)
	if got := recorded(t, p, task); strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("recorded conflicts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
}

func testenv_rows(t *testing.T, p *pair, tb string) []string {
	t.Helper()
	rows, err := p.dst.DB().Query("SELECT id, v, ver, COALESCE(code, 'NULL') FROM " + q(p.db, tb) + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, ver int
		var v, code string
		if err := rows.Scan(&id, &v, &ver, &code); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d %s", id, v, ver, code))
	}
	return out
}

// The policy stop stops the direction at the first conflict, with everything before it
// applied, and records that conflict once, also when the task is started again.
func TestTwoWayConflictStop(t *testing.T) {
	p := conflictPair(t, "t_stop")
	cfg := twoWayConfig(p, cfl.Config{})
	cfg.Workers = 1
	task := fmt.Sprintf("tw-%d", taskSeq.Add(1))
	// the six transactions touch different rows: parallel workers may meet several conflicts
	// before the task stops; each is recorded once, and a restart adds none
	var first []string
	for run := 0; run < 2; run++ {
		r := start(t, cfg, task, int64(run+1), captureSource(p.src))
		err := r.waitFailed(t, 60*time.Second)
		var oe *omserr.Error
		if !asErr(err, &oe) || oe.Code != omserr.TwoWayConflict || !contains(oe.Message, "policy of the table is stop") {
			t.Fatalf("run %d stopped with %v", run+1, err)
		}
		got := recorded(t, p, task)
		if run == 0 {
			first = got
		}
		if !contains(strings.Join(got, ","), "t_stop insert_exists stop") || strings.Join(got, ",") != strings.Join(first, ",") {
			t.Fatalf("run %d recorded %v (run 1: %v)", run+1, got, first)
		}
		for _, c := range got {
			if !strings.HasSuffix(c, " stop") {
				t.Fatalf("a conflict under stop was decided otherwise: %v", got)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v string
	if err := p.dst.DB().QueryRowContext(ctx, "SELECT v FROM "+q(p.db, "t_stop")+" WHERE id = 1").Scan(&v); err != nil || v != "tgt" {
		t.Fatalf("the target row was changed: %q %v", v, err)
	}
}

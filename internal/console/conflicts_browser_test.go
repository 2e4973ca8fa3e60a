package console_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv/chrome"
)

// recordConflicts writes n conflicts of task into the target's __oms.incr_conflict as a two-way
// Incr-Sync does (the console collects them into rm.conflicts): row i is of table tables[i%2]
// and kind kinds[i%3], detected i ms after base.
func recordConflicts(t *testing.T, f *fixture, task, from, into string, n int, base time.Time) {
	t.Helper()
	db := f.inst.DB()
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS __oms", incrsync.ConflictTableDDL("__oms")} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tables := []string{"shop.orders", "shop.items"}
	kinds := []string{"insert_exists", "update_differs", "delete_missing"}
	for i := range n {
		if _, err := db.Exec("INSERT INTO __oms.incr_conflict (task_id, gtid, row_no, table_name, kind, row_key, source_image, target_image,"+
			" source_region, target_region, source_commit_ts, target_version, policy, decision, detected_at) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'lww', ?, FROM_UNIXTIME(?))",
			task, fmt.Sprintf("0-1-%d", 100+i), tables[i%2], kinds[i%3], fmt.Sprintf("(id=%d)", i), fmt.Sprintf(`{"id":"%d","v":"from %s"}`, i, from),
			fmt.Sprintf(`{"id":"%d","v":"at %s"}`, i, into), from, into, base.Unix()-int64(i), fmt.Sprint(i), map[bool]string{true: "take_source", false: "keep_target"}[i%2 == 0],
			float64(base.UnixMilli()+int64(i))/1000); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoWayInBrowser: the project page of a two-way project shows both directions, the DDL
// region and the measured clock skew; the conflicts page lists the conflicts recorded on both
// targets (key, both row images, origin, commit time, kind, decision), pages through them,
// filters by table and kind, and its CSV download is the CLI's CSV of the same conflicts.
func TestTwoWayInBrowser(t *testing.T) {
	chrome.ChromiumPath(t)
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.reachableDataSources(t)
	pr, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "aa", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}},
		TwoWay: &api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "lww", Column: "updated_at", MaxSkewMs: 500},
			ConflictPolicies: map[string]api.ConflictRule{"shop.audit": {Policy: "ignore"}}, OtherRegionDDL: map[string]string{"index": "apply"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cli.StartProject(ctx, pr.ID); err != nil {
		t.Fatal(err)
	}
	peer := pr.TwoWay.PeerID
	// The clock skew as the orchestrator records it (the runtime fact clockSkew).
	if _, err := f.db.Exec("UPDATE `"+f.names.RM+"`.projects SET spec = JSON_SET(spec, '$.clockSkew', ?) WHERE id = ?",
		`{"seconds": 0.042, "uncertainty_seconds": 0.003, "at": "2026-01-02T03:04:05Z"}`, pr.ID); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	recordConflicts(t, f, pr.ID+"-incr-sync", "cn-hangzhou", "cn-heilongjiang", 45, base)
	recordConflicts(t, f, peer+"-incr-sync", "cn-heilongjiang", "cn-hangzhou", 15, base.Add(time.Minute))

	// The orchestrator copies them into rm.conflicts every 5 s; ListProjectConflicts does too.
	if list, err := f.cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: pr.ID, Limit: 1000}); err != nil || len(list) != 60 {
		t.Fatalf("collected %d conflicts: %v", len(list), err)
	}

	f.runningTask(t, pr.ID, task.KindIncrSync, 2)
	f.runningTask(t, peer, task.KindIncrSync, 7)

	p := f.browserAs(t)
	p.Open("project/" + peer) // from the reverse project: both directions, the forward first
	p.WaitText(10*time.Second, "#direction-forward", "forward: cn-hangzhou → cn-heilongjiang")
	p.WaitText(10*time.Second, "#direction-reverse", "reverse: cn-heilongjiang → cn-hangzhou")
	if s := p.Text("#direction-reverse"); !strings.Contains(s, "this project") || !strings.Contains(s, "15 conflicts") || !strings.Contains(s, "lag 7 s") ||
		!strings.Contains(s, "incr-sync") || !strings.Contains(s, "0-1-5") {
		t.Errorf("reverse direction: %s", s)
	}
	if s := p.Text("#direction-forward"); !strings.Contains(s, "aa") || !strings.Contains(s, "45 conflicts") || !strings.Contains(s, "RUNNING") || !strings.Contains(s, "lag 2 s") {
		t.Errorf("forward direction: %s", s)
	}
	if s := p.Text("#twoway-ddl"); s != "cn-hangzhou" {
		t.Errorf("DDL region %q", s)
	}
	if s := p.Text("#twoway-other-ddl"); s != "index apply; other classes stop" {
		t.Errorf("DDL from the other region: %q", s)
	}
	if s := p.Text("#twoway-policies"); !strings.Contains(s, "default lww on updated_at (skew at most 500 ms)") || !strings.Contains(s, "shop.audit: ignore") {
		t.Errorf("conflict policies: %q", s)
	}
	p.Open("project/" + pr.ID)
	p.WaitText(10*time.Second, "#twoway-skew", "+0.042 s (±0.003 s, cn-heilongjiang minus cn-hangzhou")
	p.WaitText(10*time.Second, "#twoway-conflicts", "60")
	p.Screenshot("project-twoway")

	p.Click("#twoway-conflicts")
	p.WaitText(20*time.Second, "#cf-count", "page 1 of 2 · 60 conflicts")
	if n := chrome.Eval[int](p, `document.querySelectorAll('#conflict-list tr.conflict').length`); n != 50 {
		t.Fatalf("%d rows on page 1, want 50", n)
	}
	// Newest first: the reverse direction's conflicts (a minute later), the last one first.
	first := p.Text("#conflict-list tr.conflict")
	for _, want := range []string{"cn-heilongjiang → cn-hangzhou", "shop.orders", "(id=14)", `{"id":"14","v":"from cn-heilongjiang"}`, `{"id":"14","v":"at cn-hangzhou"}`, "delete_missing", "lww", "take_source"} {
		if !strings.Contains(first, want) {
			t.Errorf("first row %q lacks %q", first, want)
		}
	}
	p.Click("#cf-older")
	p.WaitText(10*time.Second, "#cf-count", "page 2 of 2")
	if n := chrome.Eval[int](p, `document.querySelectorAll('#conflict-list tr.conflict').length`); n != 10 {
		t.Fatalf("%d rows on page 2, want 10", n)
	}

	// Filter: shop.items (odd i: 22 of the 45, 7 of the 15), then update_differs too (i%6 == 1:
	// 8 and 3).
	p.Select("#cf-table", "shop.items")
	p.WaitText(10*time.Second, "#cf-count", "page 1 of 1 · 29 conflicts")
	p.Select("#cf-kind", "update_differs")
	p.WaitText(10*time.Second, "#cf-count", "page 1 of 1 · 11 conflicts")
	if bad := chrome.Eval[int](p, `[...document.querySelectorAll('#conflict-list tr.conflict')].filter((tr) => !tr.textContent.includes('shop.items') || tr.dataset.kind !== 'update_differs').length`); bad != 0 {
		t.Fatalf("%d rows outside the filter", bad)
	}
	p.Screenshot("conflicts")

	// The CSV download is the filtered search in the CLI's format.
	dir := t.TempDir()
	p.AllowDownloads(dir)
	p.Click("#cf-csv")
	got := p.WaitFile(30*time.Second, filepath.Join(dir, "oms-conflicts-"+pr.ID+".csv"))
	list, err := f.cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: pr.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var want []api.Conflict
	for _, c := range list {
		if c.Table == "shop.items" && c.Kind == "update_differs" {
			want = append(want, c)
		}
	}
	var wb bytes.Buffer
	if err := api.WriteConflictsCSV(&wb, want); err != nil {
		t.Fatal(err)
	}
	if string(got) != wb.String() {
		t.Fatalf("downloaded CSV:\n%s\nwant:\n%s", got, wb.String())
	}
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil || len(recs) != 12 || recs[0][0] != "detected_at" || recs[1][5] != "shop.items" || recs[1][14] == "" || recs[1][15] == "" {
		t.Fatalf("CSV records (%v): %q", err, recs)
	}
}

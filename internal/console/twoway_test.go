package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/omserr"
)

// A two-way project is created as a linked pair (the reverse is incremental only), both
// directions show it, bad settings are refused naming the field, and the conflicts the
// Incr-Syncs record on their targets are listed from the MetaDB, each once however often
// they are collected.
func TestTwoWayProject(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	src, dst := f.dataSources(t)
	req := api.CreateProjectRequest{Name: "aa", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}},
		TwoWay: &api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "lww", Column: "updated_at"},
			ConflictPolicies: map[string]api.ConflictRule{"shop.audit": {Policy: "ignore"}}}}

	for _, bad := range []struct {
		edit func(*api.CreateProjectRequest)
		want string
	}{
		{func(r *api.CreateProjectRequest) { r.SinkEndpointID = src.ID }, "same data source"},
		{func(r *api.CreateProjectRequest) { r.TwoWay = &api.TwoWaySettings{DDLRegion: "mars"} }, `ddlRegion "mars"`},
		{func(r *api.CreateProjectRequest) {
			r.TwoWay = &api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "lww"}}
		}, "lww needs column"},
		{func(r *api.CreateProjectRequest) {
			r.TransferMapping = api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*", RenameDB: "shop2"}}}
		}, "renames, filters rows or selects columns"},
	} {
		r := req
		bad.edit(&r)
		_, err := f.cli.CreateProject(ctx, r)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("create with %s: %v", bad.want, err)
		}
	}

	p, err := f.cli.CreateProject(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tw := p.TwoWay
	if tw == nil || tw.Direction != "forward" || tw.PeerID == "" || tw.SourceRegion != "cn-hangzhou" || tw.TargetRegion != "cn-heilongjiang" ||
		tw.Settings.DDLRegion != "cn-hangzhou" || strings.Join(tw.Settings.Priority, ",") != "cn-hangzhou,cn-heilongjiang" || p.Type != "TWO_WAY_SYNC" {
		t.Fatalf("forward project: %+v %+v", p, tw)
	}
	rev, err := f.cli.DescribeProject(ctx, tw.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	if rev.TwoWay == nil || rev.TwoWay.Direction != "reverse" || rev.TwoWay.PeerID != p.ID || rev.SourceEndpointID != dst.ID || rev.SinkEndpointID != src.ID ||
		rev.EnableFull || rev.EnableStruct || !rev.EnableIncr || rev.TwoWay.SourceRegion != "cn-heilongjiang" {
		t.Fatalf("reverse project: %+v %+v", rev, rev.TwoWay)
	}
	for _, st := range rev.Steps {
		on := st.Name == api.StepPrecheck || st.Name == api.StepIncrLogPull || st.Name == api.StepIncr
		if on == (st.Status == api.StepSkipped) {
			t.Errorf("reverse step %s is %s", st.Name, st.Status)
		}
	}
	if err := f.cli.StartProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if rev, _ = f.cli.DescribeProject(ctx, tw.PeerID); rev.Status != api.StateRunning {
		t.Fatalf("starting the forward project left the reverse %s", rev.Status)
	}

	// The forward Incr-Sync's target (the dst data source) holds two conflicts.
	db := f.inst.DB()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS __oms"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, incrsync.ConflictTableDDL("__oms")); err != nil {
		t.Fatal(err)
	}
	task := p.ID + "-incr-sync"
	for i, kind := range []string{"insert_exists", "update_differs"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO __oms.incr_conflict (task_id, gtid, row_no, table_name, kind, row_key, source_image, target_image,"+
			" source_region, target_region, source_commit_ts, target_version, policy, decision) VALUES (?, '0-1-9', ?, 'shop.orders', ?, '(id=7)',"+
			" '{\"id\":\"7\",\"v\":\"a\"}', '{\"id\":\"7\",\"v\":\"b\"}', 'cn-hangzhou', 'cn-heilongjiang', 1700000000, '5', 'lww', 'take_source')", task, i, kind); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		list, err := f.cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].TaskID != task || list[0].Table != "shop.orders" || list[0].Key != "(id=7)" || list[0].SourceImage == "" ||
			list[0].TargetImage == "" || list[0].Decision != "take_source" || list[0].SourceCommit.Unix() != 1700000000 || list[0].TargetVersion != "5" {
			t.Fatalf("round %d: %+v", round, list)
		}
	}
	if p, _ = f.cli.DescribeProject(ctx, p.ID); p.TwoWay.Conflicts != 2 {
		t.Fatalf("conflicts count %d", p.TwoWay.Conflicts)
	}
	// the reverse project lists the pair's conflicts too
	if list, err := f.cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: tw.PeerID}); err != nil || len(list) != 2 {
		t.Fatalf("from the reverse: %d %v", len(list), err)
	}
	// release and delete act on both directions
	if err := f.cli.ReleaseProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if rev, _ = f.cli.DescribeProject(ctx, tw.PeerID); rev.Status != api.StateReleasing {
		t.Fatalf("releasing the forward project left the reverse %s", rev.Status)
	}
	one, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "one", SourceEndpointID: src.ID, SinkEndpointID: dst.ID,
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "shop", Table: "*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.cli.ListProjectConflicts(ctx, api.ListProjectConflictsRequest{ID: one.ID})
	apiErr(t, err, 400, omserr.APIInvalidArgument)
}

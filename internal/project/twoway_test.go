package project

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/incrsync"
	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/task"
	"github.com/omsdev/oms/internal/testenv"
)

// The orchestrator's two-way chores: with an lww rule that bounds the clock skew, each
// measurement is recorded on the target for the direction's Incr-Sync; conflicts are copied
// into rm.conflicts once each, and a stop that the resumed direction decided is updated there.
func TestTwoWaySkewRecordAndConflictCopy(t *testing.T) {
	m := metadbtest.Fresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keys, err := secret.Load(ctx, m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(m.DB, m.Names, keys, "r1", slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	insts := testenv.StartN(t, 2)
	var ids []string
	for i, inst := range insts {
		ds, err := s.CreateDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: "tw" + inst.Dir, Host: "127.0.0.1", Port: inst.Port, UserName: "root",
			Region: []string{"r1", "r2"}[i]})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds.ID)
	}
	// settings refused at create, naming the problem
	for _, c := range []struct {
		tw   api.TwoWaySettings
		want string
	}{
		{api.TwoWaySettings{OtherRegionDDL: map[string]string{"tables": "apply"}}, `otherRegionDdl: unknown DDL class "tables"`},
		{api.TwoWaySettings{OtherRegionDDL: map[string]string{"index": "run"}}, `unknown action "run"`},
		{api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "priority", MaxSkewMs: 100}}, "max_skew_ms are only for lww"},
	} {
		_, err := s.CreateProject(ctx, api.CreateProjectRequest{Name: "bad", SourceEndpointID: ids[0], SinkEndpointID: ids[1],
			TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "app", Table: "*"}}}, TwoWay: &c.tw})
		if omserr.CodeOf(err) != omserr.TwoWayConfigInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("create with %+v: %v, want %s naming %q", c.tw, err, omserr.TwoWayConfigInvalid, c.want)
		}
	}
	p, err := s.CreateProject(ctx, api.CreateProjectRequest{Name: "tw", SourceEndpointID: ids[0], SinkEndpointID: ids[1],
		TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "app", Table: "*"}}},
		TwoWay: &api.TwoWaySettings{DefaultConflictPolicy: api.ConflictRule{Policy: "lww", Column: "ver", MaxSkewMs: 500},
			OtherRegionDDL: map[string]string{"index": "apply"}}})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := s.loadSpec(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	src, err := s.endpoint(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := s.endpoint(ctx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if tw := incrTwoWay(spec, src, dst); tw.OtherDDL["index"] != "apply" || tw.Conflicts.Default.MaxSkewMs != 500 {
		t.Fatalf("the Incr-Sync's two-way config misses the settings: %+v", tw)
	}
	if err := s.measureSkew(ctx, p.ID, spec, src, dst); err != nil {
		t.Fatal(err)
	}
	sk, _, ok, err := bidir.ReadSkew(ctx, insts[1].DB(), "", "r1", "r2")
	if err != nil || !ok || sk.Abs() > 5*time.Second {
		t.Fatalf("the skew recorded on the target: %+v %v %v (two servers on one host)", sk, ok, err)
	}
	if d, _ := s.Describe(ctx, p.ID); d.TwoWay == nil || d.TwoWay.ClockSkewSeconds == nil {
		t.Fatalf("Describe shows no clock skew: %+v", d.TwoWay)
	}

	// a conflict recorded as a stop, then decided by the resumed direction
	tdb := insts[1].DB()
	if _, err := tdb.ExecContext(ctx, incrsync.ConflictTableDDL(bidir.DefaultSchema)); err != nil {
		t.Fatal(err)
	}
	incrID := TaskID(p.ID, task.KindIncrSync)
	if _, err := tdb.ExecContext(ctx, "INSERT INTO __oms.incr_conflict (task_id, gtid, row_no, table_name, kind, row_key, source_region, target_region, source_commit_ts, policy, decision)"+
		" VALUES (?, '0-1-7', 0, 'app.t', 'insert_exists', '{\"id\":1}', 'r1', 'r2', 1, 'lww', 'stop')", incrID); err != nil {
		t.Fatal(err)
	}
	decision := func() (string, int) {
		t.Helper()
		if err := s.collectConflicts(ctx, p.ID, dst); err != nil {
			t.Fatal(err)
		}
		var d string
		var n int
		if err := m.DB.QueryRowContext(ctx, "SELECT MAX(decision), COUNT(*) FROM "+s.rm+".conflicts WHERE project_id = ?", p.ID).Scan(&d, &n); err != nil {
			t.Fatal(err)
		}
		return d, n
	}
	if d, n := decision(); d != "stop" || n != 1 {
		t.Fatalf("copied %d conflicts, decision %q; want 1, stop", n, d)
	}
	if _, err := tdb.ExecContext(ctx, "UPDATE __oms.incr_conflict SET decision = 'take_source', detected_at = CURRENT_TIMESTAMP(6) WHERE task_id = ?", incrID); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if d, n := decision(); d != "take_source" || n != 1 {
			t.Fatalf("after the decision: %d conflicts, decision %q; want 1, take_source", n, d)
		}
	}
}

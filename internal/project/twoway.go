package project

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/conflict"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/task"
)

// A two-way (active-active) project is a linked pair of projects: the forward one the user
// creates (schema, full copy, incremental sync, verification, source -> sink) and a reverse one
// created with it (incremental only, sink -> source). Each direction runs like any project
// (Store next to its source, Incr-Sync next to its target); the pair adds: each Store drops the
// echoes of the opposite Incr-Sync (bidir), each Incr-Sync decides conflicts by the pair's
// policies and takes DDL from one region only, the precheck refuses set-ups that would loop,
// and the clock skew between the regions and the conflicts are collected for Describe and
// ListProjectConflicts. The reverse direction waits for the forward full copy: its Store starts
// at the sink's position after the copy, so the copied rows are not sent back.

// Directions of a pair.
const (
	directionForward = "forward"
	directionReverse = "reverse"
)

// twoWaySpec is a pair member's part of the project spec.
type twoWaySpec struct {
	Settings  api.TwoWaySettings `json:"settings"`
	Direction string             `json:"direction"`
	PeerID    string             `json:"peerId"`
}

// twoWayIncrConfig is internal/incrsync's TwoWayConfig.
type twoWayIncrConfig struct {
	SourceRegion string            `json:"source_region"`
	TargetRegion string            `json:"target_region"`
	DDLRegion    string            `json:"ddl_region"`
	OtherDDL     map[string]string `json:"other_region_ddl,omitempty"`
	Conflicts    conflict.Config   `json:"conflicts"`
}

// conflictConfig is the pair's conflict handling in the conflict package's terms.
func (t *twoWaySpec) conflictConfig() conflict.Config {
	c := conflict.Config{Default: conflict.Rule(t.Settings.DefaultConflictPolicy), Priority: t.Settings.Priority, Tables: map[string]conflict.Rule{}}
	for k, r := range t.Settings.ConflictPolicies {
		c.Tables[k] = conflict.Rule(r)
	}
	return c
}

// validateTwoWay checks two-way settings against the endpoints and fills their defaults.
func validateTwoWay(r api.CreateProjectRequest, src, dst Endpoint, spec *projectSpec) error {
	bad := func(msg, advice string) error { return omserr.New(omserr.TwoWayConfigInvalid, "twoWay: "+msg, advice) }
	tw := *r.TwoWay
	if src.Region == dst.Region {
		return bad(fmt.Sprintf("source %s and sink %s are both in region %s", src.Name, dst.Name, src.Region),
			"a two-way project joins data sources of two regions (the data source's region)")
	}
	if !spec.EnableIncr {
		return bad("incremental transfer is off", "enable enableIncrTransfer: two-way sync is incremental in both directions")
	}
	for _, m := range [][]api.TableRule{spec.Mapping.Tables, spec.Mapping.Exclude} {
		for _, t := range m {
			if t.RenameDB != "" || t.RenameTable != "" || t.Where != "" || len(t.Columns) > 0 {
				return bad(fmt.Sprintf("the rule for %s.%s renames, filters rows or selects columns", t.DB, t.Table),
					"a two-way pair keeps the same databases, tables, rows and columns on both sides: remove renameDb, renameTable, where and columns")
			}
		}
	}
	if tw.DDLRegion == "" {
		tw.DDLRegion = src.Region
	}
	if tw.DDLRegion != src.Region && tw.DDLRegion != dst.Region {
		return bad(fmt.Sprintf("ddlRegion %q is neither %s nor %s", tw.DDLRegion, src.Region, dst.Region), "name the region whose DDL both directions replicate")
	}
	if _, err := ddl.CompileStopPolicy(tw.OtherRegionDDL); err != nil {
		return bad("otherRegionDdl: "+err.Error(), "name classes table, index, database, view, routine, trigger, event or sequence, each apply, skip or stop")
	}
	if len(tw.Priority) == 0 {
		tw.Priority = []string{tw.DDLRegion, map[bool]string{true: dst.Region, false: src.Region}[tw.DDLRegion == src.Region]}
	}
	if len(tw.Priority) != 2 || !slices.Contains(tw.Priority, src.Region) || !slices.Contains(tw.Priority, dst.Region) || tw.Priority[0] == tw.Priority[1] {
		return bad(fmt.Sprintf("priority %v must list regions %s and %s, highest first", tw.Priority, src.Region, dst.Region), "list both regions once")
	}
	spec.TwoWay = &twoWaySpec{Settings: tw, Direction: directionForward}
	if err := spec.TwoWay.conflictConfig().Check(); err != nil {
		return bad(err.Error(), "use policies stop, ignore, overwrite, priority or lww (with column)")
	}
	return nil
}

// insertReverse stores the reverse project of a forward two-way project (in the creating
// transaction) and links the two.
func (s *Service) insertReverse(ctx context.Context, tx *sql.Tx, forwardID, name string, r api.CreateProjectRequest, fwd projectSpec) error {
	rev := projectSpec{Mapping: fwd.Mapping, EnableIncr: true, DDLPolicy: fwd.DDLPolicy,
		TwoWay: &twoWaySpec{Settings: fwd.TwoWay.Settings, Direction: directionReverse, PeerID: forwardID}}
	raw, _ := json.Marshal(rev)
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.rm+".projects (id, name, state, source_id, target_id, spec) VALUES (?,?,?,?,?,?)",
		fwd.TwoWay.PeerID, name+"-reverse", api.StateInit, r.SinkEndpointID, r.SourceEndpointID, raw); err != nil {
		return fmt.Errorf("insert the reverse project: %w", err)
	}
	return s.insertSteps(ctx, tx, fwd.TwoWay.PeerID, rev)
}

// peerOf returns the other project of a pair ("" for a one-way project).
func (s *Service) peerOf(ctx context.Context, id string) string {
	spec, err := s.loadSpec(ctx, id)
	if err != nil || spec.TwoWay == nil {
		return ""
	}
	return spec.TwoWay.PeerID
}

// alsoPeer runs a lifecycle verb on the other project of a pair, so start, stop, resume and
// release act on both directions; a peer already in the wanted state is not an error.
func (s *Service) alsoPeer(ctx context.Context, id string, verb func(context.Context, string) error) error {
	peer := s.peerOf(ctx, id)
	if peer == "" {
		return nil
	}
	if err := verb(ctx, peer); err != nil && omserr.CodeOf(err) != omserr.APIStateConflict {
		return fmt.Errorf("the other direction %s: %w", peer, err)
	}
	return nil
}

// reverseWaits says why the reverse project of a pair cannot advance yet ("" = it can): it
// starts once the forward project's copy is done, so the sink has the tables and the copied
// rows are before the reverse Store's start.
func (s *Service) reverseWaits(ctx context.Context, spec projectSpec) string {
	if spec.TwoWay == nil || spec.TwoWay.Direction != directionReverse {
		return ""
	}
	if st := s.stepStatus(ctx, spec.TwoWay.PeerID, api.StepFull); st != api.StepFinished && st != api.StepSkipped {
		return "waiting for the forward project " + spec.TwoWay.PeerID + " to finish its full copy"
	}
	return ""
}

// twoWayChecks are the pair's precheck items: the set-ups that would loop are refused.
func twoWayChecks(ctx context.Context, sdb, tdb *sql.DB, src, dst Endpoint, spec projectSpec) CheckResult {
	if spec.TwoWay == nil {
		return nil
	}
	bad, err := bidir.Precheck(ctx, bidir.Side{Region: src.Region, Addr: src.Addr(), DB: sdb}, bidir.Side{Region: dst.Region, Addr: dst.Addr(), DB: tdb}, "")
	if err != nil {
		return CheckResult{{Name: "TWO_WAY", Side: "both", Message: "cannot check the pair: " + err.Error(), Advice: "check that this node reaches both databases"}}
	}
	if len(bad) == 0 {
		return CheckResult{{Name: "TWO_WAY", Side: "both", OK: true, Message: "two servers with their own server_id, oms's marker schema in both binlogs"}}
	}
	var out CheckResult
	for _, e := range bad {
		out = append(out, CheckItem{Name: "TWO_WAY", Side: "both", Message: e.Code + ": " + e.Message, Advice: e.Advice})
	}
	return out
}

// echoTasks are the Incr-Sync tasks whose applied transactions a project's Store drops.
func echoTasks(spec projectSpec) []string {
	if spec.TwoWay == nil {
		return nil
	}
	return []string{TaskID(spec.TwoWay.PeerID, task.KindIncrSync)}
}

// incrTwoWay is the two-way part of a project's Incr-Sync config (nil for one-way).
func incrTwoWay(spec projectSpec, src, dst Endpoint) *twoWayIncrConfig {
	if spec.TwoWay == nil {
		return nil
	}
	return &twoWayIncrConfig{SourceRegion: src.Region, TargetRegion: dst.Region, DDLRegion: spec.TwoWay.Settings.DDLRegion,
		OtherDDL: spec.TwoWay.Settings.OtherRegionDDL, Conflicts: spec.TwoWay.conflictConfig()}
}

// twoWayChores is what the orchestrator does for a running pair member besides its steps: it
// measures the clock skew of the two regions (every skewEvery) and copies the conflicts its
// Incr-Sync recorded on the target into the MetaDB.
func (s *Service) twoWayChores(ctx context.Context, id string, spec projectSpec, src, dst Endpoint) {
	if spec.TwoWay == nil {
		return
	}
	if s.due(id+"/skew", skewEvery) {
		if err := s.measureSkew(ctx, id, spec, src, dst); err != nil {
			s.log.Warn("cannot measure the clock skew of a two-way pair", "project", id, "err", err)
		}
	}
	if s.due(id+"/conflicts", collectEvery) {
		if err := s.collectConflicts(ctx, id, dst); err != nil {
			s.log.Warn("cannot collect the conflicts of a two-way project", "project", id, "err", err)
		}
	}
}

// How often the chores run (per project, on the orchestrating node).
const (
	skewEvery    = 30 * time.Second
	collectEvery = 5 * time.Second
)

var chores = struct {
	sync.Mutex
	last map[string]time.Time
}{last: map[string]time.Time{}}

// due reports whether a chore last ran more than every ago, and marks it run.
func (s *Service) due(key string, every time.Duration) bool {
	chores.Lock()
	defer chores.Unlock()
	if time.Since(chores.last[key]) < every {
		return false
	}
	chores.last[key] = time.Now()
	return true
}

// skewRecord is the runtime fact "clockSkew" of a project.
type skewRecord struct {
	bidir.Skew
	At time.Time `json:"at"`
}

// measureSkew measures the clock skew of a pair member's regions for Describe and, when an lww
// rule bounds it, records it on the target for the Incr-Sync.
func (s *Service) measureSkew(ctx context.Context, id string, spec projectSpec, src, dst Endpoint) error {
	sdb, err := openEndpoint(ctx, src)
	if err != nil {
		return err
	}
	defer sdb.Close()
	tdb, err := openEndpoint(ctx, dst)
	if err != nil {
		return err
	}
	defer tdb.Close()
	sk, err := bidir.MeasureSkew(ctx, sdb, tdb)
	if err != nil {
		return err
	}
	if bound := spec.TwoWay.conflictConfig().SkewBound(); bound > 0 {
		// the direction's Incr-Sync reads it on the target when lww meets a conflict
		if err := bidir.RecordSkew(ctx, tdb, "", src.Region, dst.Region, sk); err != nil {
			return err
		}
		if sk.Abs() > bound {
			s.log.Warn("the clock skew between the regions of a two-way project is over an lww rule's maxSkewMs: conflicts lww would decide by the timestamps stop the direction (TWOWAY_CLOCK_SKEW); synchronise the servers' clocks",
				"project", id, "source_region", src.Region, "target_region", dst.Region, "skew_seconds", sk.Seconds, "uncertainty_seconds", sk.Uncertainty, "bound", bound)
		}
	}
	raw, _ := json.Marshal(skewRecord{Skew: sk, At: time.Now().UTC()})
	return s.setRuntime(ctx, id, "clockSkew", string(raw))
}

// collectConflicts copies the conflicts of the project's Incr-Sync from the target's
// incr_conflict table into rm.conflicts: one row per (project, task, gtid, row) however often it
// is copied, updated when the target's changed (a stop that a resumed direction decided, with
// the decision's time); it re-reads the last minutes so a transaction that committed late is not
// missed.
func (s *Service) collectConflicts(ctx context.Context, id string, dst Endpoint) error {
	incrID := TaskID(id, task.KindIncrSync)
	var since sql.NullFloat64
	if err := s.db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(MAX(detected_at)) - 600 FROM "+s.rm+".conflicts WHERE project_id = ? AND task_id = ?", id, incrID).Scan(&since); err != nil {
		return fmt.Errorf("read the conflict watermark: %w", err)
	}
	tdb, err := openEndpoint(ctx, dst)
	if err != nil {
		return err
	}
	defer tdb.Close()
	rows, err := tdb.QueryContext(ctx, "SELECT gtid, row_no, table_name, kind, row_key, source_image, target_image, source_region, target_region,"+
		" source_commit_ts, target_version, policy, decision, UNIX_TIMESTAMP(detected_at) FROM `"+bidir.DefaultSchema+"`.`incr_conflict`"+
		" WHERE task_id = ? AND detected_at >= FROM_UNIXTIME(?) ORDER BY detected_at LIMIT 50000", incrID, since.Float64)
	if err != nil {
		if me := mysqlconn.ErrNumber(err); me == 1146 || me == 1049 {
			return nil // no conflict table yet: Incr-Sync has not started
		}
		return fmt.Errorf("read conflicts on the target: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c api.Conflict
		var src, tgt, ver sql.NullString
		var commit int64
		var detected float64
		if err := rows.Scan(&c.GTID, &c.RowNo, &c.Table, &c.Kind, &c.Key, &src, &tgt, &c.SourceRegion, &c.TargetRegion, &commit, &ver, &c.Policy, &c.Decision, &detected); err != nil {
			return fmt.Errorf("read conflicts on the target: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, "INSERT INTO "+s.rm+".conflicts (project_id, task_id, gtid, row_no, table_name, kind, row_key, source_image, target_image,"+
			" source_region, target_region, source_commit_at, target_version, policy, decision, detected_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,FROM_UNIXTIME(?),?,?,?,FROM_UNIXTIME(?))"+
			" ON DUPLICATE KEY UPDATE kind = VALUES(kind), target_image = VALUES(target_image), target_version = VALUES(target_version),"+
			" policy = VALUES(policy), decision = VALUES(decision), detected_at = VALUES(detected_at)",
			id, incrID, c.GTID, c.RowNo, c.Table, c.Kind, c.Key, src, tgt, c.SourceRegion, c.TargetRegion, commit, ver, c.Policy, c.Decision, detected); err != nil {
			return fmt.Errorf("record conflict: %w", err)
		}
	}
	return rows.Err()
}

// ListConflicts returns a page of the conflicts of a project and of its peer, newest first. It
// copies what the targets recorded since the last copy first, so the answer is current.
func (s *Service) ListConflicts(ctx context.Context, r api.ListProjectConflictsRequest) ([]api.Conflict, error) {
	p, err := s.Describe(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if p.TwoWay == nil {
		return nil, omserr.New(omserr.APIInvalidArgument, "project "+r.ID+" is not a two-way project", "conflicts exist only in two-way projects (twoWay in the project file)")
	}
	ids := []string{p.ID, p.TwoWay.PeerID}
	for _, id := range ids {
		if err := s.collectNow(ctx, id); err != nil {
			s.log.Warn("cannot collect conflicts", "project", id, "err", err)
		}
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	before := time.Now().Add(time.Hour)
	if r.Before != nil {
		before = *r.Before
	}
	rows, err := s.db.QueryContext(ctx, "SELECT project_id, task_id, gtid, row_no, table_name, kind, row_key, COALESCE(source_image, ''), COALESCE(target_image, ''),"+
		" source_region, target_region, source_commit_at, COALESCE(target_version, ''), policy, decision, detected_at FROM "+s.rm+".conflicts"+
		" WHERE project_id IN (?, ?) AND detected_at < ? ORDER BY detected_at DESC, gtid, row_no LIMIT ?", ids[0], ids[1], before.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	defer rows.Close()
	out := []api.Conflict{}
	for rows.Next() {
		var c api.Conflict
		if err := rows.Scan(&c.ProjectID, &c.TaskID, &c.GTID, &c.RowNo, &c.Table, &c.Kind, &c.Key, &c.SourceImage, &c.TargetImage, &c.SourceRegion, &c.TargetRegion,
			&c.SourceCommit, &c.TargetVersion, &c.Policy, &c.Decision, &c.DetectedAt); err != nil {
			return nil, fmt.Errorf("list conflicts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// collectNow copies a pair member's conflicts from its target.
func (s *Service) collectNow(ctx context.Context, id string) error {
	var target string
	if err := s.db.QueryRowContext(ctx, "SELECT target_id FROM "+s.rm+".projects WHERE id = ?", id).Scan(&target); err != nil {
		return err
	}
	dst, err := s.endpoint(ctx, target)
	if err != nil {
		return err
	}
	return s.collectConflicts(ctx, id, dst)
}

// describeTwoWay fills what Describe shows of a pair member beyond its spec: the clock skew
// last measured and the number of conflicts recorded.
func (s *Service) describeTwoWay(ctx context.Context, p *api.Project, spec projectSpec) {
	if spec.TwoWay == nil {
		return
	}
	info := &api.TwoWayInfo{Settings: spec.TwoWay.Settings, Direction: spec.TwoWay.Direction, PeerID: spec.TwoWay.PeerID}
	if src, err := s.endpoint(ctx, p.SourceEndpointID); err == nil {
		info.SourceRegion = src.Region
	}
	if dst, err := s.endpoint(ctx, p.SinkEndpointID); err == nil {
		info.TargetRegion = dst.Region
	}
	if raw, _ := s.runtime(ctx, p.ID, "clockSkew"); raw != "" {
		var sk skewRecord
		if json.Unmarshal([]byte(raw), &sk) == nil {
			info.ClockSkewSeconds, info.ClockSkewUncertainty, info.ClockSkewMeasuredAt = &sk.Seconds, sk.Uncertainty, &sk.At
		}
	}
	_ = s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.rm+".conflicts WHERE project_id = ?", p.ID).Scan(&info.Conflicts)
	p.TwoWay = info
}

package project

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/task"
)

// CaughtUpLagSeconds is the Incr-Sync lag under which INCR_TRANSFER counts as caught up
// (MONITORING) and full verification may start.
const CaughtUpLagSeconds = 10

// Reconcile advances every RUNNING and RELEASING project one step where it can; a steady RUNNING
// project that nothing happened to only every steadyEvery. Only the CM leader calls it (the
// orchestrator lease), so there is one writer of project and step rows.
func (s *Service) Reconcile(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+projectCols+" FROM "+s.rm+".projects WHERE state IN ('RUNNING','RELEASING','SUSPEND','FAILED')")
	if err != nil {
		return fmt.Errorf("reconcile: list projects: %w", err)
	}
	var ps []api.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("reconcile: %w", err)
		}
		ps = append(ps, p)
	}
	rows.Close()
	steps, steady, err := s.stepDigests(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	placed, err := s.tasks.Placements(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	now := time.Now()
	running := map[string]bool{}
	var errs []error
	for _, p := range ps {
		var err error
		switch p.Status {
		case api.StateRunning:
			running[p.ID] = true
			digest := p.UpdatedAt.String() + "|" + steps[p.ID] + "|" + placed[p.ID]
			if s.steady.skip(p, steady[p.ID], digest, now) {
				continue
			}
			if err = s.advance(ctx, p); err == nil {
				s.steady.advanced(p.ID, digest, now)
			}
		case api.StateReleasing:
			err = s.finishRelease(ctx, p.ID)
		case api.StateSuspend:
			err = s.markSuspended(ctx, p.ID)
		case api.StateFailed:
			err = s.finishSwitch(ctx, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.ID, err))
		}
	}
	s.steady.forget(running)
	return errors.Join(errs...)
}

func (s *Service) markSuspended(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".project_steps SET status = ? WHERE project_id = ? AND status IN (?, ?)", api.StepSuspend, id, api.StepRunning, api.StepMonitoring)
	return err
}

func (s *Service) finishRelease(ctx context.Context, id string) error {
	open, err := s.tasks.CountPlacedUnreleased(ctx, id)
	if err != nil || open > 0 {
		return err
	}
	if err := s.tasks.DeleteProject(ctx, id); err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET state = ? WHERE id = ? AND state = ?", api.StateReleased, id, api.StateReleasing)
	return err
}

// stepUpdate writes one step's status, progress, metrics and message.
func (s *Service) stepUpdate(ctx context.Context, id, step, status string, progress float64, metrics map[string]float64, msg string) error {
	var m any
	if metrics != nil {
		raw, _ := json.Marshal(metrics)
		m = string(raw)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE `+s.rm+`.project_steps SET status = ?, progress = ?, metrics = COALESCE(?, metrics), message = ?,
		started_at = COALESCE(started_at, IF(? IN ('RUNNING','MONITORING','FINISHED','FAILED'), NOW(6), NULL)),
		finished_at = IF(? = 'FINISHED', COALESCE(finished_at, NOW(6)), NULL)
		WHERE project_id = ? AND step = ?`, status, progress, m, msg, status, status, id, step)
	if err != nil {
		return fmt.Errorf("update step %s: %w", step, err)
	}
	return nil
}

func (s *Service) failProject(ctx context.Context, id, step, code, msg string) error {
	if err := s.stepUpdate(ctx, id, step, api.StepFailed, 0, nil, msg); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET state = ?, error_code = ?, error_message = ? WHERE id = ? AND state = ?", api.StateFailed, code, msg, id, api.StateRunning)
	if err == nil {
		s.log.Warn("project failed", "project", id, "step", step, "code", code, "message", msg)
	}
	return err
}

func (s *Service) loadSpec(ctx context.Context, id string) (projectSpec, error) {
	var raw []byte
	var spec projectSpec
	if err := s.db.QueryRowContext(ctx, "SELECT spec FROM "+s.rm+".projects WHERE id = ?", id).Scan(&raw); err != nil {
		return spec, fmt.Errorf("read project spec: %w", err)
	}
	return spec, json.Unmarshal(raw, &spec)
}

// setRuntime records orchestrator facts in the project spec JSON.
func (s *Service) setRuntime(ctx context.Context, id, key, value string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET spec = JSON_SET(spec, ?, ?) WHERE id = ?", "$."+key, value, id)
	return err
}

func (s *Service) runtime(ctx context.Context, id, key string) (string, error) {
	var v sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT JSON_UNQUOTE(JSON_EXTRACT(spec, ?)) FROM "+s.rm+".projects WHERE id = ?", "$."+key, id).Scan(&v)
	if v.String == "null" {
		v.String = ""
	}
	return v.String, err
}

// TaskID names a project's task of a kind.
func TaskID(projectID, kind string) string { return projectID + "-" + kind }

func done(status string) bool {
	return status == api.StepFinished || status == api.StepSkipped || status == api.StepMonitoring
}

// stepMap is a project's steps by name.
func (s *Service) stepMap(ctx context.Context, id string) (map[string]api.Step, error) {
	steps, err := s.steps(ctx, id)
	if err != nil {
		return nil, err
	}
	st := map[string]api.Step{}
	for _, x := range steps {
		st[x.Name] = x
	}
	return st, nil
}

// endpoints are a project's source and sink with their passwords.
func (s *Service) endpoints(ctx context.Context, p api.Project) (src, dst Endpoint, err error) {
	if src, err = s.endpoint(ctx, p.SourceEndpointID); err != nil {
		return src, dst, err
	}
	dst, err = s.endpoint(ctx, p.SinkEndpointID)
	return src, dst, err
}

func (s *Service) advance(ctx context.Context, p api.Project) (err error) {
	st, err := s.stepMap(ctx, p.ID)
	if err != nil {
		return err
	}
	spec, err := s.loadSpec(ctx, p.ID)
	if err != nil {
		return err
	}
	src, dst, err := s.endpoints(ctx, p)
	if err != nil {
		return s.failProject(ctx, p.ID, api.StepPrecheck, omserr.CodeOf(err), err.Error())
	}
	sw, err := s.loadSwitch(ctx, p.ID)
	if err != nil {
		return err
	}
	if sw != nil && (sw.Generation > 0 || sw.HandedOver) {
		return s.advanceSwitch(ctx, p, st, spec, src, dst, sw)
	}
	if sw != nil && sw.InProgress {
		// The old direction (generation 0) is followed as before while the switch goes on; an
		// early return there must not hold the switch up.
		defer func() {
			if err == nil {
				err = s.advanceSwitch(ctx, p, st, spec, src, dst, sw)
			}
		}()
	}
	sel := SelectionConfig(spec.Mapping)
	if why := s.reverseWaits(ctx, spec); why != "" {
		return s.stepUpdate(ctx, p.ID, api.StepPrecheck, api.StepPending, 0, nil, why)
	}
	s.twoWayChores(ctx, p.ID, spec, src, dst)
	// Suspended steps of a resumed project run again.
	for name, x := range st {
		if x.Status == api.StepSuspend {
			x.Status = api.StepRunning
			st[name] = x
		}
	}

	// TRANSFER_PRECHECK
	if x := st[api.StepPrecheck]; !done(x.Status) {
		_ = s.stepUpdate(ctx, p.ID, api.StepPrecheck, api.StepRunning, 0, nil, "")
		res := Precheck(ctx, src, dst, sel, spec)
		if failed := res.Failed(); len(failed) > 0 {
			msgs := make([]string, len(failed))
			for i, f := range failed {
				msgs[i] = f.String()
			}
			return s.failProject(ctx, p.ID, api.StepPrecheck, omserr.PrecheckFailed, strings.Join(msgs, "; "))
		}
		return s.stepUpdate(ctx, p.ID, api.StepPrecheck, api.StepFinished, 100, map[string]float64{"items_passed": float64(len(res))}, res.Summary())
	}

	// TRANSFER_INCR_LOG_PULL: the Store starts before the copy so the binlog it needs is ours.
	if x := st[api.StepIncrLogPull]; x.Status != api.StepSkipped {
		// The incremental start position is taken once, before the Store is created: the Store
		// captures from it and Incr-Sync applies from it; the copy starts after the Store runs.
		start, _ := s.runtime(ctx, p.ID, "startGtid")
		flavor, _ := s.runtime(ctx, p.ID, "flavor")
		if flavor == "" {
			pos, fl, err := sourceGTID(ctx, src)
			if err != nil {
				return s.failProject(ctx, p.ID, api.StepIncrLogPull, omserr.IncrSourcePosition, "cannot read the source's GTID position: "+err.Error())
			}
			if err := s.setRuntime(ctx, p.ID, "startGtid", pos); err != nil {
				return err
			}
			if err := s.setRuntime(ctx, p.ID, "flavor", fl); err != nil {
				return err
			}
			start, flavor = pos, fl
		}
		storeID := TaskID(p.ID, task.KindStore)
		cfg := storeConfig{Source: storeSource{Config: s.conn(src), Flavor: flavor}, Start: storeStart{GTIDSet: start}, Heartbeat: true, EchoTasks: echoTasks(spec)}
		if err := s.tasks.Ensure(ctx, storeID, p.ID, task.KindStore, src.Region, cfg); err != nil {
			return err
		}
		t, _, err := s.tasks.Get(ctx, storeID)
		if err != nil {
			return err
		}
		if t.State == task.Failed {
			return s.failProject(ctx, p.ID, api.StepIncrLogPull, taskErrCode(t), "store failed: "+taskErrMsg(t))
		}
		if t.State != task.Running || t.Addr == "" {
			return s.stepUpdate(ctx, p.ID, api.StepIncrLogPull, api.StepRunning, 0, nil, "waiting for the store on "+orNone(t.Host))
		}
		if why := trouble(t); why != "" {
			if err := s.stepUpdate(ctx, p.ID, api.StepIncrLogPull, api.StepRunning, 0, statusMetrics(t), "store on "+t.Host+" is not healthy: "+why); err != nil {
				return err
			}
		} else if err := s.stepUpdate(ctx, p.ID, api.StepIncrLogPull, api.StepMonitoring, 100, statusMetrics(t), "store on "+t.Host+" at "+t.Addr); err != nil {
			return err
		}
	}

	// STRUCT_TRANSFER, FULL_TRANSFER, INDEX_TRANSFER: the full-import component creates the
	// schema, copies the rows and adds the deferred indexes.
	if x := st[api.StepFull]; x.Status != api.StepSkipped && !done(x.Status) {
		fullID := TaskID(p.ID, task.KindFullImport)
		cfg := fullImportConfig{Source: s.conn(src), Target: s.conn(dst), Selection: sel, SkipSchema: !spec.EnableStruct}
		if err := s.tasks.Ensure(ctx, fullID, p.ID, task.KindFullImport, dst.Region, cfg); err != nil {
			return err
		}
		t, _, err := s.tasks.Get(ctx, fullID)
		if err != nil {
			return err
		}
		return s.fullSteps(ctx, p.ID, st, t, src)
	}

	// INCR_TRANSFER
	if x := st[api.StepIncr]; x.Status != api.StepSkipped {
		if err := s.incrStep(ctx, p.ID, src, dst); err != nil || !done(s.stepStatus(ctx, p.ID, api.StepIncr)) {
			return err
		}
	}

	// FULL_VERIFIER
	if x := st[api.StepFullVerifier]; x.Status != api.StepSkipped && x.Status != api.StepFinished {
		id := TaskID(p.ID, task.KindFullVerify)
		if err := s.tasks.Ensure(ctx, id, p.ID, task.KindFullVerify, dst.Region, verifyConfig{Source: s.conn(src), Target: s.conn(dst), Selection: sel}); err != nil {
			return err
		}
		t, _, err := s.tasks.Get(ctx, id)
		if err != nil {
			return err
		}
		m := statusMetrics(t)
		diffs := m["rows_only_in_source"] + m["rows_only_in_target"] + m["rows_different"]
		m["differences"] = diffs
		switch t.State {
		case task.Failed:
			return s.failProject(ctx, p.ID, api.StepFullVerifier, taskErrCode(t), "full-verify failed: "+taskErrMsg(t))
		case task.Finished:
			msg := "source and target are identical"
			var parts []string
			if diffs > 0 {
				parts = append(parts, fmt.Sprintf("%.0f rows differ", diffs))
			}
			if n := m["tables_schema_different"]; n > 0 {
				parts = append(parts, fmt.Sprintf("the definitions of %.0f tables differ", n))
			}
			if len(parts) > 0 {
				msg = strings.Join(parts, " and ") + "; see DescribeVerificationResult (per-table counts) and DownloadVerificationFixSQL, or the report in the full-verify work dir on " + t.Host
			}
			return s.stepUpdate(ctx, p.ID, api.StepFullVerifier, api.StepFinished, 100, m, msg)
		}
		return s.stepUpdate(ctx, p.ID, api.StepFullVerifier, api.StepRunning, pct(t), m, "verifying on "+orNone(t.Host))
	}
	if !spec.EnableIncr {
		_, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET state = ? WHERE id = ? AND state = ?", api.StateFinished, p.ID, api.StateRunning)
		return err
	}
	return nil
}

func (s *Service) stepStatus(ctx context.Context, id, step string) string {
	var v string
	_ = s.db.QueryRowContext(ctx, "SELECT status FROM "+s.rm+".project_steps WHERE project_id = ? AND step = ?", id, step).Scan(&v)
	return v
}

func (s *Service) fullSteps(ctx context.Context, id string, st map[string]api.Step, t task.Task, src Endpoint) error {
	m := statusMetrics(t)
	progress := pct(t)
	if t.State == task.Failed {
		return s.failProject(ctx, id, api.StepFull, taskErrCode(t), "full-import failed: "+taskErrMsg(t))
	}
	structOn := st[api.StepStruct].Status != api.StepSkipped
	indexOn := st[api.StepIndex].Status != api.StepSkipped
	if t.State != task.Finished {
		msg := "full import on " + orNone(t.Host)
		if structOn {
			ss := api.StepRunning
			if t.Status != nil && t.Status.Progress != nil && t.Status.Progress.RowsTotal > 0 {
				ss = api.StepFinished
			}
			_ = s.stepUpdate(ctx, id, api.StepStruct, ss, map[bool]float64{true: 100}[ss == api.StepFinished], nil, "schema by full-import on "+orNone(t.Host))
		}
		return s.stepUpdate(ctx, id, api.StepFull, api.StepRunning, progress, m, msg)
	}
	// The copy is complete: transactions up to here are applied idempotently by Incr-Sync.
	if after, _ := s.runtime(ctx, id, "strictAfter"); after == "" {
		pos, _, err := sourceGTID(ctx, src)
		if err != nil {
			return fmt.Errorf("read source position after full copy: %w", err)
		}
		if err := s.setRuntime(ctx, id, "strictAfter", pos); err != nil {
			return err
		}
	}
	if structOn {
		_ = s.stepUpdate(ctx, id, api.StepStruct, api.StepFinished, 100, nil, "schema created by full-import")
	}
	if indexOn {
		_ = s.stepUpdate(ctx, id, api.StepIndex, api.StepFinished, 100, nil, "deferred indexes created by full-import")
	}
	return s.stepUpdate(ctx, id, api.StepFull, api.StepFinished, 100, m, "copied")
}

func (s *Service) incrStep(ctx context.Context, id string, src, dst Endpoint) error {
	storeT, ok, err := s.tasks.Get(ctx, TaskID(id, task.KindStore))
	if err != nil || !ok {
		return err
	}
	start, _ := s.runtime(ctx, id, "startGtid")
	after, _ := s.runtime(ctx, id, "strictAfter")
	flavor, _ := s.runtime(ctx, id, "flavor")
	spec, err := s.loadSpec(ctx, id)
	if err != nil {
		return err
	}
	cfg := incrSyncConfig{StoreAddr: storeT.Addr, Target: s.conn(dst), Selection: SelectionConfig(spec.Mapping), StartGTID: start, StrictAfter: after, Flavor: flavor, DDLPolicy: spec.DDLPolicy, SkipGTIDs: spec.SkipGTIDs,
		TwoWay: incrTwoWay(spec, src, dst)}
	incrID := TaskID(id, task.KindIncrSync)
	if err := s.tasks.Ensure(ctx, incrID, id, task.KindIncrSync, dst.Region, cfg); err != nil {
		return err
	}
	t, _, err := s.tasks.Get(ctx, incrID)
	if err != nil {
		return err
	}
	// The Store moved (failover in the source region), or the operator skipped events
	// (SkipEvents): point Incr-Sync at them.
	if err := s.followStore(ctx, t, storeT.Addr, spec.SkipGTIDs); err != nil {
		return err
	}
	m := statusMetrics(t)
	if t.Status != nil {
		m["lag_seconds"] = t.Status.LagSeconds
	}
	if t.State == task.Failed {
		return s.failProject(ctx, id, api.StepIncr, taskErrCode(t), "incr-sync failed: "+taskErrMsg(t))
	}
	status, progress, msg := incrStatus(storeT, t, flavor, after)
	return s.stepUpdate(ctx, id, api.StepIncr, status, progress, m, msg)
}

// incrStatus is INCR_TRANSFER's status from its Store and Incr-Sync tasks: "caught up"
// (MONITORING) only while both run without an error or a recent crash and Incr-Sync is past the
// copy with a small lag; otherwise RUNNING, with the error and its advice when there is one.
func incrStatus(storeT, incrT task.Task, flavor, after string) (status string, progress float64, msg string) {
	for _, x := range []struct {
		name string
		t    task.Task
	}{{"store", storeT}, {"incr-sync", incrT}} {
		if why := trouble(x.t); why != "" {
			return api.StepRunning, 0, x.name + " on " + orNone(x.t.Host) + " is not healthy: " + why
		}
	}
	t := incrT
	if t.State == task.Running && t.Status != nil && t.Status.State == component.StateRunning && t.Status.LagSeconds < CaughtUpLagSeconds && pastCopy(flavor, t.Status.Position, after) {
		return api.StepMonitoring, 100, fmt.Sprintf("caught up on %s (epoch %d)", t.Host, t.Epoch) // the lag is in the metrics
	}
	return api.StepRunning, 0, "incr-sync on " + orNone(t.Host)
}

// trouble says why a continuous component is not healthy ("" when it is): it reports an error,
// its supervisor restarted it after crashes, or it is not running.
func trouble(t task.Task) string {
	switch {
	case t.Status != nil && t.Status.Error != nil:
		e := t.Status.Error
		why := e.Code + ": " + e.Message
		if e.Advice != "" {
			why += " (" + e.Advice + ")"
		}
		if t.Restarts > 0 {
			why = fmt.Sprintf("restarted %d times; last error %s", t.Restarts, why)
		}
		return why
	case t.Restarts > 0:
		return fmt.Sprintf("restarted %d times after crashes; see component.log in its work dir", t.Restarts)
	case t.State != task.Running:
		return "it is " + strings.ToLower(string(t.State))
	}
	return ""
}

// pastCopy reports whether Incr-Sync's applied position contains the source position taken at the
// end of the full copy: only then can the target equal the source.
func pastCopy(flavor, applied, strictAfter string) bool {
	if strictAfter == "" {
		return true
	}
	a, err1 := binlog.ParseGTIDSet(flavor, applied)
	b, err2 := binlog.ParseGTIDSet(flavor, strictAfter)
	return err1 == nil && err2 == nil && a.ContainsSet(b)
}

func statusMetrics(t task.Task) map[string]float64 {
	m := map[string]float64{}
	if t.Status == nil {
		return m
	}
	for k, v := range t.Status.Metrics {
		m[k] = v
	}
	if pr := t.Status.Progress; pr != nil {
		m["rows_done"], m["rows_total"], m["rows_per_sec"] = float64(pr.RowsDone), float64(pr.RowsTotal), pr.RowsPerSec
	}
	return m
}

func pct(t task.Task) float64 {
	if t.State == task.Finished {
		return 100
	}
	if t.Status == nil || t.Status.Progress == nil || t.Status.Progress.RowsTotal <= 0 {
		return 0
	}
	return min(99, 100*float64(t.Status.Progress.RowsDone)/float64(t.Status.Progress.RowsTotal))
}

func taskErrCode(t task.Task) string {
	if t.Status != nil && t.Status.Error != nil {
		return t.Status.Error.Code
	}
	return omserr.ComponentFailed
}

func taskErrMsg(t task.Task) string {
	if t.Status != nil && t.Status.Error != nil {
		return t.Status.Error.Message + " (" + t.Status.Error.Advice + ")"
	}
	return "the component kept exiting; see component.log in its work dir on " + orNone(t.Host)
}

func orNone(h string) string {
	if h == "" {
		return "(not placed yet)"
	}
	return h
}

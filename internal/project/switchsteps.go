package project

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/fence"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// advanceSwitch runs one round of a project whose direction changed or is changing (switchover.go
// explains the steps): the next step of an operation in progress, then the running direction.
func (s *Service) advanceSwitch(ctx context.Context, p api.Project, st map[string]api.Step, spec projectSpec, src, dst Endpoint, sw *switchState) error {
	if sw.InProgress {
		if err := s.runSwitch(ctx, p, st, spec, src, dst, sw); err != nil || sw.InProgress {
			return err
		}
	}
	if sw.Generation == 0 {
		return nil // the project's own forward steps follow generation 0
	}
	_, replica := sides(sw.Generation, src, dst)
	return s.followGen(ctx, p.ID, sw.Generation, replica)
}

// finishSwitch drives the switch in progress of a FAILED project to its end (undone before the
// handover, finished after it): a failed component never leaves both sides read-only.
func (s *Service) finishSwitch(ctx context.Context, p api.Project) error {
	sw, err := s.loadSwitch(ctx, p.ID)
	if err != nil || sw == nil || !sw.InProgress {
		return err
	}
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
		return err
	}
	return s.runSwitch(ctx, p, st, spec, src, dst, sw)
}

// runSwitch runs switch steps one after the other in this round until one has to wait: the
// application's writes are stopped between the fence and the new primary being writable, so no
// step waits for the next round without a reason.
func (s *Service) runSwitch(ctx context.Context, p api.Project, st map[string]api.Step, spec projectSpec, src, dst Endpoint, sw *switchState) error {
	for range SwitchSteps {
		err := s.switchStep(ctx, p, st, spec, src, dst, sw)
		if err == errSwitchNotReady {
			return nil
		}
		if err != nil || !sw.InProgress {
			return err
		}
		fresh, err := s.stepMap(ctx, p.ID)
		if err != nil {
			return err
		}
		for k, v := range fresh {
			st[k] = v
		}
	}
	return nil
}

// briefWait is how long a switch step polls within one round (every briefPoll) for something
// that happens within seconds: the old direction applying up to the fence and stopping.
const (
	briefWait = 10 * time.Second
	briefPoll = 100 * time.Millisecond
)

// pollBriefly polls cond until it holds, fails, or briefWait passed.
func pollBriefly(ctx context.Context, cond func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(briefWait)
	for {
		ok, err := cond()
		if ok || err != nil || time.Now().After(deadline) {
			return ok, err
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(briefPoll):
		}
	}
}

// switchStep runs the first switch step not done; errSwitchNotReady when it has to wait.
func (s *Service) switchStep(ctx context.Context, p api.Project, st map[string]api.Step, spec projectSpec, src, dst Endpoint, sw *switchState) error {
	oldP, newP := sides(sw.Generation, src, dst)
	ng := sw.Generation + 1
	newStore, newIncr := TaskID(genPrefix(p.ID, ng), task.KindStore), TaskID(genPrefix(p.ID, ng), task.KindIncrSync)
	oldStore, oldIncr := TaskID(genPrefix(p.ID, sw.Generation), task.KindStore), TaskID(genPrefix(p.ID, sw.Generation), task.KindIncrSync)
	op := strings.ToLower(sw.Operation) + ": "
	retry := func(step string, err error) error { // after the handover: keep trying, say why
		_ = s.stepUpdate(ctx, p.ID, step, api.StepRunning, 0, nil, op+"retrying: "+err.Error())
		s.log.Warn("switch step failed; retrying", "project", p.ID, "step", step, "err", err)
		return errSwitchNotReady
	}

	// SWITCH_INCR_LOG_PULL: the new direction's Store, from the new primary's position now.
	if !done(st[api.StepSwitchLogPull].Status) {
		if sw.StoreStartGTID == "" {
			pos, flavor, err := sourceGTID(ctx, newP)
			if err != nil {
				return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepSwitchLogPull, "cannot read "+newP.Name+"'s GTID position: "+err.Error())
			}
			sw.StoreStartGTID, sw.Flavor = pos, flavor
			if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
				return err
			}
		}
		cfg := storeConfig{Source: storeSource{Config: s.conn(newP), Flavor: sw.Flavor}, Start: storeStart{GTIDSet: sw.StoreStartGTID}, Heartbeat: true}
		if err := s.tasks.Ensure(ctx, newStore, p.ID, task.KindStore, newP.Region, cfg); err != nil {
			return err
		}
		t, _, err := s.tasks.Get(ctx, newStore)
		if err != nil {
			return err
		}
		switch {
		case t.State == task.Failed:
			return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepSwitchLogPull, "store "+newStore+" failed: "+taskErrMsg(t))
		case t.State != task.Running || t.Addr == "":
			_ = s.stepUpdate(ctx, p.ID, api.StepSwitchLogPull, api.StepRunning, 0, nil, op+"waiting for store "+newStore+" on "+orNone(t.Host))
			return errSwitchNotReady
		}
		return s.stepUpdate(ctx, p.ID, api.StepSwitchLogPull, api.StepFinished, 100, nil,
			op+"store "+newStore+" on "+t.Host+" captures "+newP.Name+" from "+sw.StoreStartGTID)
	}

	// WRITE_FENCE
	if !done(st[api.StepWriteFence].Status) {
		if sw.FenceGTID == "" {
			if sw.Fence {
				// Both sides read-only until TRANSFER_APP_SWITCH: no application write reaches the
				// new primary before its start position is taken. Recorded first: an abort after a
				// crash clears what oms set.
				for _, e := range []Endpoint{newP, oldP} {
					if !slices.Contains(sw.ReadOnly, e.ID) {
						sw.ReadOnly = append(sw.ReadOnly, e.ID)
					}
				}
				if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
					return err
				}
				if err := setReadOnly(ctx, newP, true); err != nil {
					return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepWriteFence, err.Error())
				}
			}
			f, err := fenceWrites(ctx, oldP, sw.Fence, p.ID)
			if err != nil {
				return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepWriteFence, err.Error())
			}
			now := time.Now().UTC()
			sw.FenceGTID, sw.FencedAt, sw.Sessions = f.gtid, &now, f.sessions
			if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
				return err
			}
		}
		how := "the caller confirmed that writes stopped"
		if sw.Fence {
			how = "read_only=ON on " + oldP.Addr() + " and, until it is the primary, on " + newP.Addr()
		}
		msg := fmt.Sprintf("%s%s; fence at %s", op, how, sw.FenceGTID)
		if len(sw.Sessions) > 0 {
			msg += fmt.Sprintf("; %d sessions still connected: %s", len(sw.Sessions), strings.Join(sw.Sessions, ", "))
		}
		return s.stepUpdate(ctx, p.ID, api.StepWriteFence, api.StepFinished, 100, map[string]float64{"sessions": float64(len(sw.Sessions))}, msg)
	}

	// POSITION_HANDOVER: the old direction applies up to the fence, then stops.
	if !done(st[api.StepHandover].Status) {
		if !sw.HandedOver {
			var t task.Task
			var ok bool
			applied := ""
			drained, err := pollBriefly(ctx, func() (bool, error) {
				var err error
				if t, ok, err = s.tasks.Get(ctx, oldIncr); err != nil || !ok || t.State == task.Failed {
					return !ok || t.State == task.Failed, err // checked below
				}
				if t.Status != nil {
					applied = t.Status.Position
				}
				return containsGTIDs(sw.Flavor, applied, sw.FenceGTID), nil
			})
			if err != nil {
				return err
			}
			if !ok || t.State == task.Failed {
				return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepHandover, "incr-sync "+oldIncr+" failed: "+taskErrMsg(t))
			}
			if !drained {
				if sw.FencedAt != nil && time.Since(*sw.FencedAt) > HandoverTimeout {
					return s.abortSwitch(ctx, p.ID, sw, oldP, newP, api.StepHandover,
						fmt.Sprintf("incr-sync %s did not apply up to the fence %s within %s (applied %s)", oldIncr, sw.FenceGTID, HandoverTimeout, orDash(applied)))
				}
				_ = s.stepUpdate(ctx, p.ID, api.StepHandover, api.StepRunning, 0, nil, op+"waiting for "+oldIncr+" to apply up to "+sw.FenceGTID+" (applied "+orDash(applied)+")")
				return errSwitchNotReady
			}
			// Past this point the old direction is gone: every later step is retried, never undone.
			sw.HandedOver = true
			if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
				return err
			}
		}
		for _, id := range []string{oldIncr, oldStore} {
			if err := s.tasks.Release(ctx, id); err != nil {
				return err
			}
		}
		// The old Incr-Sync is the only oms writer of the new primary: it is fenced there at
		// once (its connections killed, its epoch passed) rather than waited for, so the new
		// primary's position taken next follows everything oms ever applied there.
		if err := retireWriter(ctx, newP, oldIncr, s.log); err != nil {
			return retry(api.StepHandover, err)
		}
		_ = s.stepUpdate(ctx, p.ID, incrStepOf(sw.Generation), api.StepFinished, 100, nil, "handed over at the fence "+sw.FenceGTID+" ("+strings.ToLower(sw.Operation)+")")
		if sw.Generation == 0 {
			_ = s.stepUpdate(ctx, p.ID, api.StepIncrLogPull, api.StepFinished, 100, nil, "store released at the "+strings.ToLower(sw.Operation))
		}
		return s.stepUpdate(ctx, p.ID, api.StepHandover, api.StepFinished, 100, nil, op+oldIncr+" applied up to the fence "+sw.FenceGTID+"; fenced out of "+newP.Name+" and released")
	}

	// OBJECT_FIXUP, then the new primary's position: the new Incr-Sync starts after it.
	if !done(st[api.StepObjectFixup].Status) {
		if sw.StartGTID == "" {
			sel, err := selectionOf(ng, spec)
			if err != nil {
				return retry(api.StepObjectFixup, err)
			}
			fixes, err := fixObjects(ctx, newP, oldP, sel)
			if err != nil {
				return retry(api.StepObjectFixup, err)
			}
			pos, _, err := sourceGTID(ctx, newP)
			if err != nil {
				return retry(api.StepObjectFixup, err)
			}
			sw.Fixups, sw.StartGTID = fixes, pos
			if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
				return err
			}
		}
		msg := op + "nothing to fix"
		if len(sw.Fixups) > 0 {
			msg = op + strings.Join(sw.Fixups, "; ")
		}
		return s.stepUpdate(ctx, p.ID, api.StepObjectFixup, api.StepFinished, 100, map[string]float64{"items": float64(len(sw.Fixups))}, msg+"; new start "+sw.StartGTID)
	}

	// TRANSFER_APP_SWITCH: the new direction's Incr-Sync, then the new primary writable.
	if !done(st[api.StepAppSwitch].Status) {
		storeT, _, err := s.tasks.Get(ctx, newStore)
		if err != nil {
			return err
		}
		sel, err := selectionOf(ng, spec)
		if err != nil {
			return retry(api.StepAppSwitch, err)
		}
		cfg := incrSyncConfig{StoreAddr: storeT.Addr, Target: s.conn(oldP), Selection: sel, StartGTID: sw.StartGTID, Flavor: sw.Flavor, DDLPolicy: spec.DDLPolicy}
		if err := s.tasks.Ensure(ctx, newIncr, p.ID, task.KindIncrSync, oldP.Region, cfg); err != nil {
			return err
		}
		if slices.Contains(sw.ReadOnly, newP.ID) {
			if err := setReadOnly(ctx, newP, false); err != nil {
				return retry(api.StepAppSwitch, err)
			}
			sw.ReadOnly = slices.DeleteFunc(sw.ReadOnly, func(id string) bool { return id == newP.ID })
		}
		if sw.WritableAt == nil {
			now := time.Now().UTC()
			sw.WritableAt = &now
			if sw.FencedAt != nil {
				sw.DowntimeSeconds = now.Sub(*sw.FencedAt).Seconds()
			}
		}
		if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
			return err
		}
		if err := s.stepUpdate(ctx, p.ID, api.StepAppSwitch, api.StepFinished, 100, map[string]float64{"downtime_seconds": sw.DowntimeSeconds},
			fmt.Sprintf("%s%s is the primary; write downtime %.2fs", op, newP.Name, sw.DowntimeSeconds)); err != nil {
			return err
		}
	}
	// Done: the new generation runs.
	s.log.Info("switch finished", "project", p.ID, "operation", sw.Operation, "primary", newP.Name, "downtime_s", sw.DowntimeSeconds)
	sw.Generation, sw.InProgress, sw.HandedOver = ng, false, false
	if err := s.saveSwitch(ctx, p.ID, sw); err != nil {
		return err
	}
	if reverseGen(ng) {
		return nil
	}
	// A rollback: REVERSE_INCR_TRANSFER is over, INCR_TRANSFER follows the new forward tasks.
	return s.stepUpdate(ctx, p.ID, api.StepReverseIncr, api.StepFinished, 100, nil, "handed over at the rollback's fence "+sw.FenceGTID)
}

// abortSwitch undoes a switch that has not handed over: the old primary takes writes again (the
// read_only oms set on either side is cleared), the new direction's tasks are released, the step
// FAILED.
func (s *Service) abortSwitch(ctx context.Context, id string, sw *switchState, oldP, newP Endpoint, step, why string) error {
	for _, e := range []Endpoint{oldP, newP} {
		if !slices.Contains(sw.ReadOnly, e.ID) {
			continue
		}
		if err := setReadOnly(ctx, e, false); err != nil {
			_ = s.stepUpdate(ctx, id, step, api.StepRunning, 0, nil, "aborting ("+why+"); cannot clear read_only yet: "+err.Error())
			return errSwitchNotReady
		}
		sw.ReadOnly = slices.DeleteFunc(sw.ReadOnly, func(x string) bool { return x == e.ID })
	}
	ng := genPrefix(id, sw.Generation+1)
	for _, kind := range []string{task.KindIncrSync, task.KindStore} {
		if err := s.tasks.Release(ctx, TaskID(ng, kind)); err != nil {
			return err
		}
	}
	sw.InProgress = false
	sw.StoreStartGTID, sw.FenceGTID, sw.StartGTID, sw.FencedAt, sw.WritableAt = "", "", "", nil, nil
	if err := s.saveSwitch(ctx, id, sw); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s: %s: %s; aborted, %s takes writes again (ask again when fixed)", omserr.SwitchAborted, strings.ToLower(sw.Operation), why, oldP.Name)
	s.log.Warn("switch aborted", "project", id, "step", step, "why", why)
	return s.stepUpdate(ctx, id, step, api.StepFailed, 0, nil, msg)
}

// followGen keeps generation gen (> 0) running: its Incr-Sync follows its Store when the Store
// moves, and its step shows lag and health. Released tasks of other generations are removed.
func (s *Service) followGen(ctx context.Context, id string, gen int, replica Endpoint) error {
	prefix := genPrefix(id, gen)
	tasks, err := s.tasks.List(ctx, id)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if !strings.HasPrefix(t.ID, prefix+"-") && t.Desired == task.DesiredReleased && (t.State == task.Released || t.Host == "") {
			if err := s.tasks.Delete(ctx, t.ID); err != nil {
				return err
			}
		}
	}
	storeT, ok1, err := s.tasks.Get(ctx, TaskID(prefix, task.KindStore))
	if err != nil {
		return err
	}
	incrT, ok2, err := s.tasks.Get(ctx, TaskID(prefix, task.KindIncrSync))
	if err != nil || !ok1 || !ok2 {
		return err
	}
	if err := s.followStore(ctx, incrT, storeT.Addr, nil); err != nil {
		return err
	}
	step := incrStepOf(gen)
	m := statusMetrics(incrT)
	if incrT.Status != nil {
		m["lag_seconds"] = incrT.Status.LagSeconds
	}
	for _, t := range []task.Task{storeT, incrT} {
		if t.State == task.Failed {
			return s.failProject(ctx, id, step, taskErrCode(t), t.Kind+" "+t.ID+" failed: "+taskErrMsg(t))
		}
	}
	status, progress, msg := incrStatus(storeT, incrT, "", "")
	return s.stepUpdate(ctx, id, step, status, progress, m, msg+" into "+replica.Name)
}

// followStore points an Incr-Sync at its Store's current address (the Store moved) and at the
// project's skipped transactions; the supervisor restarts a component whose spec changed and the
// checkpoint in the target says where to continue.
func (s *Service) followStore(ctx context.Context, t task.Task, storeAddr string, skips []string) error {
	var cur incrSyncConfig
	if json.Unmarshal(t.Spec.Config, &cur) != nil || (cur.StoreAddr == storeAddr || storeAddr == "") && slices.Equal(cur.SkipGTIDs, skips) {
		return nil
	}
	cur.StoreAddr = cmp.Or(storeAddr, cur.StoreAddr)
	cur.SkipGTIDs = skips
	raw, _ := json.Marshal(cur)
	if err := s.tasks.SetSpec(ctx, t.ID, task.Spec{Config: raw}); err != nil {
		return fmt.Errorf("update incr-sync spec: %w", err)
	}
	return nil
}

// retireWriter fences Incr-Sync task id out of e for good: the claim with the highest epoch kills
// its connections (an open transaction is rolled back) and fails its next transaction.
func retireWriter(ctx context.Context, e Endpoint, id string, log *slog.Logger) error {
	db, err := openEndpoint(ctx, e)
	if err != nil {
		return fmt.Errorf("fence %s out of %s: %w", id, e.Name, err)
	}
	defer db.Close()
	f := fence.New(incrSchema, incrFenceTable, omserr.IncrFenced, "incr-sync", id, math.MaxInt64, log)
	for _, q := range append([]string{"CREATE DATABASE IF NOT EXISTS " + sqlgen.QuoteIdent(incrSchema)}, f.Tables()...) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("fence %s out of %s: %w", id, e.Name, err)
		}
	}
	if err := f.Claim(ctx, db); err != nil {
		return fmt.Errorf("fence %s out of %s: %w", id, e.Name, err)
	}
	return nil
}

// containsGTIDs reports whether the applied set contains the fence set.
func containsGTIDs(flavor, applied, fence string) bool {
	if applied == "" {
		return false
	}
	a, err1 := binlog.ParseGTIDSet(flavor, applied)
	b, err2 := binlog.ParseGTIDSet(flavor, fence)
	return err1 == nil && err2 == nil && a.ContainsSet(b)
}

// fenceMark is what WRITE_FENCE took on the old primary.
type fenceMark struct {
	gtid     string
	sessions []string
}

// fenceWrites stops the application's writes on e (read_only, when asked) and returns the GTID
// set of a marker transaction oms commits after that: the Store ignores only its own heartbeat
// rows, so the old direction's applied checkpoint reaches the marker, and containing it means
// containing every transaction committed before the fence.
func fenceWrites(ctx context.Context, e Endpoint, setRO bool, projectID string) (fenceMark, error) {
	var f fenceMark
	db, err := openEndpoint(ctx, e)
	if err != nil {
		return f, fmt.Errorf("fence %s: %w", e.Name, err)
	}
	defer db.Close()
	if setRO {
		if err := setReadOnlyDB(ctx, db, e, true); err != nil {
			return f, err
		}
		f.sessions = clientSessions(ctx, db)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return f, fmt.Errorf("fence %s: %w", e.Name, err)
	}
	defer conn.Close()
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return f, fmt.Errorf("fence %s: %w", e.Name, err)
	}
	maria := strings.Contains(strings.ToLower(version), "mariadb")
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS `__oms`",
		"CREATE TABLE IF NOT EXISTS `__oms`.`switch_fence` (project_id VARCHAR(64) NOT NULL PRIMARY KEY, fenced_at TIMESTAMP(6) NOT NULL) ENGINE=InnoDB"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return f, fmt.Errorf("fence %s: create the marker table: %w", e.Name, err)
		}
	}
	var before string
	if maria {
		if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&before); err != nil {
			return f, fmt.Errorf("fence %s: %w", e.Name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "REPLACE INTO `__oms`.`switch_fence` (project_id, fenced_at) VALUES (?, NOW(6))", projectID); err != nil {
		return f, fmt.Errorf("fence %s: write the marker: %w", e.Name, err)
	}
	if !maria {
		err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_executed").Scan(&f.gtid)
		f.gtid = strings.ReplaceAll(f.gtid, "\n", "")
		return f, err
	}
	var last string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.last_gtid").Scan(&last); err != nil || last == "" {
		return f, fmt.Errorf("fence %s: read the marker's GTID (%q): %v", e.Name, last, err)
	}
	set, err := binlog.ParseGTIDSet(binlog.FlavorMariaDB, strings.ReplaceAll(before, "\n", ""))
	if err != nil {
		return f, fmt.Errorf("fence %s: %w", e.Name, err)
	}
	if err := set.Add(last); err != nil {
		return f, fmt.Errorf("fence %s: %w", e.Name, err)
	}
	f.gtid = set.String()
	return f, nil
}

func setReadOnly(ctx context.Context, e Endpoint, on bool) error {
	db, err := openEndpoint(ctx, e)
	if err != nil {
		return fmt.Errorf("read_only on %s: %w", e.Name, err)
	}
	defer db.Close()
	return setReadOnlyDB(ctx, db, e, on)
}

func setReadOnlyDB(ctx context.Context, db *sql.DB, e Endpoint, on bool) error {
	v := map[bool]string{true: "ON", false: "OFF"}[on]
	if _, err := db.ExecContext(ctx, "SET GLOBAL read_only = "+v); err != nil {
		return omserr.Wrap(err, omserr.SwitchFenceFailed, fmt.Sprintf("cannot set read_only=%s on %s (%s)", v, e.Name, e.Addr()),
			"grant the data source's user SUPER (MariaDB 10.11: READ_ONLY ADMIN), or stop the writes yourself and switch without --fence")
	}
	return nil
}

// clientSessions lists the client sessions connected to a server other than this one and
// replication threads, as "id user@host db (command Ns)" (at most 20).
func clientSessions(ctx context.Context, db *sql.DB) []string {
	rows, err := db.QueryContext(ctx, `SELECT ID, USER, HOST, COALESCE(DB, ''), COMMAND, TIME FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed')
		AND USER NOT IN ('system user', 'event_scheduler') ORDER BY ID LIMIT 20`)
	if err != nil {
		return []string{"cannot list sessions: " + err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, secs int64
		var user, host, db, cmd string
		if rows.Scan(&id, &user, &host, &db, &cmd, &secs) == nil {
			out = append(out, fmt.Sprintf("%d %s@%s %s (%s %ds)", id, user, host, db, cmd, secs))
		}
	}
	return out
}

// fixObjects prepares the new primary for the application: every selected table's AUTO_INCREMENT
// is raised to at least the old primary's (rows inserted there must not reuse keys), and the
// triggers and foreign keys that would act on the reverse sync's writes are listed.
func fixObjects(ctx context.Context, newP, oldP Endpoint, sel selection.Config) ([]string, error) {
	ndb, err := openEndpoint(ctx, newP)
	if err != nil {
		return nil, err
	}
	defer ndb.Close()
	odb, err := openEndpoint(ctx, oldP)
	if err != nil {
		return nil, err
	}
	defer odb.Close()
	tables, err := ListSelected(ctx, ndb, sel)
	if err != nil {
		return nil, err
	}
	autoInc := func(db *sql.DB, schema, table string) int64 {
		var v sql.NullInt64
		_ = db.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&v)
		return v.Int64
	}
	count := func(db *sql.DB, q, schema, table string) int {
		var n int
		_ = db.QueryRowContext(ctx, q, schema, table).Scan(&n)
		return n
	}
	const triggers = "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?"
	const fks = "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?"
	var out []string
	for _, t := range tables {
		// t.DB.t.Table is on the new primary; t.TargetDB.t.TargetTable on the old one.
		n, o := autoInc(ndb, t.DB, t.Table), autoInc(odb, t.TargetDB, t.TargetTable)
		if o > n {
			q := fmt.Sprintf("ALTER TABLE %s.%s AUTO_INCREMENT = %d", sqlgen.QuoteIdent(t.DB), sqlgen.QuoteIdent(t.Table), o)
			if _, err := ndb.ExecContext(ctx, q); err != nil {
				return out, fmt.Errorf("raise AUTO_INCREMENT of %s.%s: %w", t.DB, t.Table, err)
			}
			out = append(out, fmt.Sprintf("%s.%s AUTO_INCREMENT %d -> %d", t.DB, t.Table, n, o))
		}
		if c := count(odb, triggers, t.TargetDB, t.TargetTable); c > 0 {
			out = append(out, fmt.Sprintf("%s.%s on %s has %d triggers: they fire on the rows the way back applies", t.TargetDB, t.TargetTable, oldP.Name, c))
		}
		if c := count(odb, fks, t.TargetDB, t.TargetTable); c > 0 {
			out = append(out, fmt.Sprintf("%s.%s on %s has %d foreign keys", t.TargetDB, t.TargetTable, oldP.Name, c))
		}
	}
	return out, nil
}

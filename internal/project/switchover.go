package project

// Switchover and rollback: the application moves from the primary the project replicates from to
// the side it replicates to, and the incremental sync turns around so the team keeps a way back.
//
// Every direction of the sync is a generation of two tasks: generation 0 is the project's own
// Store and Incr-Sync (source -> target, ids "<p>-store", "<p>-incr-sync"); generation g > 0 runs
// "<p>-g<g>-store" and "<p>-g<g>-incr-sync", reverse (target -> source) when g is odd, forward
// again when it is even. A switchover or rollback goes from generation g to g+1 through the steps
// below, each one a row of project_steps and each one idempotent, with what it decided (positions,
// times) in the project's spec JSON under "switch": a CM leader that dies at any step leaves the
// next leader everything it needs to finish the step or, before the handover, to undo the fence.
//
//   SWITCH_PRECHECK       run by the request itself (read-only, repeatable); a refusal changes nothing
//   SWITCH_INCR_LOG_PULL  the g+1 Store starts on the new primary at its current position, before
//                         writes stop, so no change made there later is missed
//   WRITE_FENCE           the caller confirmed writes stopped, or oms sets read_only on the old
//                         primary and lists the sessions still connected; then it commits a marker
//                         transaction and records the old primary's GTID set with it (the fence)
//   POSITION_HANDOVER     generation g is done when its applied checkpoint contains the fence;
//                         its tasks are then released and stopped
//   OBJECT_FIXUP          AUTO_INCREMENT of the new primary raised to the old one's; triggers and
//                         foreign keys listed; then the new primary's GTID set is recorded: the
//                         g+1 Incr-Sync applies what follows it, nothing oms applied before it
//                         (no echo), nothing an application writes after it (no loss)
//   TRANSFER_APP_SWITCH   the g+1 Incr-Sync is created and the new primary made writable
//                         (read_only off when oms set it); the write downtime is measured
//   REVERSE_INCR_TRANSFER / INCR_TRANSFER  the running direction's lag and health, as before
//
// Before the handover, a failure undoes the fence (SWITCH_ABORTED: the old primary takes writes
// again); after it the old direction is gone and every step is retried until it succeeds, so the
// project never stays with both sides read-only or both written by applications.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/store"
	"github.com/omsdev/oms/internal/task"
)

// SwitchSteps are the steps a switchover or rollback adds to a project, in order.
var SwitchSteps = []string{api.StepSwitchPrecheck, api.StepSwitchLogPull, api.StepWriteFence, api.StepHandover, api.StepObjectFixup, api.StepAppSwitch, api.StepReverseIncr}

const (
	// DefaultSwitchMaxLag is the precheck's lag threshold when the request gives none.
	DefaultSwitchMaxLag = 15.0
	// VerifyMaxAge is how recent the verification with zero differences must be.
	VerifyMaxAge = 24 * time.Hour
	// HandoverTimeout: the old direction must apply up to the fence within this time after the
	// fence, or the switch is aborted and the fence undone (writes resume on the old primary).
	HandoverTimeout = 2 * time.Minute
)

// switchState is the "switch" object of the project's spec JSON.
type switchState struct {
	api.SwitchState
	MaxLag float64 `json:"maxLag,omitempty"`
	// HandedOver: the old direction applied up to the fence and was released.
	HandedOver bool `json:"handedOver,omitempty"`
	// ReadOnly lists the data sources oms set read_only on (it clears it only on those).
	ReadOnly []string `json:"readOnly,omitempty"`
	// Flavor of the new primary (mariadb or mysql).
	Flavor string `json:"flavor,omitempty"`
}

// genPrefix is the task id prefix of a generation (TaskID(genPrefix(p, g), kind)).
func genPrefix(projectID string, gen int) string {
	if gen == 0 {
		return projectID
	}
	return projectID + "-g" + strconv.Itoa(gen)
}

// reverseGen says whether generation gen replicates target -> source.
func reverseGen(gen int) bool { return gen%2 == 1 }

// sides returns the capture side (primary) and apply side of generation gen.
func sides(gen int, src, dst Endpoint) (primary, replica Endpoint) {
	if reverseGen(gen) {
		return dst, src
	}
	return src, dst
}

// incrStepOf is the step that shows generation gen's Incr-Sync.
func incrStepOf(gen int) string {
	if reverseGen(gen) {
		return api.StepReverseIncr
	}
	return api.StepIncr
}

func (s *Service) loadSwitch(ctx context.Context, id string) (*switchState, error) {
	var raw sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT JSON_EXTRACT(spec, '$.switch') FROM "+s.rm+".projects WHERE id = ?", id).Scan(&raw); err != nil {
		return nil, fmt.Errorf("read switch state of %s: %w", id, err)
	}
	if !raw.Valid || raw.String == "" || raw.String == "null" {
		return nil, nil
	}
	var sw switchState
	if err := json.Unmarshal([]byte(raw.String), &sw); err != nil {
		return nil, fmt.Errorf("read switch state of %s: %w", id, err)
	}
	return &sw, nil
}

func (s *Service) saveSwitch(ctx context.Context, id string, sw *switchState) error {
	raw, err := json.Marshal(sw)
	if err != nil {
		return fmt.Errorf("encode switch state: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".projects SET spec = JSON_SET(spec, '$.switch', JSON_QUERY(?, '$')) WHERE id = ?", string(raw), id); err != nil {
		return fmt.Errorf("save switch state of %s: %w", id, err)
	}
	return nil
}

// publicSwitch is sw as the API shows it.
func publicSwitch(sw *switchState) *api.SwitchState {
	if sw == nil {
		return nil
	}
	out := sw.SwitchState
	out.Direction = api.DirectionForward
	if reverseGen(sw.Generation) {
		out.Direction = api.DirectionReverse
	}
	return &out
}

// reverseSelection is the selection of the way back: every rule with its names swapped (the
// target's names select, the source's are where rows go). A row filter, a column subset or a DML
// subset cannot be turned around (the source holds rows the target never had), nor can a
// renaming pattern.
func reverseSelection(c selection.Config) (selection.Config, error) {
	flip := func(rs []selection.Rule, what string) ([]selection.Rule, error) {
		out := make([]selection.Rule, 0, len(rs))
		for i, r := range rs {
			switch {
			case r.Where != "":
				return nil, fmt.Errorf("%s[%d] (%s.%s) has a row filter: the source holds rows the target never received", what, i, r.DB, r.Table)
			case len(r.Columns) > 0:
				return nil, fmt.Errorf("%s[%d] (%s.%s) copies a subset of columns", what, i, r.DB, r.Table)
			case len(r.DML) > 0:
				return nil, fmt.Errorf("%s[%d] (%s.%s) replicates a subset of DML kinds", what, i, r.DB, r.Table)
			case r.RenameDB != "" && selection.IsPattern(r.DB), r.RenameTable != "" && selection.IsPattern(r.Table):
				return nil, fmt.Errorf("%s[%d] (%s.%s) renames a pattern", what, i, r.DB, r.Table)
			}
			x := r
			if r.RenameDB != "" {
				x.DB, x.RenameDB = r.RenameDB, r.DB
			}
			if r.RenameTable != "" {
				x.Table, x.RenameTable = r.RenameTable, r.Table
			}
			out = append(out, x)
		}
		return out, nil
	}
	tables, err := flip(c.Tables, "tables")
	if err != nil {
		return selection.Config{}, err
	}
	exclude, err := flip(c.Exclude, "exclude")
	if err != nil {
		return selection.Config{}, err
	}
	return selection.Config{Tables: tables, Exclude: exclude}, nil
}

// selectionOf is generation gen's selection.
func selectionOf(gen int, spec projectSpec) (selection.Config, error) {
	sel := SelectionConfig(spec.Mapping)
	if reverseGen(gen) {
		return reverseSelection(sel)
	}
	return sel, nil
}

// Switchover makes the project's target the primary; Rollback makes the source the primary
// again. Both run the precheck at once (a refusal is SWITCH_PRECHECK_FAILED and changes nothing
// but the SWITCH_PRECHECK step), answer the plan, and unless DryRun record the request for the
// orchestrator. Asking again while the same operation runs answers its plan.
func (s *Service) Switchover(ctx context.Context, r api.SwitchoverRequest) (api.SwitchPlan, error) {
	return s.switchDirection(ctx, r, api.OperationSwitchover)
}

// Rollback: see Switchover.
func (s *Service) Rollback(ctx context.Context, r api.SwitchoverRequest) (api.SwitchPlan, error) {
	return s.switchDirection(ctx, r, api.OperationRollback)
}

func (s *Service) switchDirection(ctx context.Context, r api.SwitchoverRequest, op string) (api.SwitchPlan, error) {
	p, err := s.Describe(ctx, r.ID)
	if err != nil {
		return api.SwitchPlan{}, err
	}
	sw, err := s.loadSwitch(ctx, p.ID)
	if err != nil {
		return api.SwitchPlan{}, err
	}
	if sw == nil {
		sw = &switchState{}
	}
	if sw.InProgress {
		if sw.Operation == op && !r.DryRun {
			return api.SwitchPlan{ID: p.ID, Operation: op, State: publicSwitch(sw)}, nil
		}
		return api.SwitchPlan{}, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s is in a %s (%s)", p.ID, strings.ToLower(sw.Operation), stepNow(p.Steps)),
			"wait for it to finish (oms project show), then ask again")
	}
	if p.Status != api.StateRunning {
		return api.SwitchPlan{}, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s is %s; a %s needs a RUNNING project with its incremental sync", p.ID, p.Status, strings.ToLower(op)),
			"resume the project and let INCR_TRANSFER catch up first")
	}
	if !p.EnableIncr {
		return api.SwitchPlan{}, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s has no incremental sync", p.ID), "create a project with enableIncrTransfer to switch over")
	}
	reversed := reverseGen(sw.Generation)
	if op == api.OperationSwitchover && reversed {
		return api.SwitchPlan{}, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s already switched over: the target is the primary", p.ID), "use RollbackProject to make the source the primary again")
	}
	if op == api.OperationRollback && !reversed {
		return api.SwitchPlan{}, omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s is not switched over: the source is the primary", p.ID), "use SwitchoverProject to move to the target")
	}
	if !r.DryRun && !r.Fence && !r.WritesStopped {
		return api.SwitchPlan{}, invalid("neither fence nor writesStopped is set",
			"stop the application's writes and confirm it (writesStopped, CLI --yes), or let oms fence them with read_only (fence, CLI --fence)")
	}
	if r.MaxLagSeconds < 0 {
		return api.SwitchPlan{}, invalid(fmt.Sprintf("maxLagSeconds %g is negative", r.MaxLagSeconds), "give a lag threshold in seconds (default 15)")
	}
	maxLag := r.MaxLagSeconds
	if maxLag == 0 {
		maxLag = DefaultSwitchMaxLag
	}
	spec, err := s.loadSpec(ctx, p.ID)
	if err != nil {
		return api.SwitchPlan{}, err
	}
	src, dst, err := s.endpoints(ctx, p)
	if err != nil {
		return api.SwitchPlan{}, err
	}
	oldP, newP := sides(sw.Generation, src, dst)
	plan := api.SwitchPlan{ID: p.ID, Operation: op, From: oldP.ID, To: newP.ID, DryRun: r.DryRun}
	res, pos := s.switchPrecheck(ctx, p, sw, spec, oldP, newP, op, maxLag, r.Fence)
	for _, c := range res {
		plan.Checks = append(plan.Checks, c.String())
		plan.Precheck = append(plan.Precheck, api.PrecheckItem{Name: c.Name, Side: c.Side, OK: c.OK, Warning: c.Warning, Message: c.Message, Advice: c.Advice})
	}
	plan.Steps = planSteps(p.ID, sw.Generation, oldP, newP, r.Fence, pos)
	if err := s.ensureSwitchSteps(ctx, p.ID); err != nil {
		return plan, err
	}
	if failed := res.Failed(); len(failed) > 0 {
		msgs := make([]string, len(failed))
		for i, f := range failed {
			msgs[i] = f.String()
		}
		msg := strings.ToLower(op) + " refused: " + strings.Join(msgs, "; ")
		if !r.DryRun {
			_ = s.stepUpdate(ctx, p.ID, api.StepSwitchPrecheck, api.StepFailed, 0, nil, msg)
		}
		return plan, omserr.New(omserr.SwitchPrecheckFailed, msg, "fix what the failed checks name (or wait for the lag to drop), then ask again; nothing was changed")
	}
	if r.DryRun {
		return plan, nil
	}
	next := &switchState{SwitchState: api.SwitchState{Operation: op, InProgress: true, Fence: r.Fence, Generation: sw.Generation}, MaxLag: maxLag, ReadOnly: sw.ReadOnly}
	if err := s.startSwitch(ctx, p.ID, next); err != nil {
		return plan, err
	}
	_ = s.stepUpdate(ctx, p.ID, api.StepSwitchPrecheck, api.StepFinished, 100, map[string]float64{"items_passed": float64(len(res))}, strings.ToLower(op)+": "+res.Summary())
	plan.State = publicSwitch(next)
	return plan, nil
}

// startSwitch records the request unless an operation started meanwhile (the row is locked), and
// sets the switch steps after the precheck back to PENDING.
func (s *Service) startSwitch(ctx context.Context, id string, next *switchState) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("start switch: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var raw sql.NullString
	var state string
	if err := tx.QueryRowContext(ctx, "SELECT state, JSON_EXTRACT(spec, '$.switch') FROM "+s.rm+".projects WHERE id = ? FOR UPDATE", id).Scan(&state, &raw); err != nil {
		return fmt.Errorf("start switch: %w", err)
	}
	var cur switchState
	if raw.Valid && raw.String != "null" {
		_ = json.Unmarshal([]byte(raw.String), &cur)
	}
	if cur.InProgress || cur.Generation != next.Generation || state != api.StateRunning {
		return omserr.New(omserr.APIStateConflict, fmt.Sprintf("project %s changed while the precheck ran (state %s)", id, state), "ask again")
	}
	enc, _ := json.Marshal(next)
	if _, err := tx.ExecContext(ctx, "UPDATE "+s.rm+".projects SET spec = JSON_SET(spec, '$.switch', JSON_QUERY(?, '$')) WHERE id = ?", string(enc), id); err != nil {
		return fmt.Errorf("start switch: %w", err)
	}
	steps := SwitchSteps[1 : len(SwitchSteps)-1]
	q := "UPDATE " + s.rm + ".project_steps SET status = ?, progress = 0, message = NULL, metrics = NULL, started_at = NULL, finished_at = NULL WHERE project_id = ? AND step IN (?" + strings.Repeat(",?", len(steps)-1) + ")"
	args := []any{api.StepPending, id}
	for _, st := range steps {
		args = append(args, st)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("start switch: reset steps: %w", err)
	}
	return tx.Commit()
}

// ensureSwitchSteps adds the switch steps to a project that has none yet.
func (s *Service) ensureSwitchSteps(ctx context.Context, id string) error {
	for i, st := range SwitchSteps {
		if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO "+s.rm+".project_steps (project_id, step, seq, status) VALUES (?,?,?,?)", id, st, len(Steps)+i+1, api.StepPending); err != nil {
			return fmt.Errorf("add step %s: %w", st, err)
		}
	}
	return nil
}

// stepNow names the first switch step not done.
func stepNow(steps []api.Step) string {
	for _, st := range steps {
		for _, sw := range SwitchSteps[1:] {
			if st.Name == sw && !done(st.Status) {
				return st.Name + " " + st.Status
			}
		}
	}
	return "finishing"
}

// positions are what the precheck read, for the plan.
type positions struct {
	oldGTID, newGTID, applied string
	lag                       float64
}

func planSteps(pid string, gen int, oldP, newP Endpoint, fence bool, pos positions) []api.PlanStep {
	ng := gen + 1
	fenceAct := "the caller confirmed that the application stopped writing to " + oldP.Addr() + "; the old primary's GTID set is taken (now " + orDash(pos.oldGTID) + ")"
	if fence {
		fenceAct = "SET GLOBAL read_only = ON on " + newP.Addr() + " (until step 6) and on " + oldP.Addr() + ", list the sessions still connected, commit a marker and take its GTID set (now " + orDash(pos.oldGTID) + ")"
	}
	writable := "the application may write to " + newP.Addr()
	if fence {
		writable = "SET GLOBAL read_only = OFF on " + newP.Addr() + "; " + writable
	}
	return []api.PlanStep{
		{Name: api.StepSwitchPrecheck, Action: fmt.Sprintf("lag %.1fs, components, verification, binlog and privileges of %s", pos.lag, newP.Addr())},
		{Name: api.StepSwitchLogPull, Action: "start Store " + TaskID(genPrefix(pid, ng), task.KindStore) + " on " + newP.Addr() + " (region " + newP.Region + ") from its GTID set " + orDash(pos.newGTID)},
		{Name: api.StepWriteFence, Action: fenceAct},
		{Name: api.StepHandover, Action: "wait until " + TaskID(genPrefix(pid, gen), task.KindIncrSync) + " (applied now " + orDash(pos.applied) + ") contains the fence set, then release it and its Store"},
		{Name: api.StepObjectFixup, Action: "raise AUTO_INCREMENT on " + newP.Addr() + " to at least " + oldP.Addr() + "'s, list triggers and foreign keys; take " + newP.Addr() + "'s GTID set as the new start"},
		{Name: api.StepAppSwitch, Action: "create Incr-Sync " + TaskID(genPrefix(pid, ng), task.KindIncrSync) + " into " + oldP.Addr() + " (region " + oldP.Region + ") from that set; " + writable},
		{Name: incrStepOf(ng), Action: "follow the new direction's lag and health"},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// switchPrecheck runs every check of a switch from oldP to newP and returns all results, with
// the positions it read for the plan.
func (s *Service) switchPrecheck(ctx context.Context, p api.Project, sw *switchState, spec projectSpec, oldP, newP Endpoint, op string, maxLag float64, fence bool) (CheckResult, positions) {
	var res CheckResult
	var pos positions
	add := res.add
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	prefix := genPrefix(p.ID, sw.Generation)

	// The running direction: healthy and caught up.
	tasks, err := s.tasks.List(ctx, p.ID)
	if err != nil {
		add("COMPONENTS", "oms", false, "cannot read the project's components: "+err.Error(), "check the MetaDB")
	}
	var incrT task.Task
	var bad []string
	seen := 0
	for _, t := range tasks {
		if t.ID != TaskID(prefix, task.KindStore) && t.ID != TaskID(prefix, task.KindIncrSync) {
			continue
		}
		seen++
		if t.Kind == task.KindIncrSync {
			incrT = t
		}
		if why := trouble(t); why != "" {
			bad = append(bad, t.ID+" on "+orNone(t.Host)+": "+why)
		}
	}
	for _, st := range p.Steps {
		if st.Status == api.StepFailed && !slices.Contains(SwitchSteps, st.Name) { // a switch step's failure was undone
			bad = append(bad, "step "+st.Name+" FAILED: "+st.Message)
		}
	}
	if seen < 2 {
		bad = append(bad, "the running direction's Store and Incr-Sync ("+prefix+") are not both there")
	}
	add("COMPONENTS", "oms", len(bad) == 0, listMsg("the running direction's Store and Incr-Sync are healthy", "not healthy: ", bad),
		"fix the component (oms project show names its error), resume or retry the project, then ask again")
	lag := -1.0
	if incrT.Status != nil {
		lag, pos.applied = incrT.Status.LagSeconds, incrT.Status.Position
	}
	pos.lag = lag
	add("LAG", "oms", lag >= 0 && lag < maxLag && pos.applied != "", fmt.Sprintf("Incr-Sync lag %.1fs (threshold %.0fs), applied %s", lag, maxLag, orDash(pos.applied)),
		"wait until the incremental sync catches up (the switch would wait that long with writes stopped), or raise maxLagSeconds")

	// A recent verification without differences (the switchover; a rollback is the way back
	// from trouble and does not wait for one).
	if op == api.OperationSwitchover {
		v := stepNamed(p.Steps, api.StepFullVerifier)
		diffs := v.Metrics["differences"] + v.Metrics["tables_schema_different"]
		switch {
		case v.Status != api.StepFinished:
			add("VERIFICATION", "oms", false, "no finished verification (FULL_VERIFIER is "+orDash(v.Status)+")", "let full verification finish with 0 differences first")
		case diffs > 0:
			add("VERIFICATION", "oms", false, fmt.Sprintf("the last verification found %.0f differences: %s", diffs, v.Message),
				"fix the differences (DownloadVerificationFixSQL), verify again, then switch")
		case v.FinishedAt == nil || time.Since(*v.FinishedAt) > VerifyMaxAge:
			add("VERIFICATION", "oms", false, "the last verification is older than "+VerifyMaxAge.String(), "verify again, then switch")
		default:
			add("VERIFICATION", "oms", true, "verified with 0 differences at "+v.FinishedAt.UTC().Format(time.RFC3339), "")
		}
	}
	if _, err := selectionOf(sw.Generation+1, spec); err != nil {
		add("SELECTION", "oms", false, "the selection cannot be replicated the other way: "+err.Error(), "switch over projects without row filters, column or DML subsets and pattern renames")
	}

	// The new primary: its binlog must feed the new direction's Store.
	ndb, nerr := openEndpoint(ctx, newP)
	add("CONNECTIVITY", newP.Name, nerr == nil, connMsg(newP, nerr), "check the data source and that this node reaches it")
	odb, oerr := openEndpoint(ctx, oldP)
	add("CONNECTIVITY", oldP.Name, oerr == nil, connMsg(oldP, oerr), "check the data source and that this node reaches it")
	if nerr != nil || oerr != nil {
		return res, pos
	}
	defer ndb.Close()
	defer odb.Close()
	var logBin, nID, oID sql.NullString
	_ = ndb.QueryRowContext(ctx, "SELECT @@GLOBAL.log_bin, @@GLOBAL.server_id").Scan(&logBin, &nID)
	_ = odb.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&oID)
	add("BINLOG", newP.Name, isOn(logBin.String), "log_bin="+logBin.String, "put log_bin=ON in the [mysqld] section of "+newP.Addr()+"'s my.cnf and restart it")
	bin, err := store.CheckBinlogSettings(ctx, ndb)
	if err != nil {
		add("BINLOG", newP.Name, false, "cannot read the binlog settings: "+err.Error(), "grant the user SELECT and check the server is reachable")
	}
	for _, e := range bin {
		add("BINLOG", newP.Name, false, e.Message, e.Advice)
	}
	if err == nil && len(bin) == 0 {
		add("BINLOG", newP.Name, true, "binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL", "")
	}
	add("SERVER_ID", newP.Name, nID.String != "" && nID.String != "0" && nID.String != oID.String,
		fmt.Sprintf("server_id=%s (old primary %s)", nID.String, oID.String), "give both servers distinct non-zero server_id values")
	need := func(privs ...string) []string {
		if fence {
			privs = append(privs, "SUPER")
		}
		return privs
	}
	const fenceAdvice = " (and SUPER or READ_ONLY ADMIN for --fence)"
	missing := fencePrivs(grants(ctx, ndb), need("SELECT", "REPLICATION SLAVE", "REPLICATION CLIENT"))
	add("PRIVILEGES", newP.Name, len(missing) == 0, privMsg(newP, missing), "GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.*"+fenceAdvice+" TO the user of "+newP.Name)
	missing = fencePrivs(grants(ctx, odb), need("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER"))
	add("PRIVILEGES", oldP.Name, len(missing) == 0, privMsg(oldP, missing), "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER ON *.*"+fenceAdvice+" TO the user of "+oldP.Name)

	// No DDL pending: none running on the old primary, none held by the Incr-Sync.
	var ddls []string
	if rows, err := odb.QueryContext(ctx, "SELECT ID, COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID()"); err == nil {
		for rows.Next() {
			var id int64
			var info string
			if rows.Scan(&id, &info) == nil && isDDL(info) {
				ddls = append(ddls, fmt.Sprintf("session %d: %.60s", id, info))
			}
		}
		rows.Close()
	}
	var pending sql.NullString
	rdb := ndb // the running Incr-Sync's checkpoint is on its target, the new primary
	_ = rdb.QueryRowContext(ctx, "SELECT MAX(pending_ddl) FROM "+sqlgen.QuoteIdent(incrSchema)+".`incr_checkpoint` WHERE task_id = ? AND pending_ddl <> ''", TaskID(prefix, task.KindIncrSync)).Scan(&pending)
	if pending.String != "" {
		ddls = append(ddls, "Incr-Sync holds DDL "+pending.String)
	}
	add("PENDING_DDL", oldP.Name, len(ddls) == 0, listMsg("no DDL running or pending", "DDL pending: ", ddls), "let the DDL finish and be applied, then ask again")

	pos.oldGTID, _, _ = sourceGTID(ctx, oldP)
	pos.newGTID, _, _ = sourceGTID(ctx, newP)
	return res, pos
}

// fencePrivs is missingPrivs where READ_ONLY ADMIN (MariaDB 10.11) stands in for SUPER: either
// lets oms set read_only and write past it.
func fencePrivs(grants, need []string) []string {
	missing := missingPrivs(grants, need)
	if i := slices.Index(missing, "SUPER"); i >= 0 && len(missingPrivs(grants, []string{"READ_ONLY ADMIN"})) == 0 {
		missing = slices.Delete(missing, i, i+1)
	}
	return missing
}

func isDDL(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "ALTER", "CREATE", "DROP", "RENAME", "TRUNCATE":
		return true
	}
	return false
}

func stepNamed(steps []api.Step, name string) api.Step {
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	return api.Step{}
}

// errSwitchNotReady marks a step that has to wait (the orchestrator tries again next round).
var errSwitchNotReady = errors.New("not ready")

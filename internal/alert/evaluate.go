package alert

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Alert states.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// DefaultInterval is how often the leader evaluates the rules and delivers the outbox.
const DefaultInterval = 5 * time.Second

// Alert is one row of cm.alerts (the OpenAPI's type).
type Alert = api.Alert

// Evaluator evaluates the rules and delivers notifications; Run it on every node, it works only
// while leader() is true.
type Evaluator struct {
	db             *sql.DB
	cmName, rmName string
	cm             string // quoted
	interval       time.Duration
	notifier       *Notifier
	log            *slog.Logger
	progress       map[string]*progress

	firing *prometheus.GaugeVec
}

// NewEvaluator returns an evaluator over the cm and rm databases (unquoted names).
func NewEvaluator(db *sql.DB, cmDB, rmDB string, interval time.Duration, n *Notifier, log *slog.Logger) *Evaluator {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Evaluator{db: db, cmName: cmDB, rmName: rmDB, cm: sqlgen.QuoteIdent(cmDB), interval: interval, notifier: n, log: log,
		progress: map[string]*progress{},
		firing:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metrics.AlertFiring, Help: "firing alerts per rule (on the evaluating node)"}, []string{metrics.LabelRule})}
}

// Collectors are the evaluator's and its notifier's series.
func (e *Evaluator) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.firing, e.notifier.sent}
}

// Run evaluates and delivers every interval while leader reports true, until ctx ends.
func (e *Evaluator) Run(ctx context.Context, leader func(context.Context) bool) error {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !leader(ctx) {
			e.progress = map[string]*progress{}
			continue
		}
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alert evaluation failed; retrying", "err", err)
		}
		if err := e.notifier.Deliver(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alert delivery failed; retrying", "err", err)
		}
	}
}

// Evaluate reads the observations and moves each alert through its states.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	var now time.Time
	if err := e.db.QueryRowContext(ctx, "SELECT NOW(6)").Scan(&now); err != nil {
		return fmt.Errorf("read the MetaDB clock: %w", err)
	}
	rs, err := loadRules(ctx, e.db, e.cmName)
	if err != nil {
		return err
	}
	obs, err := e.observe(ctx, now)
	if err != nil {
		return err
	}
	current, err := List(ctx, e.db, e.cmName, "", "")
	if err != nil {
		return err
	}
	byID := map[string]Alert{}
	for _, a := range current {
		byID[a.ID] = a
	}
	observed := map[string]bool{}
	counts := map[string]float64{}
	for _, o := range obs {
		r := rs.get(o.rule, o.projectID)
		id := o.rule + "|" + o.subject
		observed[id] = true
		active := r.Enabled && o.value > r.Threshold
		if o.rule == RuleRetentionHeadroom {
			active = r.Enabled && o.value < r.Threshold
		}
		a, exists := byID[id]
		if err := e.step(ctx, now, r, o, id, a, exists, active); err != nil {
			return err
		}
		if exists && a.State == StateFiring && active {
			counts[o.rule]++
		}
	}
	// Subjects that are gone (a released task, a removed host) resolve.
	for id, a := range byID {
		if observed[id] || a.State == StateResolved {
			continue
		}
		if err := e.step(ctx, now, rs.get(a.Rule, a.ProjectID), observation{rule: a.Rule, projectID: a.ProjectID, subject: a.Subject, value: a.Value, message: a.Message}, id, a, true, false); err != nil {
			return err
		}
	}
	for name := range Defaults {
		e.firing.WithLabelValues(name).Set(counts[name])
	}
	return nil
}

// step applies one evaluation to one alert: pending after the condition holds, firing after it
// held for ForSeconds (notified), resolved when it stops (notified if it had fired).
func (e *Evaluator) step(ctx context.Context, now time.Time, r Rule, o observation, id string, a Alert, exists, active bool) error {
	switch {
	case !exists || a.State == StateResolved:
		if !active {
			return nil
		}
		state := StatePending
		if r.ForSeconds <= 0 {
			state = StateFiring
		}
		return e.transition(ctx, id, o, a, exists, state, now)
	case a.State == StatePending && !active:
		return e.transition(ctx, id, o, a, true, StateResolved, now) // never fired: no notification
	case a.State == StatePending && now.Sub(a.Since) >= time.Duration(r.ForSeconds)*time.Second:
		return e.transition(ctx, id, o, a, true, StateFiring, now)
	case a.State == StateFiring && !active:
		return e.transition(ctx, id, o, a, true, StateResolved, now)
	case active && o.value != a.Value:
		_, err := e.db.ExecContext(ctx, "UPDATE "+e.cm+".alerts SET value = ?, message = ? WHERE id = ? AND version = ?", o.value, o.message, id, a.Version)
		return err
	}
	return nil
}

// transition moves alert id to state with a compare-and-set on its version and, for firing and
// for resolved after firing, queues one notification per channel in the same transaction.
func (e *Evaluator) transition(ctx context.Context, id string, o observation, a Alert, exists bool, state string, now time.Time) error {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert %s: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	version := a.Version + 1
	if !exists {
		version = 1
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+e.cm+".alerts (id, rule, project_id, subject, state, version, value, message, since) VALUES (?,?,?,?,?,?,?,?,?)",
			id, o.rule, o.projectID, o.subject, state, version, o.value, o.message, now); err != nil {
			return nil // another evaluator created it first: its transition stands
		}
	} else {
		res, err := tx.ExecContext(ctx, "UPDATE "+e.cm+".alerts SET state = ?, version = ?, value = ?, message = ?, since = ? WHERE id = ? AND version = ?",
			state, version, o.value, o.message, now, id, a.Version)
		if err != nil {
			return fmt.Errorf("alert %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil // someone else moved it
		}
	}
	notify := state == StateFiring || (state == StateResolved && a.State == StateFiring)
	if notify {
		n := Notification{AlertID: id, Rule: o.rule, ProjectID: o.projectID, Subject: o.subject, State: state, Version: version,
			Value: o.value, Message: o.message, At: now}
		if err := e.notifier.enqueue(ctx, tx, n); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alert %s: %w", id, err)
	}
	lvl := slog.LevelInfo
	if state == StateFiring {
		lvl = slog.LevelWarn
	}
	e.log.Log(ctx, lvl, "alert "+state, "alert", id, "value", o.value, "message", o.message)
	return nil
}

// List returns the alerts of the cm database cmDB (unquoted), optionally only one state or one
// project's, newest change first.
func List(ctx context.Context, db *sql.DB, cmDB, state, projectID string) ([]Alert, error) {
	q := "SELECT id, rule, project_id, subject, state, version, value, COALESCE(message, ''), since FROM " + sqlgen.QuoteIdent(cmDB) + ".alerts WHERE 1=1"
	var args []any
	if state != "" {
		q, args = q+" AND state = ?", append(args, state)
	}
	if projectID != "" {
		q, args = q+" AND project_id = ?", append(args, projectID)
	}
	rows, err := db.QueryContext(ctx, q+" ORDER BY updated_at DESC, id", args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var a Alert
		if err := rows.Scan(&a.ID, &a.Rule, &a.ProjectID, &a.Subject, &a.State, &a.Version, &a.Value, &a.Message, &a.Since); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ErrNoChannel: a test-send found no enabled channel.
var ErrNoChannel = errors.New("no alert channel is configured")

// payloadJSON is the body webhooks receive.
func payloadJSON(n Notification) []byte {
	b, _ := json.Marshal(n)
	return b
}

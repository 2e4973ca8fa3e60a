// Package alert evaluates oms's alert rules and notifies people of their transitions, exactly
// once per transition even with several nodes and CM failovers.
//
// It talks to the MetaDB (cm tasks, hosts, heartbeats and the alert tables, rm audit_sinks) and to
// the notification channels (webhooks signed with HMAC-SHA256, email over SMTP). Only the node
// holding the alert lease evaluates and sends. Every transition (pending -> firing -> resolved)
// is a compare-and-set on the alert row's version, committed in the same transaction as one
// outbox row per channel whose idempotency key names the alert, version, transition and channel;
// the outbox is delivered at least once (a row is marked delivered only after the channel
// accepted it) and receivers drop a key they have seen. A failover therefore neither loses a
// notification (the outbox survives in the MetaDB) nor creates a second one (the version CAS).
package alert

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Rule names.
const (
	RuleLag               = "incr_lag"             // end-to-end lag above threshold seconds
	RuleComponentFailed   = "component_failed"     // a task is FAILED
	RuleRestarting        = "component_restarting" // restarts >= threshold
	RuleHostDown          = "host_down"            // the CM marked a host DOWN
	RuleNoProgress        = "no_progress"          // the Store captures, Incr-Sync applies nothing
	RuleRetentionHeadroom = "store_retention_low"  // headroom below threshold seconds
	RuleDiskLow           = "disk_low"             // used/total above threshold (0..1)
	RuleClockSkew         = "clock_skew"           // |node clock - MetaDB clock| above threshold seconds
	RuleVerifyDiffs       = "verify_differences"   // differing rows above threshold
	RuleAuditSink         = "audit_sink_failing"   // the audit sink has failed for threshold seconds
)

// Rule is one rule's settings: active when the observed value is above Threshold (below, for
// store_retention_low) for ForSeconds.
type Rule struct {
	Name       string  `json:"rule"`
	ProjectID  string  `json:"projectId,omitempty"` // empty: the default
	Threshold  float64 `json:"threshold"`
	ForSeconds int     `json:"forSeconds"`
	Enabled    bool    `json:"enabled"`
}

// Defaults are the rules without overrides (the same conditions as deploy/prometheus/oms-rules.yml).
var Defaults = map[string]Rule{
	RuleLag:               {Name: RuleLag, Threshold: 300, ForSeconds: 120, Enabled: true},
	RuleComponentFailed:   {Name: RuleComponentFailed, Threshold: 0, ForSeconds: 0, Enabled: true},
	RuleRestarting:        {Name: RuleRestarting, Threshold: 3, ForSeconds: 0, Enabled: true},
	RuleHostDown:          {Name: RuleHostDown, Threshold: 0, ForSeconds: 0, Enabled: true},
	RuleNoProgress:        {Name: RuleNoProgress, Threshold: 0, ForSeconds: 300, Enabled: true},
	RuleRetentionHeadroom: {Name: RuleRetentionHeadroom, Threshold: 6 * 3600, ForSeconds: 300, Enabled: true},
	RuleDiskLow:           {Name: RuleDiskLow, Threshold: 0.9, ForSeconds: 300, Enabled: true},
	RuleClockSkew:         {Name: RuleClockSkew, Threshold: 2, ForSeconds: 60, Enabled: true},
	RuleVerifyDiffs:       {Name: RuleVerifyDiffs, Threshold: 0, ForSeconds: 0, Enabled: true},
	RuleAuditSink:         {Name: RuleAuditSink, Threshold: 60, ForSeconds: 0, Enabled: true},
}

// rules are the effective settings: defaults, then the stored default overrides, then the
// per-project ones.
type rules struct {
	base    map[string]Rule
	project map[string]map[string]Rule
}

func (r rules) get(name, projectID string) Rule {
	if p, ok := r.project[projectID][name]; ok {
		return p
	}
	return r.base[name]
}

func loadRules(ctx context.Context, db *sql.DB, cmDB string) (rules, error) {
	r := rules{base: map[string]Rule{}, project: map[string]map[string]Rule{}}
	for k, v := range Defaults {
		r.base[k] = v
	}
	rows, err := db.QueryContext(ctx, "SELECT project_id, rule, threshold, for_seconds, enabled FROM "+sqlgen.QuoteIdent(cmDB)+".alert_rules")
	if err != nil {
		return r, fmt.Errorf("read alert rules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x Rule
		if err := rows.Scan(&x.ProjectID, &x.Name, &x.Threshold, &x.ForSeconds, &x.Enabled); err != nil {
			return r, fmt.Errorf("read alert rules: %w", err)
		}
		if x.ProjectID == "" {
			r.base[x.Name] = x
			continue
		}
		if r.project[x.ProjectID] == nil {
			r.project[x.ProjectID] = map[string]Rule{}
		}
		r.project[x.ProjectID][x.Name] = x
	}
	return r, rows.Err()
}

// SetRule stores an override (projectID empty: the default for every project).
func SetRule(ctx context.Context, db *sql.DB, cmDB string, r Rule) error {
	if _, ok := Defaults[r.Name]; !ok {
		return fmt.Errorf("unknown alert rule %q", r.Name)
	}
	_, err := db.ExecContext(ctx, "INSERT INTO "+sqlgen.QuoteIdent(cmDB)+".alert_rules (project_id, rule, threshold, for_seconds, enabled) VALUES (?,?,?,?,?) "+
		"ON DUPLICATE KEY UPDATE threshold = VALUES(threshold), for_seconds = VALUES(for_seconds), enabled = VALUES(enabled)",
		r.ProjectID, r.Name, r.Threshold, r.ForSeconds, r.Enabled)
	if err != nil {
		return fmt.Errorf("store alert rule %s: %w", r.Name, err)
	}
	return nil
}

// ListRules returns the effective default of every rule (its built-in default or the stored
// default override), then the per-project overrides, each list sorted by rule name.
func ListRules(ctx context.Context, db *sql.DB, cmDB string) ([]Rule, error) {
	r, err := loadRules(ctx, db, cmDB)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(r.base))
	for _, x := range r.base {
		out = append(out, x)
	}
	byName := func(a, b Rule) int { return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Name, b.Name)) }
	slices.SortFunc(out, byName)
	var perProject []Rule
	for _, m := range r.project {
		for _, x := range m {
			perProject = append(perProject, x)
		}
	}
	slices.SortFunc(perProject, byName)
	return append(out, perProject...), nil
}

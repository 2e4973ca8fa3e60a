// Package conflict decides what two-way sync does when both regions changed the same row: the
// kinds of conflict Incr-Sync detects on apply, the per-table policies, and the decision a
// policy takes for one conflict. Pure logic, no I/O: Incr-Sync (internal/incrsync) detects and
// records, this package decides.
//
// Every policy is symmetric in the sense that matters for convergence: the two directions of a
// pair, each deciding on its own target, pick the same surviving row (region priority and
// last-writer-wins compare the same facts from both sides; an update meeting a concurrent
// delete keeps the update on both sides).
package conflict

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kind is what apply found.
type Kind string

// The kinds of conflict.
const (
	InsertExists    Kind = "insert_exists"    // an INSERT found a row with its key
	UpdateMissing   Kind = "update_missing"   // an UPDATE found no row with the key of its before image
	UpdateDiffers   Kind = "update_differs"   // an UPDATE found the row, but not as its before image
	DeleteMissing   Kind = "delete_missing"   // a DELETE found no row
	DeleteDiffers   Kind = "delete_differs"   // a DELETE found the row, but not as its before image
	UniqueCollision Kind = "unique_collision" // the new image collides on a unique key with another row
)

// Kinds lists every kind (for docs and tests).
var Kinds = []Kind{InsertExists, UpdateMissing, UpdateDiffers, DeleteMissing, DeleteDiffers, UniqueCollision}

// Policy names.
const (
	Stop      = "stop"      // stop the direction at the conflict; an operator decides
	Ignore    = "ignore"    // keep the target's row
	Overwrite = "overwrite" // take the source's change
	Priority  = "priority"  // the region listed first in priority wins
	LWW       = "lww"       // last writer wins on a version/timestamp column; ties by priority
)

// Decision is what apply does with the conflicting row change.
type Decision string

// Decisions.
const (
	DecideStop       Decision = "stop"
	DecideKeepTarget Decision = "keep_target"
	DecideTakeSource Decision = "take_source"
)

// Rule is one table's policy. Column is the version/timestamp column of LWW (greater wins).
// MaxSkewMs bounds the clock skew LWW trusts (0: no bound): when the measured skew between the
// regions (plus its uncertainty) is larger, a conflict that LWW would decide by comparing the
// two regions' timestamps stops the direction instead (a timestamp written by a clock that far
// off says nothing about which write came last).
type Rule struct {
	Policy    string `json:"policy"`
	Column    string `json:"column,omitempty"`
	MaxSkewMs int    `json:"max_skew_ms,omitempty"`
}

// Config is a two-way pair's conflict handling: a default rule, per-table rules ("db.table" as
// the source names it; "db.*" for a database) and the region priority, highest first.
type Config struct {
	Default  Rule            `json:"default"`
	Tables   map[string]Rule `json:"tables,omitempty"`
	Priority []string        `json:"priority,omitempty"`
}

// Policies lists the valid policy names.
var Policies = []string{Stop, Ignore, Overwrite, Priority, LWW}

// Check validates a config: known policies, an LWW column where LWW is used, a priority list
// of distinct regions where priority or LWW is used (which needs regions).
func (c Config) Check() error {
	rules := map[string]Rule{"default": c.Default}
	for t, r := range c.Tables {
		if !strings.Contains(t, ".") {
			return fmt.Errorf("conflict rule %q: name a table as db.table or db.*", t)
		}
		rules[t] = r
	}
	needPriority := false
	names := make([]string, 0, len(rules))
	for n := range rules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := rules[n]
		if r.Policy == "" && n == "default" {
			continue // default: stop
		}
		if !slices.Contains(Policies, r.Policy) {
			return fmt.Errorf("conflict rule %s: unknown policy %q: use %s", n, r.Policy, strings.Join(Policies, ", "))
		}
		if r.Policy == LWW && r.Column == "" {
			return fmt.Errorf("conflict rule %s: lww needs column (the version or timestamp column the last writer sets)", n)
		}
		if r.Policy != LWW && (r.Column != "" || r.MaxSkewMs != 0) {
			return fmt.Errorf("conflict rule %s: column and max_skew_ms are only for lww", n)
		}
		if r.MaxSkewMs < 0 {
			return fmt.Errorf("conflict rule %s: max_skew_ms %d: use 0 (no bound) or a number of milliseconds", n, r.MaxSkewMs)
		}
		needPriority = needPriority || r.Policy == Priority || r.Policy == LWW
	}
	seen := map[string]bool{}
	for _, p := range c.Priority {
		if p == "" || seen[p] {
			return fmt.Errorf("conflict priority %v: list each region once", c.Priority)
		}
		seen[p] = true
	}
	if needPriority && len(c.Priority) < 2 {
		return fmt.Errorf("conflict policies priority and lww need priority: both regions, highest first")
	}
	return nil
}

// SkewBound is the smallest max_skew_ms of the rules as a duration (0: no rule bounds the
// skew): with one, the measured skew must reach the Incr-Syncs.
func (c Config) SkewBound() time.Duration {
	least := 0
	for _, r := range append([]Rule{c.Default}, slices.Collect(maps.Values(c.Tables))...) {
		if r.MaxSkewMs > 0 && (least == 0 || r.MaxSkewMs < least) {
			least = r.MaxSkewMs
		}
	}
	return time.Duration(least) * time.Millisecond
}

// RuleFor is the rule of a source table: its own, its database's, or the default (stop when
// the default names none).
func (c Config) RuleFor(db, table string) Rule {
	if r, ok := c.Tables[db+"."+table]; ok {
		return r
	}
	if r, ok := c.Tables[db+".*"]; ok {
		return r
	}
	if c.Default.Policy == "" {
		return Rule{Policy: Stop}
	}
	return c.Default
}

// Case is one conflict as apply saw it.
type Case struct {
	Kind         Kind
	SourceRegion string // where the change comes from
	TargetRegion string // where it is applied
	// Cmp compares the LWW column: +1 the source's value is greater (newer), -1 the target
	// row's, 0 equal. For a delete the source's value is its before image's. CmpKnown is false
	// when there is nothing to compare (no target row, a NULL on either side).
	Cmp      int
	CmpKnown bool
	// Skew is the measured clock skew between the regions, absolute, plus its uncertainty;
	// SkewKnown is false before the first measurement (LWW then trusts the clocks).
	Skew      time.Duration
	SkewKnown bool
}

// Decide returns what to do with a conflict under rule, with the regions ordered by priority.
func Decide(rule Rule, priority []string, c Case) Decision {
	if c.Kind == DeleteMissing && rule.Policy != Stop {
		return DecideKeepTarget // the row is gone on both sides: nothing to take
	}
	switch rule.Policy {
	case Ignore:
		return DecideKeepTarget
	case Overwrite:
		return DecideTakeSource
	case Priority:
		return byPriority(priority, c)
	case LWW:
		if SkewRefused(rule, c) {
			return DecideStop
		}
		return lww(priority, c)
	}
	return DecideStop
}

// SkewRefused reports whether LWW refuses to decide c because the regions' clocks are further
// apart than the rule trusts. Only the kinds decided by comparing the two timestamps are
// refused: an update of a deleted row is taken, a delete of a missing row kept, and a NULL
// timestamp decided by priority, whatever the clocks say. Both directions stop (no row is changed), so the regions cannot diverge.
func SkewRefused(rule Rule, c Case) bool {
	if rule.Policy != LWW || rule.MaxSkewMs <= 0 || !c.SkewKnown || !c.CmpKnown || c.Skew <= time.Duration(rule.MaxSkewMs)*time.Millisecond {
		return false
	}
	switch c.Kind {
	case UpdateMissing, DeleteMissing:
		return false
	}
	return true
}

// byPriority: the source's change wins when its region ranks first (an update meeting a
// concurrent delete: both sides end with the row of the region that ranks first).
func byPriority(priority []string, c Case) Decision {
	if outranks(priority, c.SourceRegion, c.TargetRegion) {
		return DecideTakeSource
	}
	return DecideKeepTarget
}

// lww: the greater version wins; a tie (or nothing to compare) goes by region priority. An
// update of a row the target deleted is taken (the delete has no version: update wins over a
// concurrent delete, as the other direction's delete_differs keeps the newer row); a delete of
// a row the target changed later is not.
func lww(priority []string, c Case) Decision {
	switch c.Kind {
	case UpdateMissing:
		return DecideTakeSource
	case DeleteDiffers:
		if c.CmpKnown && c.Cmp < 0 {
			return DecideKeepTarget
		}
		return DecideTakeSource
	}
	if c.CmpKnown && c.Cmp != 0 {
		if c.Cmp > 0 {
			return DecideTakeSource
		}
		return DecideKeepTarget
	}
	return byPriority(priority, c)
}

// outranks reports whether region a comes before b in priority (an unlisted region ranks last).
func outranks(priority []string, a, b string) bool {
	ia, ib := slices.Index(priority, a), slices.Index(priority, b)
	if ia < 0 {
		return false
	}
	return ib < 0 || ia < ib
}

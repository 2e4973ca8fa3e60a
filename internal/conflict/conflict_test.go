package conflict

import (
	"strings"
	"testing"
	"time"
)

var prio = []string{"hz", "hl"} // hz ranks first

func TestDecide(t *testing.T) {
	fromHZ := func(k Kind, cmp int, known bool) Case {
		return Case{Kind: k, SourceRegion: "hz", TargetRegion: "hl", Cmp: cmp, CmpKnown: known}
	}
	fromHL := func(k Kind, cmp int, known bool) Case {
		return Case{Kind: k, SourceRegion: "hl", TargetRegion: "hz", Cmp: cmp, CmpKnown: known}
	}
	lwwRule := Rule{Policy: LWW, Column: "updated_at"}
	boundRule := Rule{Policy: LWW, Column: "updated_at", MaxSkewMs: 500}
	skewed := func(c Case, d time.Duration) Case {
		c.Skew, c.SkewKnown = d, true
		return c
	}
	for _, c := range []struct {
		name string
		rule Rule
		c    Case
		want Decision
	}{
		{"stop stops every kind", Rule{Policy: Stop}, fromHZ(UpdateDiffers, 0, false), DecideStop},
		{"stop stops a delete of a missing row too", Rule{Policy: Stop}, fromHZ(DeleteMissing, 0, false), DecideStop},
		{"empty policy is stop", Rule{}, fromHZ(InsertExists, 0, false), DecideStop},
		{"ignore keeps the target", Rule{Policy: Ignore}, fromHZ(InsertExists, 1, true), DecideKeepTarget},
		{"overwrite takes the source", Rule{Policy: Overwrite}, fromHL(UpdateDiffers, -1, true), DecideTakeSource},
		{"overwrite of a missing delete: nothing to take", Rule{Policy: Overwrite}, fromHL(DeleteMissing, 0, false), DecideKeepTarget},
		{"priority: the first region's change wins", Rule{Policy: Priority}, fromHZ(UpdateDiffers, -1, true), DecideTakeSource},
		{"priority: the second region's change loses", Rule{Policy: Priority}, fromHL(UpdateDiffers, 1, true), DecideKeepTarget},
		{"priority: a unique collision from the first region wins", Rule{Policy: Priority}, fromHZ(UniqueCollision, 0, false), DecideTakeSource},
		{"lww: newer source wins", lwwRule, fromHL(UpdateDiffers, 1, true), DecideTakeSource},
		{"lww: newer target wins", lwwRule, fromHZ(InsertExists, -1, true), DecideKeepTarget},
		{"lww: a tie goes to the first region", lwwRule, fromHZ(UpdateDiffers, 0, true), DecideTakeSource},
		{"lww: a tie against the first region keeps the target", lwwRule, fromHL(UpdateDiffers, 0, true), DecideKeepTarget},
		{"lww: NULL versions go by priority", lwwRule, fromHL(InsertExists, 1, false), DecideKeepTarget},
		{"lww: an update of a deleted row is taken", lwwRule, fromHL(UpdateMissing, 0, false), DecideTakeSource},
		{"lww: a delete of a row changed later is not", lwwRule, fromHZ(DeleteDiffers, -1, true), DecideKeepTarget},
		{"lww: a delete of a row not changed later is", lwwRule, fromHL(DeleteDiffers, 0, true), DecideTakeSource},
		{"unlisted source region ranks last", Rule{Policy: Priority}, Case{Kind: UpdateDiffers, SourceRegion: "x", TargetRegion: "hl"}, DecideKeepTarget},
		// clock skew: beyond max_skew_ms, lww refuses what it would decide by the timestamps
		{"skew within the bound: lww decides", boundRule, skewed(fromHL(UpdateDiffers, 1, true), 400*time.Millisecond), DecideTakeSource},
		{"skew at the bound: lww decides", boundRule, skewed(fromHZ(InsertExists, -1, true), 500*time.Millisecond), DecideKeepTarget},
		{"skew over the bound: an update of a changed row stops", boundRule, skewed(fromHL(UpdateDiffers, 1, true), 501*time.Millisecond), DecideStop},
		{"skew over the bound: an insert of an existing key stops", boundRule, skewed(fromHZ(InsertExists, -1, true), 2*time.Second), DecideStop},
		{"skew over the bound: equal timestamps stop too", boundRule, skewed(fromHZ(UpdateDiffers, 0, true), 2*time.Second), DecideStop},
		{"skew over the bound: a delete of a changed row stops", boundRule, skewed(fromHZ(DeleteDiffers, -1, true), 2*time.Second), DecideStop},
		{"skew over the bound: a unique collision stops", boundRule, skewed(fromHL(UniqueCollision, 1, true), 2*time.Second), DecideStop},
		{"skew over the bound: an update of a deleted row is still taken", boundRule, skewed(fromHL(UpdateMissing, 0, false), 2*time.Second), DecideTakeSource},
		{"skew over the bound: a delete of a missing row is still kept", boundRule, skewed(fromHL(DeleteMissing, 0, false), 2*time.Second), DecideKeepTarget},
		{"skew over the bound: NULL timestamps go by priority", boundRule, skewed(fromHZ(InsertExists, 0, false), 2*time.Second), DecideTakeSource},
		{"skew not measured yet: lww decides", boundRule, fromHL(UpdateDiffers, 1, true), DecideTakeSource},
		{"no bound: any skew is trusted", lwwRule, skewed(fromHL(UpdateDiffers, 1, true), time.Hour), DecideTakeSource},
		{"priority ignores the skew", Rule{Policy: Priority}, skewed(fromHL(UpdateDiffers, 1, true), time.Hour), DecideKeepTarget},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.rule, prio, c.c); got != c.want {
				t.Fatalf("Decide(%+v, %+v) = %s, want %s", c.rule, c.c, got, c.want)
			}
		})
	}
}

// The two directions, each deciding on its own target, end with the same row for every
// concurrent pair of changes: that is what makes verification find 0 differences afterwards.
func TestPoliciesConverge(t *testing.T) {
	type change struct {
		del     bool
		version int
	}
	// a conflict between a change made in hz and one made in hl on the same existing row (version 0)
	kinds := func(src, tgt change) Kind {
		switch {
		case src.del && tgt.del:
			return DeleteMissing
		case src.del:
			return DeleteDiffers
		case tgt.del:
			return UpdateMissing
		}
		return UpdateDiffers
	}
	cmp := func(src, tgt change) (int, bool) {
		sv := src.version
		if src.del {
			sv = 0 // a delete compares its before image
		}
		if tgt.del {
			return 0, false
		}
		switch {
		case sv > tgt.version:
			return 1, true
		case sv < tgt.version:
			return -1, true
		}
		return 0, true
	}
	// outcome on the target: "src" or "tgt" change survives
	apply := func(d Decision, src, tgt change) change {
		if d == DecideTakeSource {
			return src
		}
		return tgt
	}
	changes := []change{{del: true}, {version: 1}, {version: 2}}
	for _, rule := range []Rule{{Policy: Priority}, {Policy: LWW, Column: "v"}} {
		for _, hz := range changes {
			for _, hl := range changes {
				c1, k1 := cmp(hz, hl)
				onHL := apply(Decide(rule, prio, Case{Kind: kinds(hz, hl), SourceRegion: "hz", TargetRegion: "hl", Cmp: c1, CmpKnown: k1}), hz, hl)
				c2, k2 := cmp(hl, hz)
				onHZ := apply(Decide(rule, prio, Case{Kind: kinds(hl, hz), SourceRegion: "hl", TargetRegion: "hz", Cmp: c2, CmpKnown: k2}), hl, hz)
				if onHL != onHZ {
					t.Errorf("%s: hz %+v vs hl %+v: hl ends with %+v, hz with %+v", rule.Policy, hz, hl, onHL, onHZ)
				}
			}
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // "" = valid
	}{
		{Config{}, ""},
		{Config{Default: Rule{Policy: Overwrite}, Tables: map[string]Rule{"shop.orders": {Policy: Ignore}}}, ""},
		{Config{Default: Rule{Policy: LWW, Column: "updated_at"}, Priority: []string{"a", "b"}}, ""},
		{Config{Default: Rule{Policy: "newest"}}, `unknown policy "newest"`},
		{Config{Default: Rule{Policy: LWW}, Priority: []string{"a", "b"}}, "lww needs column"},
		{Config{Default: Rule{Policy: Ignore, Column: "x"}}, "column and max_skew_ms are only for lww"},
		{Config{Default: Rule{Policy: Priority, MaxSkewMs: 100}, Priority: []string{"a", "b"}}, "column and max_skew_ms are only for lww"},
		{Config{Default: Rule{Policy: LWW, Column: "v", MaxSkewMs: -1}, Priority: []string{"a", "b"}}, "max_skew_ms -1"},
		{Config{Default: Rule{Policy: LWW, Column: "v", MaxSkewMs: 250}, Priority: []string{"a", "b"}}, ""},
		{Config{Default: Rule{Policy: Priority}}, "need priority"},
		{Config{Default: Rule{Policy: Priority}, Priority: []string{"a", "a"}}, "list each region once"},
		{Config{Tables: map[string]Rule{"orders": {Policy: Ignore}}}, "db.table"},
	} {
		err := c.cfg.Check()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if c.want == "" && err != nil || c.want != "" && (err == nil || !contains(got, c.want)) {
			t.Errorf("Check(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestSkewBound(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{Default: Rule{Policy: LWW, Column: "v"}}, 0},
		{Config{Default: Rule{Policy: LWW, Column: "v", MaxSkewMs: 300}}, 300 * time.Millisecond},
		{Config{Default: Rule{Policy: LWW, Column: "v", MaxSkewMs: 300}, Tables: map[string]Rule{"a.b": {Policy: LWW, Column: "v", MaxSkewMs: 50}, "a.*": {Policy: Ignore}}}, 50 * time.Millisecond},
		{Config{Tables: map[string]Rule{"a.b": {Policy: LWW, Column: "v", MaxSkewMs: 2000}}}, 2 * time.Second},
	} {
		if got := c.cfg.SkewBound(); got != c.want {
			t.Errorf("SkewBound(%+v) = %s, want %s", c.cfg, got, c.want)
		}
	}
}

func TestRuleFor(t *testing.T) {
	c := Config{Default: Rule{Policy: Ignore}, Tables: map[string]Rule{"shop.orders": {Policy: Overwrite}, "shop.*": {Policy: Priority}}}
	for table, want := range map[string]string{"orders": Overwrite, "items": Priority} {
		if got := c.RuleFor("shop", table).Policy; got != want {
			t.Errorf("RuleFor(shop.%s) = %s, want %s", table, got, want)
		}
	}
	if got := c.RuleFor("other", "t").Policy; got != Ignore {
		t.Errorf("default = %s", got)
	}
	if got := (Config{}).RuleFor("a", "b").Policy; got != Stop {
		t.Errorf("no default = %s, want stop", got)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

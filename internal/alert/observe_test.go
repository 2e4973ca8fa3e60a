package alert

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// execer runs statements on the fixture's MetaDB, failing the test on an error.
func (f *fixture) execer(t *testing.T) func(q string, args ...any) {
	return func(q string, args ...any) {
		t.Helper()
		if _, err := f.m.DB.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Each rule reads its condition from the MetaDB rows that carry it.
func TestObservations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db, cm, hb, rm := f.m.DB, "`"+f.m.Names.CM+"`", "`"+f.m.Names.Heartbeat+"`", "`"+f.m.Names.RM+"`"
	exec := f.execer(t)
	exec("INSERT INTO " + cm + ".regions (cm_location, region, region_cn, cm_url, is_default, heartbeat_db) VALUES (1, 'r1', 'r1', 'http://x:8088', 1, '" + f.m.Names.Heartbeat + "')")
	exec("INSERT INTO " + cm + ".hosts (ip, region, cm_port, console_port, supervisor_port, state) VALUES ('10.0.0.1','r1',8088,8089,9000,'ONLINE'), ('10.0.0.2','r1',8088,8089,9000,'DOWN')")
	exec("INSERT INTO "+hb+".heartbeats (host_ip, region, beat_at, node_time, disk_used_bytes, disk_total_bytes) VALUES ('10.0.0.1','r1', NOW(6), ?, 95, 100)",
		time.Now().UTC().Add(-5*time.Second))
	task := func(id, kind, state string, restarts int, status string) {
		exec("INSERT INTO "+cm+".tasks (id, project_id, kind, region, host, epoch, desired_state, state, spec, status, restarts) VALUES (?,'p1',?,'r1','10.0.0.1',1,'RUNNING',?,'{}',?,?)",
			id, kind, state, status, restarts)
	}
	task("p1-store", "store", "RUNNING", 0, `{"state":"RUNNING","metrics":{"rows_total":100,"retention_headroom_seconds":600}}`)
	task("p1-incr", "incr-sync", "RUNNING", 4, `{"state":"RUNNING","lag_seconds":2,"metrics":{"applied_rows_total":50}}`)
	task("p1-verify", "full-verify", "FAILED", 0, `{"state":"FAILED","error":{"code":"VERIFY_FAILED","message":"boom"},"metrics":{"rows_different":3,"rows_only_in_source":1}}`)
	exec("INSERT INTO " + rm + ".audit_sinks (sink, failing_since, last_error) VALUES ('http:x', NOW(6) - INTERVAL 90 SECOND, 'HTTP 503')")

	e := NewEvaluator(db, f.m.Names.CM, f.m.Names.RM, time.Second, f.n, quiet)
	var now time.Time
	_ = db.QueryRow("SELECT NOW(6)").Scan(&now)
	obs, err := e.observe(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, o := range obs {
		got[o.rule+"|"+o.subject] = o.value
	}
	for key, want := range map[string]func(float64) bool{
		RuleHostDown + "|10.0.0.2":          func(v float64) bool { return v == 1 },
		RuleHostDown + "|10.0.0.1":          func(v float64) bool { return v == 0 },
		RuleDiskLow + "|10.0.0.1":           func(v float64) bool { return v == 0.95 },
		RuleClockSkew + "|10.0.0.1":         func(v float64) bool { return v > 4 && v < 7 },
		RuleComponentFailed + "|p1-verify":  func(v float64) bool { return v == 1 },
		RuleComponentFailed + "|p1-incr":    func(v float64) bool { return v == 0 },
		RuleRestarting + "|p1-incr":         func(v float64) bool { return v == 4 },
		RuleLag + "|p1-incr":                func(v float64) bool { return v >= 2 && v < 10 },
		RuleRetentionHeadroom + "|p1-store": func(v float64) bool { return v == 600 },
		RuleVerifyDiffs + "|p1-verify":      func(v float64) bool { return v == 4 },
		RuleAuditSink + "|http:x":           func(v float64) bool { return v >= 89 && v < 120 },
		RuleNoProgress + "|p1":              func(v float64) bool { return v == 0 },
	} {
		v, ok := got[key]
		if !ok || !want(v) {
			t.Errorf("%s = %v (observed %v)", key, v, ok)
		}
	}
	// The Store moves and Incr-Sync does not: no progress grows.
	exec("UPDATE " + cm + ".tasks SET status = '{\"state\":\"RUNNING\",\"metrics\":{\"rows_total\":200,\"retention_headroom_seconds\":600}}' WHERE id = 'p1-store'")
	later := now.Add(3 * time.Second)
	obs, err = e.observe(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range obs {
		if o.rule == RuleNoProgress {
			found = true
			if o.value < 3 {
				t.Errorf("no progress %v after the Store moved and Incr-Sync did not: %s", o.value, fmt.Sprint(o))
			}
		}
	}
	if !found {
		t.Error("no no-progress observation")
	}
}

// The lag of an Incr-Sync whose row was last written a minute ago (its supervisor writes only
// news) is its reported lag while its node's heartbeat lists it as answering; it ages from the
// last sign of life when the heartbeat stops listing it, is of another epoch, or stops.
func TestLagAgesFromTheNodeHeartbeat(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db, cm, hb := f.m.DB, "`"+f.m.Names.CM+"`", "`"+f.m.Names.Heartbeat+"`"
	exec := f.execer(t)
	exec("INSERT INTO " + cm + ".regions (cm_location, region, region_cn, cm_url, is_default, heartbeat_db) VALUES (1, 'r1', 'r1', 'http://x:8088', 1, '" + f.m.Names.Heartbeat + "')")
	exec("INSERT INTO " + cm + ".hosts (ip, region, cm_port, console_port, supervisor_port, state) VALUES ('10.0.0.1','r1',8088,8089,9000,'ONLINE')")
	exec("INSERT INTO " + cm + ".tasks (id, project_id, kind, region, host, epoch, desired_state, state, spec, status, updated_at) VALUES " +
		"('p1-incr','p1','incr-sync','r1','10.0.0.1',2,'RUNNING','RUNNING','{}','{\"state\":\"RUNNING\",\"lag_seconds\":1}', NOW(6) - INTERVAL 60 SECOND)")
	e := NewEvaluator(db, f.m.Names.CM, f.m.Names.RM, time.Second, f.n, quiet)
	lag := func() float64 {
		t.Helper()
		var now time.Time
		_ = db.QueryRow("SELECT NOW(6)").Scan(&now)
		obs, err := e.observe(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range obs {
			if o.rule == RuleLag && o.subject == "p1-incr" {
				return o.value
			}
		}
		t.Fatal("no lag observation")
		return 0
	}
	if v := lag(); v < 60 || v > 70 {
		t.Errorf("no heartbeat: lag %v, want the row's age 60 s + 1 s", v)
	}
	beat := func(ago int, comps string) {
		exec("REPLACE INTO "+hb+".heartbeats (host_ip, region, beat_at, components) VALUES ('10.0.0.1','r1', NOW(6) - INTERVAL ? SECOND, ?)", ago, comps)
	}
	// The node's clock is an hour off the MetaDB's: its component last answered 20 s before
	// the beat (frozen since), by the node's clock.
	nodeNow := time.Now().UTC().Add(time.Hour)
	exec("REPLACE INTO "+hb+".heartbeats (host_ip, region, beat_at, node_time, components) VALUES ('10.0.0.1','r1', NOW(6), ?, ?)", nodeNow,
		fmt.Sprintf(`[{"task_id":"p1-incr","epoch":2,"up":false,"seen_at":%q}]`, nodeNow.Add(-20*time.Second).Format(time.RFC3339Nano)))
	if v := lag(); v < 20 || v > 25 {
		t.Errorf("frozen for 20 s by the node's clock: lag %v, want 21 s", v)
	}
	beat(0, `[{"task_id":"p1-incr","epoch":2,"up":true}]`)
	if v := lag(); v < 1 || v > 3 {
		t.Errorf("answering at the last beat: lag %v, want the reported 1 s", v)
	}
	for name, comps := range map[string]string{
		"not answering": `[{"task_id":"p1-incr","epoch":2,"up":false}]`,
		"other epoch":   `[{"task_id":"p1-incr","epoch":1,"up":true}]`,
		"not listed":    `[]`,
	} {
		beat(0, comps)
		if v := lag(); v < 60 {
			t.Errorf("%s: lag %v, want it aged from the row (60 s)", name, v)
		}
	}
	beat(30, `[{"task_id":"p1-incr","epoch":2,"up":true}]`) // the node stopped beating 30 s ago
	if v := lag(); v < 30 || v > 40 {
		t.Errorf("heartbeat 30 s old: lag %v, want 31 s", v)
	}
}

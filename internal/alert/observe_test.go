package alert

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Each rule reads its condition from the MetaDB rows that carry it.
func TestObservations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db, cm, hb, rm := f.m.DB, "`"+f.m.Names.CM+"`", "`"+f.m.Names.Heartbeat+"`", "`"+f.m.Names.RM+"`"
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
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

package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// auditReceiver stands in for the guide's SLS: an HTTP endpoint that can be down.
type auditReceiver struct {
	mu   sync.Mutex
	down bool
	ids  []int64
	recs map[int64]audit.Record
}

func (a *auditReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var body struct{ Records []audit.Record }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, rec := range body.Records {
		a.ids = append(a.ids, rec.ID)
		a.recs[rec.ID] = rec
	}
}

func (a *auditReceiver) setDown(d bool) {
	a.mu.Lock()
	a.down = d
	a.mu.Unlock()
}

// TestAuditTrail: actions from the OpenAPI, the CLI and `oms config set` are audit records with
// user, source, action, resource and result, a 256-byte UTF-8 name included; the HTTP sink is
// down at first (the failure shows on /metrics, records wait) and then receives every record in
// order; a file sink configured later gets the whole log, in order, too.
func TestAuditTrail(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta := testenv.StartMariaDB(t)
	rc := &auditReceiver{down: true, recs: map[int64]audit.Record{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := startClusterWith(t, meta, clusterOpts{config: "audit_enabled: true\naudit_sink: http\naudit_http_url: " + srv.URL + "/audit\n"}, "127.0.0.2")
	n := c.nodes[0]
	ctx := context.Background()
	res, err := config.LoadFile(n.configPath)
	if err != nil {
		t.Fatal(err)
	}
	rmDB := res.Config.RMDB
	mdb, err := metadb.Open(ctx, res.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()

	// OpenAPI: a data source whose name is 256 bytes of UTF-8 (86 characters: it fits the name
	// column; its audit row keeps it whole).
	longName := strings.Repeat("数", 85) + "x"
	_, apiErr := c.cli.CreateMysqlDataSource(ctx, api.CreateMysqlDataSourceRequest{Name: longName, Host: "127.0.0.1", Port: meta.Port, UserName: "root"})
	// CLI: a refused start.
	if out, err := c.runCLI(t, "project", "start", "np_missing"); err == nil {
		t.Fatalf("start of a missing project succeeded:\n%s", out)
	}
	// oms config set on a copy of the config (nothing is applied).
	cluster := filepath.Join(c.dir, "cluster.yaml")
	raw, _ := os.ReadFile(n.configPath)
	if err := os.WriteFile(cluster, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.runCLI(t, "config", "set", "cm_region_cn", "hangzhou-east", "-c", cluster, "--no-apply"); err != nil || strings.Contains(out, "warning") {
		t.Fatalf("oms config set: %v\n%s", err, out)
	}

	recs, err := audit.Query(ctx, mdb, rmDB, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ origin, action, resource string }{
		{audit.OriginAPI, api.ActionCreateMysqlDataSource, longName},
		{audit.OriginCLI, api.ActionStartProject, "np_missing"},
		{audit.OriginConfig, "config set", "cm_region_cn=hangzhou-east"},
	}
	if len(recs) != len(want) {
		t.Fatalf("audit records %+v", recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Origin != w.origin || r.Action != w.action || r.Resource != w.resource || r.User == "" || r.Source == "" {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
	}
	if recs[0].Success != (apiErr == nil) || recs[1].Success || recs[1].Detail == "" || !recs[2].Success || recs[0].User != "admin" {
		t.Errorf("results: %+v (api err %v)", recs, apiErr)
	}

	// The query: CLI with filters, and the CSV export of the whole log in order.
	out, err := c.runCLI(t, "audit", "list", "--csv", "--since", "1h")
	if err != nil {
		t.Fatalf("oms audit list --csv: %v\n%s", err, out)
	}
	rowsCSV, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rowsCSV) != len(recs)+1 || rowsCSV[0][0] != "id" {
		t.Fatalf("CSV export: %v\n%s", err, out)
	}
	for i, r := range recs {
		row := rowsCSV[i+1]
		if row[0] != strconv.FormatInt(r.ID, 10) || row[2] != r.Origin || row[5] != r.Action || row[6] != r.Resource {
			t.Errorf("CSV row %d: %v, want %+v", i, row, r)
		}
	}
	out, err = c.runCLI(t, "audit", "list", "--user", "admin", "--action", api.ActionStartProject)
	if err != nil || strings.Count(out, api.ActionStartProject) != 1 || strings.Contains(out, "config set") {
		t.Fatalf("oms audit list --user --action: %v\n%s", err, out)
	}
	if out, err := c.runCLI(t, "audit", "list", "--until", "1h"); err != nil || strings.Contains(out, api.ActionStartProject) {
		t.Fatalf("oms audit list --until 1h (an hour ago): %v\n%s", err, out)
	}

	// The sink is down: the node counts the failures; nothing is lost.
	// /metrics is mutual TLS: scrape with a monitor certificate, as Prometheus does.
	monDir := filepath.Join(t.TempDir(), "scraper-tls")
	if out, err := exec.Command(testenv.OMSBinary(t), "cert", "issue", "-c", n.configPath, "--monitor", "audit-test", "--out", monDir).CombinedOutput(); err != nil {
		t.Fatalf("oms cert issue: %v\n%s", err, out)
	}
	scraper := monitorClient(t, monDir)
	scenario.WaitFor(t, 30*time.Second, "audit sink failures on /metrics", func() (bool, string) {
		body, err := clientGet(scraper, fmt.Sprintf("https://%s:%d/metrics", n.ip, n.supPort))
		return err == nil && strings.Contains(body, metrics.AuditSinkFailures+"{") && !strings.Contains(body, metrics.AuditSinkFailures+`{host="`+n.ip+`",region="cn-hangzhou",sink="http:`+srv.URL+`/audit"} 0`), body
	})
	var failing sql.NullTime
	if err := mdb.QueryRow("SELECT failing_since FROM `" + rmDB + "`.audit_sinks").Scan(&failing); err != nil || !failing.Valid {
		t.Fatalf("failing sink not recorded: %v %v", err, failing)
	}
	rc.setDown(false)
	scenario.WaitFor(t, 60*time.Second, "every record at the HTTP sink", func() (bool, string) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.ids) >= len(recs), fmt.Sprint(rc.ids)
	})
	rc.mu.Lock()
	for i, r := range recs {
		if rc.ids[i] != r.ID || rc.recs[r.ID].Action != r.Action {
			t.Errorf("HTTP sink record %d: id %d, want %d (%s)", i, rc.ids[i], r.ID, r.Action)
		}
	}
	rc.mu.Unlock()

	// Another sink (a file) starts from the beginning of the log.
	n.stop()
	auditFile := filepath.Join(c.dir, "audit", "audit.log")
	cfgRaw, _ := os.ReadFile(n.configPath)
	cfgText := strings.Replace(string(cfgRaw), "audit_sink: http\n", "audit_sink: file\naudit_file: "+auditFile+"\n", 1)
	if err := os.WriteFile(n.configPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	all, _ := audit.Query(ctx, mdb, rmDB, audit.Filter{})
	scenario.WaitFor(t, 60*time.Second, "every record in the audit file", func() (bool, string) {
		got := fileRecords(auditFile)
		if len(got) < len(all) {
			return false, fmt.Sprintf("%d of %d", len(got), len(all))
		}
		for i, r := range all {
			if got[i].ID != r.ID || got[i].Action != r.Action {
				t.Fatalf("file record %d: %+v, want %+v", i, got[i], r)
			}
		}
		return true, ""
	})
}

func fileRecords(path string) []audit.Record {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r audit.Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

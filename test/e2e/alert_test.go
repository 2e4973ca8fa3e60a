package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/alert"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/testenv"
	"github.com/omsdev/oms/internal/testenv/scenario"
)

// webhookReceiver records signed alert notifications by idempotency key.
type webhookReceiver struct {
	secret string
	mu     sync.Mutex
	posts  map[string]int // idempotency key -> deliveries
	notes  map[string]alert.Notification
	bad    int
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Header.Get(alert.SignatureHeader) != alert.Sign(w.secret, body) {
		w.bad++
		http.Error(rw, "bad signature", http.StatusUnauthorized)
		return
	}
	var n alert.Notification
	_ = json.Unmarshal(body, &n)
	key := r.Header.Get(alert.IdempotencyHeader)
	w.posts[key]++
	w.notes[key] = n
}

// transitions returns, per state, the distinct notifications of alertID and their deliveries.
func (w *webhookReceiver) transitions(alertID string) (keys map[string][]string, deliveries int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys = map[string][]string{}
	for k, n := range w.notes {
		if n.AlertID == alertID {
			keys[n.State] = append(keys[n.State], k)
			deliveries += w.posts[k]
		}
	}
	return keys, deliveries
}

// TestLagAlertOnceAcrossFailover: two nodes; an Incr-Sync is frozen (SIGSTOP) under writes: the
// lag alert fires once to a signed webhook; the CM leader's node is killed meanwhile (and the
// alert evaluator's, when that is the other node), the other takes the evaluation over; after the
// Incr-Sync resumes the alert resolves once. Then the CLI lists
// it, test-sends and silences.
func TestLagAlertOnceAcrossFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scenario")
	}
	meta, src, dst := testenv.StartMariaDB(t), testenv.StartMariaDB(t), testenv.StartMariaDB(t)
	shop.Seed(t, src.DB())
	hook := &webhookReceiver{secret: "e2e-hook-secret", posts: map[string]int{}, notes: map[string]alert.Notification{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	c := startClusterWith(t, meta, clusterOpts{flags: []string{"--alert-interval", "1s", "--host-down-after", "120s"}}, "127.0.0.2", "127.0.0.3")
	ctx := context.Background()
	res, err := config.LoadFile(c.nodes[0].configPath)
	if err != nil {
		t.Fatal(err)
	}
	mdb, err := metadb.Open(ctx, res.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()

	if err := c.cli.SetAlertChannel(ctx, api.AlertChannel{Name: "ops", Kind: alert.KindWebhook, URL: hs.URL + "/hook", Secret: hook.secret, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	wl := shop.StartWorkload(src.DB(), 2, workloadPause)
	defer wl.Halt()
	pid := createShopProject(t, c, src, dst)
	if err := c.cli.SetAlertRule(ctx, api.AlertRule{Rule: alert.RuleLag, ProjectID: pid, Threshold: 8, ForSeconds: 3, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	scenario.WaitStep(t, c.cli, pid, api.StepIncr, api.StepMonitoring, 90*time.Second)
	comps, _ := c.cli.DescribeProjectComponents(ctx, pid)
	incr, _ := scenario.Component(comps, "incr-sync")
	alertID := alert.RuleLag + "|" + incr.ID

	pids := componentPIDs(c.dir, "incr-sync")
	if len(pids) != 1 {
		t.Fatalf("incr-sync processes %v", pids)
	}
	frozen := pids[0]
	t.Cleanup(func() { _ = syscall.Kill(frozen, syscall.SIGCONT) })
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("incr-sync %s (pid %d on %s) frozen", incr.ID, frozen, incr.Host)
	scenario.WaitFor(t, 60*time.Second, "the lag alert fired at the webhook", func() (bool, string) {
		k, _ := hook.transitions(alertID)
		return len(k[alert.StateFiring]) > 0, fmt.Sprint(k)
	})

	// Kill the CM leader's node while the alert fires, and the alert evaluator's if that is the
	// other node: the evaluator's lease moves each time it dies, and each victim comes back (it
	// kills its orphans and restarts its components).
	holder := func(lease string) string {
		var h string
		_ = mdb.QueryRow("SELECT holder FROM "+sqlgen.QuoteIdent(res.Config.CMDB)+".leases WHERE name = ? AND expires_at > NOW(6)", lease).Scan(&h)
		return h
	}
	cmLeader := c.nodeByIP(holder("cm-leader:" + res.Config.CMRegion))
	if cmLeader == nil {
		t.Fatal("no CM leader lease holder")
	}
	victims := []*node{cmLeader}
	if ev := c.nodeByIP(holder("alert-evaluator")); ev == nil {
		t.Fatal("no alert-evaluator lease holder")
	} else if ev != cmLeader {
		victims = append(victims, ev)
	}
	for _, victim := range victims {
		evaluator := holder("alert-evaluator")
		victim.kill9()
		t.Logf("killed %s (CM leader %v, alert evaluator %v)", victim.ip, victim == cmLeader, evaluator == victim.ip)
		if evaluator == victim.ip {
			scenario.WaitFor(t, 30*time.Second, "the other node evaluates alerts", func() (bool, string) {
				h := holder("alert-evaluator")
				return h != "" && h != victim.ip, h
			})
		}
		time.Sleep(3 * time.Second) //nolint:forbidigo // let the survivor evaluate the firing alert a few times; not synchronisation
		victim.start(t)
	}
	_ = syscall.Kill(frozen, syscall.SIGCONT)
	scenario.WaitFor(t, 90*time.Second, "the lag alert resolved at the webhook", func() (bool, string) {
		k, _ := hook.transitions(alertID)
		return len(k[alert.StateResolved]) > 0, fmt.Sprint(k)
	})
	time.Sleep(3 * time.Second) //nolint:forbidigo // a few more evaluations must not notify again; not synchronisation
	keys, deliveries := hook.transitions(alertID)
	if len(keys[alert.StateFiring]) != 1 || len(keys[alert.StateResolved]) != 1 || len(keys) != 2 {
		t.Fatalf("notifications of %s: %v, want one firing and one resolved", alertID, keys)
	}
	if deliveries != 2 {
		t.Logf("deliveries %d (a redelivery with the same key is allowed around a failover)", deliveries)
	}
	if hook.bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", hook.bad)
	}

	// The CLI: list, test-send, silence.
	out, err := c.runCLI(t, "alert", "list", "--project", pid)
	if err != nil || !strings.Contains(out, "resolved") || !strings.Contains(out, alert.RuleLag) {
		t.Fatalf("oms alert list: %v\n%s", err, out)
	}
	if out, err := c.runCLI(t, "alert", "test"); err != nil || !strings.Contains(out, "1 channel") {
		t.Fatalf("oms alert test: %v\n%s", err, out)
	}
	if k, _ := hook.transitions("test"); len(k["test"]) != 1 {
		t.Fatalf("test notification: %v", k)
	}
	if out, err := c.runCLI(t, "alert", "silence", "--rule", alert.RuleLag, "--for", "1h", "--reason", "e2e"); err != nil || !strings.Contains(out, "silence") {
		t.Fatalf("oms alert silence: %v\n%s", err, out)
	}
	wl.Halt()
	scenario.WaitFor(t, 90*time.Second, "source == target (row level)", func() (bool, string) { return shop.Same(src.DB(), dst.DB()) })
}

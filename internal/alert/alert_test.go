package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/metadb/metadbtest"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// hook is a webhook receiver that checks signatures and counts deliveries per idempotency key.
type hook struct {
	secret string
	mu     sync.Mutex
	byKey  map[string]int
	got    []Notification
	bad    int
	down   bool
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	if r.Header.Get(SignatureHeader) != Sign(h.secret, body) {
		h.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var n Notification
	_ = json.Unmarshal(body, &n)
	h.byKey[r.Header.Get(IdempotencyHeader)]++
	h.got = append(h.got, n)
}

func (h *hook) states(alertID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range h.got {
		if n.AlertID == alertID {
			out = append(out, n.State)
		}
	}
	return out
}

// smtpServer is a minimal SMTP receiver for the email channel.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func startSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { fmt.Fprintf(c, "%s\r\n", l) }
	say("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			say("250 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (s *smtpServer) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

type fixture struct {
	m    metadbtest.MetaDB
	hook *hook
	smtp *smtpServer
	n    *Notifier
}

func newFixture(t *testing.T) *fixture {
	m := metadbtest.Fresh(t)
	keys, err := secret.Load(context.Background(), m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{m: m, hook: &hook{secret: "hook-secret", byKey: map[string]int{}}, smtp: startSMTP(t), n: NewNotifier(m.DB, m.Names.CM, keys, quiet)}
	srv := httptest.NewServer(f.hook)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := f.n.SetChannel(ctx, Channel{Name: "ops-hook", Kind: KindWebhook, URL: srv.URL, Secret: "hook-secret", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.n.SetChannel(ctx, Channel{Name: "ops-mail", Kind: KindEmail, SMTPAddr: f.smtp.ln.Addr().String(), From: "oms@example.com", To: []string{"dba@example.com"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	return f
}

// setTask writes an incr-sync task row of project p1 reporting lag.
func (f *fixture) setTask(t *testing.T, lag float64) {
	st := fmt.Sprintf(`{"kind":"incr-sync","task_id":"p1-incr","state":"RUNNING","lag_seconds":%g,"metrics":{"applied_rows_total":%d},"updated_at":"2026-01-01T00:00:00Z"}`, lag, time.Now().UnixNano())
	_, err := f.m.DB.Exec("INSERT INTO `"+f.m.Names.CM+"`.tasks (id, project_id, kind, region, host, epoch, desired_state, state, spec, status) VALUES ('p1-incr','p1','incr-sync','r1','10.0.0.1',1,'RUNNING','RUNNING','{}',?) ON DUPLICATE KEY UPDATE status = VALUES(status)", st)
	if err != nil {
		t.Fatal(err)
	}
}

// The lag alert goes pending, firing (one notification per channel), resolved (one more), with
// evaluations alternating between two evaluators (a CM failover) and evaluations repeated: every
// transition is delivered exactly once per channel, signed.
func TestLagAlertExactlyOncePerTransition(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := SetRule(ctx, f.m.DB, f.m.Names.CM, Rule{Name: RuleLag, ProjectID: "p1", Threshold: 10, ForSeconds: 1, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	evs := []*Evaluator{NewEvaluator(f.m.DB, f.m.Names.CM, f.m.Names.RM, time.Second, f.n, quiet), NewEvaluator(f.m.DB, f.m.Names.CM, f.m.Names.RM, time.Second, f.n, quiet)}
	round := 0
	eval := func() {
		e := evs[round%2]
		round++
		if err := e.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.notifier.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.setTask(t, 60)
	eval()
	a, _ := List(ctx, f.m.DB, f.m.Names.CM, "", "p1")
	if len(a) != 1 || a[0].State != StatePending {
		t.Fatalf("after the first evaluation: %+v", a)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.hook.states("incr_lag|p1-incr")) == 0 && time.Now().Before(deadline) {
		f.setTask(t, 60)
		eval()
		time.Sleep(200 * time.Millisecond)
	}
	for range 4 {
		f.setTask(t, 70)
		eval()
	}
	f.setTask(t, 0.5)
	for range 4 {
		f.setTask(t, 0.5)
		eval()
	}
	if got := f.hook.states("incr_lag|p1-incr"); strings.Join(got, ",") != "firing,resolved" {
		t.Fatalf("webhook got %v, want firing then resolved once each", got)
	}
	for k, n := range f.hook.byKey {
		if n != 1 {
			t.Errorf("key %s delivered %d times", k, n)
		}
	}
	if f.hook.bad != 0 {
		t.Fatalf("%d badly signed deliveries", f.hook.bad)
	}
	mails := f.smtp.messages()
	if len(mails) != 2 || !strings.Contains(mails[0], "[oms FIRING] incr_lag p1-incr") || !strings.Contains(mails[1], "[oms RESOLVED]") {
		t.Fatalf("mails: %q", mails)
	}
}

// A webhook that is down gets the notification when it is back (at least once, never lost); a
// silence records transitions without sending; a test-send reaches every channel.
func TestDeliveryRetrySilenceAndTest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = SetRule(ctx, f.m.DB, f.m.Names.CM, Rule{Name: RuleLag, Threshold: 10, ForSeconds: 0, Enabled: true})
	e := NewEvaluator(f.m.DB, f.m.Names.CM, f.m.Names.RM, time.Second, f.n, quiet)
	f.hook.mu.Lock()
	f.hook.down = true
	f.hook.mu.Unlock()
	f.setTask(t, 60)
	if err := e.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	_ = f.n.Deliver(ctx)
	if len(f.hook.states("incr_lag|p1-incr")) != 0 {
		t.Fatal("delivered while down")
	}
	f.hook.mu.Lock()
	f.hook.down = false
	f.hook.mu.Unlock()
	if _, err := f.m.DB.Exec("UPDATE `" + f.m.Names.CM + "`.alert_outbox SET next_attempt_at = NOW(6)"); err != nil { // skip the backoff
		t.Fatal(err)
	}
	if err := f.n.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.hook.states("incr_lag|p1-incr"); len(got) != 1 || got[0] != StateFiring {
		t.Fatalf("after the webhook came back: %v", got)
	}
	if _, err := f.n.Silence(ctx, RuleLag, "", time.Now().Add(time.Hour), "admin", "maintenance"); err != nil {
		t.Fatal(err)
	}
	f.setTask(t, 0)
	_ = e.Evaluate(ctx)
	_ = f.n.Deliver(ctx)
	if got := f.hook.states("incr_lag|p1-incr"); len(got) != 1 {
		t.Fatalf("silenced resolution was sent: %v", got)
	}
	if a, _ := List(ctx, f.m.DB, f.m.Names.CM, StateResolved, ""); len(a) != 1 {
		t.Fatalf("silenced transition not recorded: %+v", a)
	}
	n, err := f.n.Test(ctx, "")
	if err != nil || n != 2 {
		t.Fatalf("test-send: %d %v", n, err)
	}
	if got := f.hook.states("test"); len(got) != 1 {
		t.Fatalf("test notification: %v", got)
	}
	chans, _ := f.n.Channels(ctx, false)
	for _, c := range chans {
		if c.Secret != "" || c.Password != "" {
			t.Fatalf("secret returned: %+v", c)
		}
	}
}

// TestListRules: every rule's default is listed (a stored default override replaces the
// built-in one), then the per-project overrides, in a stable order.
func TestListRules(t *testing.T) {
	m := metadbtest.Fresh(t)
	ctx := context.Background()
	for _, r := range []Rule{
		{Name: RuleLag, Threshold: 60, ForSeconds: 30, Enabled: true},
		{Name: RuleLag, ProjectID: "p2", Threshold: 5, ForSeconds: 0, Enabled: false},
		{Name: RuleDiskLow, ProjectID: "p1", Threshold: 0.5, ForSeconds: 10, Enabled: true},
	} {
		if err := SetRule(ctx, m.DB, m.Names.CM, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ListRules(ctx, m.DB, m.Names.CM)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(Defaults)+2 {
		t.Fatalf("%d rules, want %d defaults and 2 overrides: %+v", len(got), len(Defaults), got)
	}
	var lag Rule
	for _, r := range got[:len(Defaults)] {
		if r.ProjectID != "" {
			t.Errorf("a project's rule among the defaults: %+v", r)
		}
		if r.Name == RuleLag {
			lag = r
		}
	}
	if lag.Threshold != 60 || lag.ForSeconds != 30 {
		t.Errorf("default lag rule %+v, want the stored override 60 s for 30 s", lag)
	}
	if p := got[len(Defaults):]; p[0].ProjectID != "p1" || p[0].Name != RuleDiskLow || p[1].ProjectID != "p2" || p[1].Enabled {
		t.Errorf("per-project overrides %+v", p)
	}
}

// TestEmailSendTimeout: an SMTP server that accepts the connection and never answers fails the
// send within the timeout (smtp.SendMail waited forever and held the delivery loop); the test
// server's mail still goes through the bounded client.
func TestEmailSendTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // says nothing
			mu.Unlock()
		}
	}()
	n := NewNotifier(nil, "cm", nil, quiet)
	n.smtpTimeout = 500 * time.Millisecond
	payload, _ := json.Marshal(Notification{AlertID: "a1", Rule: RuleLag, State: "firing", Message: "lag"})
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- n.send(context.Background(), Channel{Name: "mail", Kind: KindEmail, SMTPAddr: ln.Addr().String(), From: "oms@x", To: []string{"ops@x"}}, "k1", payload)
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a silent SMTP server accepted the mail")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("the send gave up after %s, want about the 500 ms timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the send to a silent SMTP server did not return within 10 s")
	}
	srv := startSMTP(t)
	if err := n.send(context.Background(), Channel{Name: "mail", Kind: KindEmail, SMTPAddr: srv.ln.Addr().String(), From: "oms@x", To: []string{"ops@x"}}, "k2", payload); err != nil {
		t.Fatalf("send to a working SMTP server: %v", err)
	}
	if err := n.send(context.Background(), Channel{Name: "mail", Kind: KindEmail, SMTPAddr: srv.ln.Addr().String(), From: "oms@x", To: []string{"ops@x\r\nBcc: evil@x"}}, "k3", payload); err == nil {
		t.Fatal("an address with a line break was sent")
	}
}

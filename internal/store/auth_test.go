package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/clusterca"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/testenv"
)

// leafSource issues a certificate for id from a and serves it from memory.
func leafSource(t *testing.T, a *clusterca.Authority, id clustertls.Identity) clustertls.Source {
	t.Helper()
	l, err := a.Issue(id, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Material()
	if err != nil {
		t.Fatal(err)
	}
	var mem clustertls.Memory
	mem.Set(m)
	return &mem
}

// TestStreamNeedsClusterIdentity is the attack of issue 13 against a Store serving mutual TLS
// (as every Store a supervisor starts does): without a cluster certificate nothing is read,
// acknowledged or unregistered; with another task's certificate the real consumer's checkpoint
// cannot be moved or removed; ids and bodies are bounded; the consumer's own certificate works.
func TestStreamNeedsClusterIdentity(t *testing.T) {
	inst := testenv.Shared(t, "store")
	db := testenv.FreshDatabase(t, inst, "auth")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := clusterca.NewAuthority()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	files := clustertls.FilesIn(t.TempDir())
	leaf, err := a.Issue(clustertls.Task("store-1"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := files.Write(leaf); err != nil {
		t.Fatal(err)
	}
	start := gtidNow(t, inst)
	st := startStoreSpec(t, component.Spec{Kind: Kind, TaskID: "store-1", WorkDir: work, TLS: &files},
		Config{Source: sourceOf(inst), Start: StartConfig{GTIDSet: start}})
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("CREATE TABLE `%s`.t (id INT PRIMARY KEY, card VARCHAR(40))", db)); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.DB().ExecContext(ctx, fmt.Sprintf("INSERT INTO `%s`.t VALUES (1, 'card-4111111111111111')", db)); err != nil {
		t.Fatal(err)
	}
	base := "https://" + st.Addr()

	// The real consumer, task sync-1, reads with its certificate and acknowledges.
	owner := leafSource(t, a, clustertls.Task("sync-1"))
	consumer := clustertls.ConsumerID("sync-1")
	r, err := Dial(ctx, st.Addr(), ReadRequest{ConsumerID: consumer, From: start, TLS: owner})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	txns := readN(t, ctx, r, 2)
	if err := r.Ack(ctx, txns[0].GTID); err != nil {
		t.Fatalf("owner's ack: %v", err)
	}
	checkpoint := func() string {
		for _, c := range st.cons.List() {
			if c.ID == consumer {
				return c.Checkpoint
			}
		}
		return "<gone>"
	}
	before := checkpoint()
	consumersBefore := len(st.cons.List())

	call := func(c *http.Client, method, path, body string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b), nil
	}
	farAhead := `{"consumer":"` + consumer + `","gtid_set":"0-1-999999999"}`
	readPath := "/v1/read?" + url.Values{"consumer": {consumer}, "from": {""}}.Encode()

	// Plain HTTP: nothing.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get(strings.Replace(base, "https", "http", 1) + readPath); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || bytes.Contains(b, []byte("4111")) {
			t.Fatalf("plain HTTP read answered %d with %d bytes", resp.StatusCode, len(b))
		}
	}
	// TLS without a client certificate: 401 for everything, nothing changes.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.Pool(), MinVersion: tls.VersionTLS12}}}
	for _, c := range []struct{ method, path, body string }{
		{"GET", readPath, ""},
		{"GET", "/v1/read?consumer=attacker&from=", ""},
		{"POST", "/v1/ack", farAhead},
		{"POST", "/v1/unregister", `{"consumer":"` + consumer + `"}`},
		{"GET", "/v1/consumers", ""},
	} {
		code, body, err := call(anon, c.method, c.path, c.body)
		if err != nil || code != http.StatusUnauthorized || strings.Contains(body, "4111") {
			t.Errorf("anonymous %s %s: %d %.200s %v, want 401", c.method, c.path, code, body, err)
		}
	}
	// Another task's certificate (a stolen consumer id): 403, nothing changes.
	thief := leafSource(t, a, clustertls.Task("sync-2"))
	thiefClient := &http.Client{Timeout: 5 * time.Second, Transport: clustertls.Transport(thief, nil)}
	for _, c := range []struct{ method, path, body string }{
		{"GET", readPath, ""},
		{"POST", "/v1/ack", farAhead},
		{"POST", "/v1/unregister", `{"consumer":"` + consumer + `"}`},
		{"GET", "/v1/consumers", ""},
	} {
		code, body, err := call(thiefClient, c.method, c.path, c.body)
		var e omserr.Error
		_ = json.Unmarshal([]byte(body), &e)
		if err != nil || code != http.StatusForbidden || e.Code != omserr.ClusterForbidden {
			t.Errorf("other task %s %s: %d %.200s %v, want 403 %s", c.method, c.path, code, body, err, omserr.ClusterForbidden)
		}
	}
	if err := Ack(ctx, thief, st.Addr(), consumer, "0-1-999999999"); omserr.CodeOf(err) != omserr.ClusterForbidden {
		t.Errorf("store.Ack with another task's certificate: %v", err)
	}
	if got := checkpoint(); got != before {
		t.Errorf("checkpoint moved from %s to %s by refused calls", before, got)
	}
	if n := len(st.cons.List()); n != consumersBefore {
		t.Errorf("%d consumers after refused calls, had %d", n, consumersBefore)
	}
	// Bounds, even for a trusted caller.
	node := &http.Client{Timeout: 10 * time.Second, Transport: clustertls.Transport(leafSource(t, a, clustertls.Node("127.0.0.1")), nil)}
	if code, body, _ := call(node, "GET", "/v1/read?consumer="+strings.Repeat("c", MaxConsumerID+1), ""); code != http.StatusBadRequest {
		t.Errorf("%d-byte consumer id: %d %.200s, want 400", MaxConsumerID+1, code, body)
	}
	if code, _, _ := call(node, "GET", "/v1/read?consumer=a%0Ab", ""); code != http.StatusBadRequest {
		t.Errorf("consumer id with a newline: %d, want 400", code)
	}
	huge := strings.Repeat("c", 5<<20)
	// Over 64 KiB the request itself is refused by the server before any handler
	// (clustertls.NewServer; 400 or 431 depending on where net/http notices it).
	if code, _, err := call(node, "GET", "/v1/read?consumer="+strings.Repeat("c", 70<<10), ""); err != nil || (code != http.StatusBadRequest && code != http.StatusRequestHeaderFieldsTooLarge) {
		t.Errorf("70 KiB consumer id in a read: %d %v, want 400 or 431", code, err)
	}
	if code, _, err := call(node, "GET", "/v1/read?consumer="+huge, ""); err == nil && (code < 400 || code >= 500) {
		t.Errorf("5 MiB consumer id in a read: %d, want 4xx", code)
	}
	if code, _, err := call(node, "POST", "/v1/ack", `{"consumer":"`+huge+`","gtid_set":""}`); err == nil && code != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB consumer id in an ack: %d, want 413", code)
	}
	if n := len(st.cons.List()); n != consumersBefore {
		t.Errorf("%d consumers after oversized calls, had %d", n, consumersBefore)
	}
	// The node (the supervisor's identity) may list consumers.
	if code, body, err := call(node, "GET", "/v1/consumers", ""); err != nil || code != 200 || !strings.Contains(body, consumer) {
		t.Errorf("node lists consumers: %d %s %v", code, body, err)
	}
	// The owner may still ack and unregister.
	last := binlog.MustParseGTIDSet("mariadb", start)
	for _, x := range txns {
		_ = last.Add(x.GTID)
	}
	if err := Ack(ctx, owner, st.Addr(), consumer, last.String()); err != nil {
		t.Errorf("owner's second ack: %v", err)
	}
	if err := Unregister(ctx, owner, st.Addr(), consumer); err != nil {
		t.Errorf("owner's unregister: %v", err)
	}
}

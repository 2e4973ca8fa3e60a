package clustertls

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"

	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/omserr"
)

// Identity is who a certificate names: a node (by host IP) or a component (by task id).
type Identity struct {
	Kind string // KindNode or KindTask
	Name string
}

// Identity kinds.
const (
	KindNode    = "node"
	KindTask    = "task"
	KindMonitor = "monitor" // a metrics scraper (Prometheus): `oms cert issue --monitor NAME`
)

// Node is the identity of the node on host ip.
func Node(ip string) Identity { return Identity{KindNode, ip} }

// Task is the identity of the component running task id.
func Task(id string) Identity { return Identity{KindTask, id} }

// Monitor is the identity of a metrics scraper.
func Monitor(name string) Identity { return Identity{KindMonitor, name} }

func (i Identity) String() string { return "oms://" + i.Kind + "/" + url.PathEscape(i.Name) }

// URI is the identity as the certificate's URI SAN.
func (i Identity) URI() *url.URL {
	return &url.URL{Scheme: "oms", Host: i.Kind, Path: "/" + i.Name, RawPath: "/" + url.PathEscape(i.Name)}
}

// IdentityOf reads the identity from a verified certificate.
func IdentityOf(c *x509.Certificate) (Identity, bool) {
	for _, u := range c.URIs {
		if u.Scheme != "oms" || (u.Host != KindNode && u.Host != KindTask && u.Host != KindMonitor) {
			continue
		}
		name := strings.TrimPrefix(u.Path, "/")
		if name == "" {
			continue
		}
		return Identity{u.Host, name}, true
	}
	return Identity{}, false
}

// Caller is the identity of r's client certificate, verified against the cluster CAs; false when
// the client showed none.
func Caller(r *http.Request) (Identity, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return Identity{}, false
	}
	return IdentityOf(r.TLS.VerifiedChains[0][0])
}

// ConsumerID is the Store consumer id of an Incr-Sync task: the only consumer id the task's
// certificate may read, acknowledge or unregister (MayConsume).
func ConsumerID(taskID string) string { return "incr-" + taskID }

// MayConsume says whether id may use Store consumer: a node may (it holds the CA anyway), a task
// only its own consumer id.
func (i Identity) MayConsume(consumer string) bool {
	return i.Kind == KindNode || (i.Kind == KindTask && consumer == ConsumerID(i.Name))
}

// IsNode is an allow function for Guard: nodes only.
func IsNode(i Identity) bool { return i.Kind == KindNode }

// MayScrape is an allow function for Guard on /metrics: nodes and monitors.
func MayScrape(i Identity) bool { return i.Kind == KindNode || i.Kind == KindMonitor }

// AnyIdentity is an allow function for Guard: any node or component of the cluster.
func AnyIdentity(Identity) bool { return true }

// Unauthenticated is the answer to a caller without a cluster certificate (401).
func Unauthenticated() error {
	return omserr.New(omserr.ClusterUnauthenticated, "this endpoint needs a cluster client certificate",
		"only oms nodes and components may call it; use the console's OpenAPI (8089) instead")
}

// Forbidden is the answer to a cluster caller that may not do this (403).
func Forbidden(id Identity, what string) error {
	return omserr.New(omserr.ClusterForbidden, id.String()+" may not "+what, "a component may only use what its own task owns")
}

// Guard serves h only to callers with a verified cluster certificate that allow accepts: 401
// without one, 403 for another identity. Without TLS on the connection (a server started with no
// cluster TLS, e.g. a benchmark's hand-written spec) it serves everyone.
func Guard(allow func(Identity) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			id, ok := Caller(r)
			if !ok {
				httpx.Server{}.WriteError(w, r, Unauthenticated())
				return
			}
			if !allow(id) {
				httpx.Server{}.WriteError(w, r, Forbidden(id, "call "+r.URL.Path))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Health answers a health check: to an unauthenticated caller only {"status":"ok"} or
// {"status":"down"} (503), never the cause; to a cluster caller (or without TLS) also details and
// the error text.
func Health(check func(r *http.Request) (details map[string]any, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		details, err := check(r)
		_, trusted := Caller(r)
		trusted = trusted || r.TLS == nil
		body := map[string]any{"status": "ok"}
		code := http.StatusOK
		if err != nil {
			body["status"], code = "down", http.StatusServiceUnavailable
		}
		if trusted {
			for k, v := range details {
				body[k] = v
			}
			if err != nil {
				body["error"] = err.Error()
			}
		}
		httpx.WriteJSON(w, code, body)
	}
}

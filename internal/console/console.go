// Package console is the node's console service on port 8089: the OpenAPI `POST
// /api/v2?Action=<Name>` (HTTP Basic auth or a session cookie against bcrypt-hashed users with
// roles, OMS's response envelope, an audit row for every state-changing call and every refused
// login), the web console (embedded static assets, ui/) and GET /oms/health.
//
// It talks to the MetaDB (rm users and audit_log, cm hosts and the heartbeat database) and calls
// project.Service for data sources and projects. One route table maps actions to handlers that
// return (value, error); one wrapper encodes the envelope and maps omserr codes to HTTP status.
package console

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/project"
	"github.com/omsdev/oms/internal/sqlgen"
)

// authCacheTTL is how long a verified password is remembered (bcrypt costs ~50 ms a check; the
// CLI and UI poll).
const authCacheTTL = time.Minute

// Server is the console of one node.
type Server struct {
	db       *sql.DB
	rm       string
	names    metadb.Names
	projects *project.Service
	host     string
	log      *slog.Logger
	// nodeTransport reaches other nodes' supervisor ports (SetNodeTransport); nil: plain HTTP.
	nodeTransport http.RoundTripper
	routes        map[string]route

	mu    sync.Mutex
	cache map[string]time.Time // sha256(user, password, hash) -> expiry

	throttle    *throttle
	idleTimeout time.Duration
	dummyOnce   sync.Once
	dummy       []byte
	assets      *assets
}

// call is one request as a handler sees it.
type call struct {
	r     *http.Request
	w     http.ResponseWriter
	body  []byte
	user  string
	who   principal
	reqID string
	// resource names the object for the audit row (set by handlers).
	resource string
	page     *paging
	// attachment, set by a handler, is sent as the response body instead of the envelope.
	attachment *attachment
}

// attachment is a file download (DownloadVerificationFixSQL with attachment: true).
type attachment struct {
	name, contentType string
	body              []byte
}

type paging struct{ number, size, total int }

// decode reads the body strictly into v: bad JSON and unknown fields are 400, and so is a field
// longer than its `maxlen` (the MetaDB column it is stored in; see fieldLimit).
func (c *call) decode(v any) error {
	if err := httpx.DecodeStrict(c.body, v); err != nil {
		return err
	}
	return httpx.CheckLengths(v, fieldLimit)
}

type handler func(ctx context.Context, c *call) (any, error)

type route struct {
	h        handler
	mutating bool   // audited
	public   bool   // needs no credentials (Login)
	noCSRF   bool   // a session call without the CSRF header (DescribeSession)
	role     string // the weakest role allowed; default viewer, operator when mutating
}

// New returns a console server.
func New(db *sql.DB, names metadb.Names, projects *project.Service, host string, log *slog.Logger) *Server {
	s := &Server{db: db, rm: sqlgen.QuoteIdent(names.RM), names: names, projects: projects, host: host, log: log, cache: map[string]time.Time{},
		throttle: newThrottle(), idleTimeout: DefaultIdleTimeout, assets: loadAssets()}
	s.routes = s.allRoutes()
	return s
}

// allRoutes is every action with its role filled in.
func (s *Server) allRoutes() map[string]route {
	all := s.routeTable()
	for _, more := range []map[string]route{s.sessionRoutes(), s.extraRoutes(), s.nodeRoutes(), s.switchRoutes(), s.conflictRoutes()} {
		for k, rt := range more {
			all[k] = rt
		}
	}
	return all
}

// SetIdleTimeout sets how long an unused session lasts (default DefaultIdleTimeout).
func (s *Server) SetIdleTimeout(d time.Duration) { s.idleTimeout = d }

// EnsureAdmin creates the user admin with password on first start; an existing admin keeps its
// password (change it through the console, not by restarting with another one).
func (s *Server) EnsureAdmin(ctx context.Context, password string) (created bool, err error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.rm+".users WHERE username = 'admin'").Scan(&n); err != nil {
		return false, fmt.Errorf("look up admin user: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if password == "" {
		return false, omserr.New(omserr.APIAdminPasswordMissing, "no admin user exists yet and no admin password was given",
			"start the first node with OMS_ADMIN_PASSWORD set or --admin-password-file pointing to a file with the password")
	}
	if len(password) < 8 {
		return false, omserr.New(omserr.APIAdminPasswordWeak, "the admin password is shorter than 8 characters", "choose a longer password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return false, fmt.Errorf("hash admin password: %w", err)
	}
	res, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO "+s.rm+".users (username, password_hash, role) VALUES ('admin', ?, 'admin')", string(hash))
	if err != nil {
		return false, fmt.Errorf("create admin user: %w", err)
	}
	n64, _ := res.RowsAffected()
	return n64 == 1, nil
}

// Handler serves the console's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oms/health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		// Anyone may ask (load balancers, oms deploy): up or down, never the cause (it is logged).
		body := map[string]any{"status": "ok", "host": s.host}
		code := http.StatusOK
		if err := s.db.PingContext(ctx); err != nil {
			s.log.Warn("health: metadb unreachable", "err", err)
			body["status"], code = "down", http.StatusServiceUnavailable
		}
		httpx.WriteJSON(w, code, body)
	})
	mux.HandleFunc("/api/v2", s.serveAPI)
	s.serveUI(mux)
	return mux
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{r: r, w: w, reqID: newRequestID()}
	action := r.URL.Query().Get("Action")
	rt, known := s.routes[action]
	var val any
	err := func() error {
		if r.Method != http.MethodPost {
			return omserr.New(omserr.APIBadRequest, "method "+r.Method+" is not allowed", "use POST /api/v2?Action=<Name>")
		}
		if !(known && rt.public) {
			who, err := s.authenticate(r, rt.noCSRF)
			c.who, c.user = who, who.user
			if err != nil {
				return err
			}
		}
		if !known {
			return omserr.New(omserr.APIUnknownAction, fmt.Sprintf("unknown Action %q", action), "see docs/openapi.md for the actions")
		}
		if !rt.public {
			if err := authorize(c.who, action, rt); err != nil {
				return err
			}
		}
		body, err := httpx.ReadBody(r)
		if err != nil {
			return err
		}
		c.body = body
		val, err = rt.h(r.Context(), c)
		return err
	}()
	code := omserr.CodeOf(err)
	if (known && rt.mutating) || code == omserr.APIUnauthorized || code == omserr.APIForbidden || code == omserr.APITooManyRequests || code == omserr.APICSRFTokenInvalid {
		s.audit(c, action, err)
	}
	s.write(w, c, val, err, start)
}

func (s *Server) write(w http.ResponseWriter, c *call, val any, err error, start time.Time) {
	env := api.Envelope{Success: err == nil, RequestID: c.reqID, Cost: time.Since(start).Round(time.Millisecond).String()}
	status := http.StatusOK
	if err != nil {
		oe := httpx.Server{Internal: func(r *http.Request, err error) *omserr.Error {
			s.log.Error("api call failed", "action", r.URL.Query().Get("Action"), "request_id", c.reqID, "err", err)
			return omserr.New(omserr.APIInternalError, "internal error (request "+c.reqID+")", "see the node's log for this request id and retry")
		}}.Operator(c.r, err)
		status = omserr.HTTPStatus(oe.Code)
		msg := oe.Message
		if oe.Err != nil && oe.Code != omserr.APIInternalError {
			msg += ": " + oe.Err.Error()
		}
		env.Code, env.Message, env.Advice = oe.Code, msg, oe.Advice
		env.ErrorDetail = &api.ErrorDetail{Code: oe.Code, Level: "ERROR", Message: msg, Proposal: oe.Advice}
		if status == http.StatusUnauthorized && c.r.Header.Get(consoleHeader) == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="oms"`)
		}
		setRetryAfter(w, err)
	} else if a := c.attachment; a != nil {
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.name}))
		w.Header().Set("X-Request-Id", c.reqID)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(a.body)
		return
	} else {
		raw, merr := json.Marshal(val)
		if merr != nil {
			s.log.Error("encode api response", "err", merr)
		}
		env.Data = raw
		if c.page != nil {
			env.PageNumber, env.PageSize, env.TotalCount = c.page.number, c.page.size, c.page.total
		}
	}
	httpx.WriteJSON(w, status, env)
}

// audit writes one audit_log row; a failure to audit is logged (the call already happened).
func (s *Server) audit(c *call, action string, err error) {
	detail := ""
	if err != nil {
		detail = omserr.CodeOf(err)
		if detail == "" {
			detail = omserr.APIInternalError
		}
	}
	origin := audit.OriginAPI
	if strings.HasPrefix(c.r.UserAgent(), api.CLIUserAgent) {
		origin = audit.OriginCLI
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rec := audit.Record{Origin: origin, User: c.user, Source: c.r.RemoteAddr, Action: action, Resource: c.resource, Success: err == nil, Detail: detail, RequestID: c.reqID}
	if aerr := audit.Write(ctx, s.db, s.names.RM, rec, s.log); aerr != nil {
		s.log.Error("cannot write audit row", "action", action, "err", aerr)
	}
}

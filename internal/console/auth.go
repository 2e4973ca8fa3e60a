package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/omserr"
)

const (
	sessionCookie = "oms_session"
	csrfHeader    = "X-CSRF-Token"
	// consoleHeader marks calls of the browser UI: their 401 carries no WWW-Authenticate, so the
	// browser shows the login page instead of its own Basic-auth prompt.
	consoleHeader = "X-OMS-Console"
	// DefaultIdleTimeout ends a session nobody used for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// sessionMaxAge ends every session, used or not.
	sessionMaxAge = 12 * time.Hour
	// touchEvery bounds the writes that keep a session alive to one per session per interval.
	touchEvery = 30 * time.Second
)

// roleRank orders the roles; an unknown role ranks 0 and may call nothing.
var roleRank = map[string]int{api.RoleViewer: 1, api.RoleOperator: 2, api.RoleAdmin: 3}

// principal is who makes a call.
type principal struct {
	user, role string
	sessionID  string // sha256 of the cookie; "" for HTTP Basic
	csrf       string
}

// retryAfter tells write() to send a Retry-After header.
type retryAfter struct{ d time.Duration }

func (r *retryAfter) Error() string { return fmt.Sprintf("retry in %d s", r.seconds()) }
func (r *retryAfter) seconds() int  { return max(1, int((r.d+time.Second-1)/time.Second)) }

func unauthorized(msg string) error {
	return omserr.New(omserr.APIUnauthorized, msg, "log in again, or send HTTP Basic auth with a console user and password")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// clientIP is the address throttling counts against (the peer: a proxy in front counts as one
// client, which only makes the per-client limit stricter).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate finds the caller: HTTP Basic (the CLI) when sent, else the session cookie, whose
// CSRF token must come in the X-CSRF-Token header (unless noCSRF: DescribeSession, which a
// reloaded page calls to learn the token; a cross-site page cannot read its answer).
func (s *Server) authenticate(r *http.Request, noCSRF bool) (principal, error) {
	if user, pw, ok := r.BasicAuth(); ok {
		if user == "" {
			return principal{}, unauthorized("empty user name")
		}
		role, err := s.checkPassword(r.Context(), clientIP(r), user, pw)
		return principal{user: user, role: role}, err
	}
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return principal{}, unauthorized("missing credentials")
	}
	return s.sessionPrincipal(r, ck.Value, noCSRF)
}

func (s *Server) sessionPrincipal(r *http.Request, token string, noCSRF bool) (principal, error) {
	ctx := r.Context()
	p := principal{sessionID: hashToken(token)}
	var dbUser string
	var idle, age float64
	err := s.db.QueryRowContext(ctx, "SELECT s.username, s.csrf_token, u.username, u.role,"+
		" TIMESTAMPDIFF(MICROSECOND, s.last_seen_at, NOW(6)) / 1e6, TIMESTAMPDIFF(MICROSECOND, s.created_at, NOW(6)) / 1e6"+
		" FROM "+s.rm+".sessions s JOIN "+s.rm+".users u ON u.username = s.username WHERE s.id = ?", p.sessionID).
		Scan(&p.user, &p.csrf, &dbUser, &p.role, &idle, &age)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && dbUser != p.user) {
		return principal{}, unauthorized("the session has ended (logged out, or its user was deleted)")
	}
	if err != nil {
		return principal{}, fmt.Errorf("read session: %w", err)
	}
	if idle > s.idleTimeout.Seconds() || age > sessionMaxAge.Seconds() {
		s.endSession(ctx, p.sessionID)
		return principal{user: p.user}, unauthorized(fmt.Sprintf("the session expired (idle longer than %s, or older than %s)", s.idleTimeout, sessionMaxAge))
	}
	if !noCSRF && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(p.csrf)) != 1 {
		return principal{user: p.user}, omserr.New(omserr.APICSRFTokenInvalid, "missing or wrong "+csrfHeader+" header for this session",
			"send the csrfToken that Login or DescribeSession returned in the "+csrfHeader+" header")
	}
	if idle > touchEvery.Seconds() {
		if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".sessions SET last_seen_at = NOW(6) WHERE id = ?", p.sessionID); err != nil {
			return principal{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return p, nil
}

func (s *Server) endSession(ctx context.Context, id string) {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.rm+".sessions WHERE id = ?", id); err != nil {
		s.log.Warn("cannot delete session", "err", err)
	}
}

// lookupUser reads a user by its exact name: the column's collation would also match `ADMIN`,
// `admin   ` and `ádmin`, so the stored name is compared in Go.
func (s *Server) lookupUser(ctx context.Context, user string) (hash, role string, found bool, err error) {
	var dbUser string
	err = s.db.QueryRowContext(ctx, "SELECT username, password_hash, role FROM "+s.rm+".users WHERE username = ?", user).Scan(&dbUser, &hash, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read user: %w", err)
	}
	if dbUser != user {
		return "", "", false, nil
	}
	return hash, role, true, nil
}

// checkPassword verifies user's password under the login throttle. Unknown users cost the same
// bcrypt work as known ones, so timing does not tell which names exist.
func (s *Server) checkPassword(ctx context.Context, ip, user, pw string) (role string, err error) {
	keys := []string{"ip:" + ip, "user:" + audit.Truncate(user, 64)}
	if wait := s.throttle.blocked(keys...); wait > 0 {
		return "", omserr.Wrap(&retryAfter{wait}, omserr.APITooManyRequests, "too many failed logins from this client or for this user",
			"wait for the Retry-After seconds, then log in with the right password")
	}
	hash, role, found, err := s.lookupUser(ctx, user)
	if err != nil {
		return "", err
	}
	if !found {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(pw))
		s.throttle.fail(keys...)
		return "", unauthorized("wrong user name or password")
	}
	sum := sha256.Sum256([]byte(user + "\x00" + pw + "\x00" + hash))
	key := hex.EncodeToString(sum[:])
	s.mu.Lock()
	exp, hit := s.cache[key]
	s.mu.Unlock()
	if hit && time.Now().Before(exp) {
		s.throttle.succeed(keys...)
		return role, nil
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
		s.throttle.fail(keys...)
		return "", unauthorized("wrong user name or password")
	}
	s.throttle.succeed(keys...)
	s.mu.Lock()
	if len(s.cache) > 1000 {
		s.cache = map[string]time.Time{}
	}
	s.cache[key] = time.Now().Add(authCacheTTL)
	s.mu.Unlock()
	return role, nil
}

// dummyHash is a bcrypt hash of a random password at the cost real hashes use.
func (s *Server) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(randomHex(16)), bcrypt.DefaultCost)
		if err != nil {
			panic(fmt.Sprintf("bcrypt dummy hash: %v", err)) // only on a broken RNG
		}
		s.dummy = h
	})
	return s.dummy
}

// login checks the password and opens a session: an HttpOnly, SameSite=Strict cookie (Secure
// over TLS) and a CSRF token for the X-CSRF-Token header.
func (s *Server) login(ctx context.Context, c *call) (any, error) {
	var req api.LoginRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.user = req.UserName
	if req.UserName == "" {
		return nil, omserr.New(omserr.APIUnauthorized, "userName is empty", "enter your console user name")
	}
	role, err := s.checkPassword(ctx, clientIP(c.r), req.UserName, req.Password)
	if err != nil {
		return nil, err
	}
	token, csrf := randomHex(32), randomHex(32)
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.rm+".sessions WHERE last_seen_at < NOW(6) - INTERVAL ? SECOND OR created_at < NOW(6) - INTERVAL ? SECOND",
		int(s.idleTimeout.Seconds()), int(sessionMaxAge.Seconds())); err != nil {
		return nil, fmt.Errorf("drop expired sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO "+s.rm+".sessions (id, username, csrf_token, remote_addr) VALUES (?,?,?,?)",
		hashToken(token), req.UserName, csrf, audit.Truncate(c.r.RemoteAddr, 128)); err != nil {
		return nil, fmt.Errorf("store session: %w", err)
	}
	http.SetCookie(c.w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: c.r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return api.Session{UserName: req.UserName, Role: role, CSRFToken: csrf, IdleTimeoutSeconds: int(s.idleTimeout.Seconds())}, nil
}

func (s *Server) logout(ctx context.Context, c *call) (any, error) {
	var req api.Empty
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if c.who.sessionID != "" {
		s.endSession(ctx, c.who.sessionID)
	}
	http.SetCookie(c.w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: c.r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return api.Empty{}, nil
}

func (s *Server) describeSession(_ context.Context, c *call) (any, error) {
	var req api.Empty
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	return api.Session{UserName: c.who.user, Role: c.who.role, CSRFToken: c.who.csrf, IdleTimeoutSeconds: int(s.idleTimeout.Seconds())}, nil
}

// requiredRole is the weakest role that may call rt: its own, else operator for a state-changing
// action and viewer for a read (so a route added without a role is never open to everyone).
func requiredRole(rt route) string {
	switch {
	case rt.role != "":
		return rt.role
	case rt.mutating:
		return api.RoleOperator
	}
	return api.RoleViewer
}

// authorize refuses a call the caller's role does not allow.
func authorize(p principal, action string, rt route) error {
	need := requiredRole(rt)
	if roleRank[p.role] >= roleRank[need] {
		return nil
	}
	return omserr.New(omserr.APIForbidden, fmt.Sprintf("user %q (role %q) may not call %s, which needs role %s", p.user, p.role, action, need),
		"ask an admin to do it or to give your user a role that may")
}

// setRetryAfter adds the Retry-After header of a throttled call.
func setRetryAfter(w http.ResponseWriter, err error) {
	var ra *retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(ra.seconds()))
	}
}

// throttle counts failed logins per key (client address, user name): after freeFailures, each
// further failure blocks the key for twice as long as the last one, up to maxBlock. A success
// clears the key. Counts live in each node's memory (a region's nodes each count their own).
type throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	state map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

const (
	freeFailures = 5
	maxBlock     = 15 * time.Minute
	// forgetAfter drops a key that has not failed for this long.
	forgetAfter = 30 * time.Minute
)

func newThrottle() *throttle { return &throttle{now: time.Now, state: map[string]*failures{}} }

// blocked is how long the most blocked of keys must still wait (0: none is blocked).
func (t *throttle) blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now, wait := t.now(), time.Duration(0)
	for _, k := range keys {
		if f := t.state[k]; f != nil && f.until.After(now) {
			wait = max(wait, f.until.Sub(now))
		}
	}
	return wait
}

func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.state) > 100000 {
		for k, f := range t.state {
			if now.Sub(f.last) > forgetAfter {
				delete(t.state, k)
			}
		}
	}
	for _, k := range keys {
		f := t.state[k]
		if f == nil || now.Sub(f.last) > forgetAfter {
			f = &failures{}
			t.state[k] = f
		}
		f.n++
		f.last = now
		if f.n >= freeFailures {
			f.until = now.Add(min(maxBlock, time.Second<<min(f.n-freeFailures, 20)))
		}
	}
}

func (t *throttle) succeed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.state, k)
	}
}

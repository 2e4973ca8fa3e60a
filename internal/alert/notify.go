package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/secret"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Channel kinds.
const (
	KindWebhook = "webhook"
	KindEmail   = "email"
)

// SignatureHeader carries hex(HMAC-SHA256(secret, body)) as "sha256=<hex>" on every webhook.
const SignatureHeader = "X-OMS-Signature"

// IdempotencyHeader carries the notification's key: the same key is the same notification.
const IdempotencyHeader = "Idempotency-Key"

// Channel is where notifications go (the OpenAPI's type). Secret (webhook HMAC key) and
// Password (SMTP) are sealed in the MetaDB and never returned by the API.
type Channel = api.AlertChannel

// Notification is one transition as channels receive it (the webhook body).
type Notification struct {
	Key       string    `json:"idempotencyKey"`
	AlertID   string    `json:"alertId"`
	Rule      string    `json:"rule"`
	ProjectID string    `json:"projectId,omitempty"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"` // firing, resolved, or test
	Version   int64     `json:"version"`
	Value     float64   `json:"value"`
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
}

// sendTimeout bounds one webhook call or one email.
const sendTimeout = 10 * time.Second

// Notifier owns the outbox and the channels.
type Notifier struct {
	db     *sql.DB
	cm     string
	keys   *secret.Keyring
	client *http.Client
	// smtpTimeout bounds one email from the dial to QUIT.
	smtpTimeout time.Duration
	log         *slog.Logger
	sent        *prometheus.CounterVec
}

// NewNotifier returns the notifier of the cm database cmDB (unquoted); keys seals channel secrets.
func NewNotifier(db *sql.DB, cmDB string, keys *secret.Keyring, log *slog.Logger) *Notifier {
	return &Notifier{db: db, cm: sqlgen.QuoteIdent(cmDB), keys: keys, client: &http.Client{Timeout: sendTimeout}, smtpTimeout: sendTimeout, log: log,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metrics.AlertNotifications, Help: "notification attempts by result (sent, failed, silenced)"}, []string{"result"})}
}

// SetChannel stores (creates or replaces) a channel, sealing its secrets.
func (n *Notifier) SetChannel(ctx context.Context, c Channel) error {
	c.Secret = n.keys.SealString(c.Secret)
	c.Password = n.keys.SealString(c.Password)
	raw, _ := json.Marshal(c)
	_, err := n.db.ExecContext(ctx, "INSERT INTO "+n.cm+".alert_channels (name, kind, config, enabled) VALUES (?,?,?,?) "+
		"ON DUPLICATE KEY UPDATE kind = VALUES(kind), config = VALUES(config), enabled = VALUES(enabled)", c.Name, c.Kind, string(raw), c.Enabled)
	if err != nil {
		return fmt.Errorf("store alert channel %s: %w", c.Name, err)
	}
	return nil
}

// Channels returns the channels with their secrets opened (withSecrets) or blanked.
func (n *Notifier) Channels(ctx context.Context, withSecrets bool) ([]Channel, error) {
	rows, err := n.db.QueryContext(ctx, "SELECT config, enabled FROM "+n.cm+".alert_channels ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read alert channels: %w", err)
	}
	defer rows.Close()
	out := []Channel{}
	for rows.Next() {
		var raw []byte
		var c Channel
		if err := rows.Scan(&raw, &c.Enabled); err != nil {
			return nil, fmt.Errorf("read alert channels: %w", err)
		}
		enabled := c.Enabled
		if withSecrets {
			if raw, err = n.keys.OpenJSON(raw); err != nil {
				return nil, err
			}
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("read alert channels: %w", err)
		}
		c.Enabled = enabled
		if !withSecrets {
			c.Secret, c.Password = "", ""
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// enqueue adds one outbox row per enabled channel for n inside tx (silenced when a silence
// matches: recorded, not sent).
func (n *Notifier) enqueue(ctx context.Context, tx *sql.Tx, no Notification) error {
	var silenced bool
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) > 0 FROM "+n.cm+".alert_silences WHERE until_at > NOW(6) AND (rule = '' OR rule = ?) AND (project_id = '' OR project_id = ?)",
		no.Rule, no.ProjectID).Scan(&silenced); err != nil {
		return fmt.Errorf("read silences: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT name FROM "+n.cm+".alert_channels WHERE enabled = 1")
	if err != nil {
		return fmt.Errorf("read alert channels: %w", err)
	}
	var names []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		names = append(names, s)
	}
	rows.Close()
	for _, ch := range names {
		no.Key = fmt.Sprintf("%s|v%d|%s|%s", no.AlertID, no.Version, no.State, ch)
		if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO "+n.cm+".alert_outbox (idempotency_key, alert_id, channel, transition, payload, silenced, delivered_at) VALUES (?,?,?,?,?,?, IF(?, NOW(6), NULL))",
			no.Key, no.AlertID, ch, no.State, string(payloadJSON(no)), silenced, silenced); err != nil {
			return fmt.Errorf("queue notification %s: %w", no.Key, err)
		}
	}
	if silenced {
		n.sent.WithLabelValues("silenced").Add(float64(len(names)))
	}
	return nil
}

// Test queues a test notification to every enabled channel (or only channel) and delivers it now.
func (n *Notifier) Test(ctx context.Context, channel string) (int, error) {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var now time.Time
	if err := tx.QueryRowContext(ctx, "SELECT NOW(6)").Scan(&now); err != nil {
		return 0, err
	}
	chans, err := n.Channels(ctx, false)
	if err != nil {
		return 0, err
	}
	count := 0
	for _, c := range chans {
		if !c.Enabled || (channel != "" && c.Name != channel) {
			continue
		}
		no := Notification{AlertID: "test", Rule: "test", Subject: c.Name, State: "test", Version: now.UnixNano(), Message: "oms test notification", At: now}
		no.Key = fmt.Sprintf("test|%d|%s", now.UnixNano(), c.Name)
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+n.cm+".alert_outbox (idempotency_key, alert_id, channel, transition, payload) VALUES (?,?,?,?,?)",
			no.Key, no.AlertID, c.Name, no.State, string(payloadJSON(no))); err != nil {
			return 0, fmt.Errorf("queue test notification: %w", err)
		}
		count++
	}
	if count == 0 {
		return 0, ErrNoChannel
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return count, n.Deliver(ctx)
}

// Silence suppresses notifications of rule (empty: all) for projectID (empty: all) until until.
func (n *Notifier) Silence(ctx context.Context, rule, projectID string, until time.Time, by, reason string) (int64, error) {
	res, err := n.db.ExecContext(ctx, "INSERT INTO "+n.cm+".alert_silences (rule, project_id, until_at, created_by, reason) VALUES (?,?,?,?,?)",
		rule, projectID, until.UTC(), by, reason)
	if err != nil {
		return 0, fmt.Errorf("store silence: %w", err)
	}
	return res.LastInsertId()
}

// Deliver sends the outbox's due rows in order; a failed row is retried later with backoff.
func (n *Notifier) Deliver(ctx context.Context) error {
	chans, err := n.Channels(ctx, true)
	if err != nil {
		return err
	}
	byName := map[string]Channel{}
	for _, c := range chans {
		byName[c.Name] = c
	}
	rows, err := n.db.QueryContext(ctx, "SELECT id, idempotency_key, channel, payload, attempts FROM "+n.cm+".alert_outbox WHERE delivered_at IS NULL AND next_attempt_at <= NOW(6) ORDER BY id LIMIT 100")
	if err != nil {
		return fmt.Errorf("read alert outbox: %w", err)
	}
	type item struct {
		id           int64
		key, channel string
		payload      []byte
		attempts     int
	}
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.id, &it.key, &it.channel, &it.payload, &it.attempts); err != nil {
			rows.Close()
			return err
		}
		items = append(items, it)
	}
	rows.Close()
	for _, it := range items {
		// claim the row: a second leader during a lease change does not send it too
		res, err := n.db.ExecContext(ctx, "UPDATE "+n.cm+".alert_outbox SET next_attempt_at = NOW(6) + INTERVAL 30 SECOND WHERE id = ? AND delivered_at IS NULL AND next_attempt_at <= NOW(6)", it.id)
		if err != nil {
			return fmt.Errorf("claim notification %s: %w", it.key, err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			continue
		}
		c, ok := byName[it.channel]
		if !ok || !c.Enabled {
			err = fmt.Errorf("channel %s is gone or disabled", it.channel)
		} else {
			err = n.send(ctx, c, it.key, it.payload)
		}
		if err != nil {
			n.sent.WithLabelValues("failed").Inc()
			backoff := time.Duration(min(1<<min(it.attempts, 8), 300)) * time.Second
			_, _ = n.db.ExecContext(ctx, "UPDATE "+n.cm+".alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND WHERE id = ?",
				err.Error(), backoff.Microseconds(), it.id)
			n.log.Warn("alert notification failed; will retry", "key", it.key, "channel", it.channel, "err", err)
			continue
		}
		n.sent.WithLabelValues("sent").Inc()
		if _, err := n.db.ExecContext(ctx, "UPDATE "+n.cm+".alert_outbox SET delivered_at = NOW(6), attempts = attempts + 1, last_error = NULL WHERE id = ?", it.id); err != nil {
			return fmt.Errorf("mark notification %s delivered: %w", it.key, err)
		}
	}
	return nil
}

func (n *Notifier) send(ctx context.Context, c Channel, key string, payload []byte) error {
	switch c.Kind {
	case KindWebhook:
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(IdempotencyHeader, key)
		req.Header.Set(SignatureHeader, Sign(c.Secret, payload))
		resp, err := n.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("webhook %s answered %s: %s", c.URL, resp.Status, strings.TrimSpace(string(msg)))
		}
		return nil
	case KindEmail:
		var no Notification
		_ = json.Unmarshal(payload, &no)
		subject := fmt.Sprintf("[oms %s] %s %s", strings.ToUpper(no.State), no.Rule, no.Subject)
		var b strings.Builder
		fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%x@oms>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
			c.From, strings.Join(c.To, ", "), subject, sha256.Sum256([]byte(key)))
		fmt.Fprintf(&b, "%s\r\n\r\nalert: %s\r\nstate: %s\r\nvalue: %g\r\nat: %s\r\nkey: %s\r\n", no.Message, no.AlertID, no.State, no.Value, no.At.Format(time.RFC3339), key)
		return n.sendMail(ctx, c, []byte(b.String()))
	}
	return fmt.Errorf("channel %s has unknown kind %q", c.Name, c.Kind)
}

// sendMail is smtp.SendMail (STARTTLS when offered, PLAIN auth with a user) bounded by
// n.smtpTimeout from the dial to QUIT: a server that accepts and then stalls fails the attempt
// (retried later) instead of holding the delivery loop forever.
func (n *Notifier) sendMail(ctx context.Context, c Channel, msg []byte) error {
	for _, a := range append([]string{c.From}, c.To...) {
		if strings.ContainsAny(a, "\r\n") {
			return fmt.Errorf("email channel %s: address %q holds a line break", c.Name, a)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, n.smtpTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", c.SMTPAddr)
	if err != nil {
		return fmt.Errorf("email channel %s: %w", c.Name, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	host, _, _ := strings.Cut(c.SMTPAddr, ":")
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("email channel %s: greeting from %s: %w", c.Name, c.SMTPAddr, err)
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("email channel %s: STARTTLS: %w", c.Name, err)
		}
	}
	if c.User != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.User, c.Password, host)); err != nil {
			return fmt.Errorf("email channel %s: auth: %w", c.Name, err)
		}
	}
	if err := cl.Mail(c.From); err != nil {
		return fmt.Errorf("email channel %s: MAIL FROM: %w", c.Name, err)
	}
	for _, to := range c.To {
		if err := cl.Rcpt(to); err != nil {
			return fmt.Errorf("email channel %s: RCPT TO %s: %w", c.Name, to, err)
		}
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("email channel %s: DATA: %w", c.Name, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("email channel %s: message: %w", c.Name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email channel %s: message: %w", c.Name, err)
	}
	return cl.Quit()
}

// Sign is the webhook signature of body: "sha256=" + hex(HMAC-SHA256(secret, body)).
func Sign(secretKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secretKey))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

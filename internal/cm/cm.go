// Package cm is the cluster manager of one region: the host registry (regions and hosts rows of
// the cm database), host-down detection from the region's heartbeat database, placement of
// component tasks on healthy hosts of the right region with the least load, failover of a dead
// host's tasks to another host of the SAME region with a bumped epoch (the fencing token), and
// leadership of these background loops through leases in the cm database.
//
// Every node of a region runs a CM; the leases make one of them the region's leader (placement,
// host-down) and one node of all regions the project orchestrator. Each assignment is a
// compare-and-set on the task's epoch, so even two nodes that both believe they lead cannot give a
// task to two hosts. The CM serves GET /cm/health and GET /cm/hosts on its port (8088).
package cm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/httpx"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
	"github.com/omsdev/oms/internal/task"
)

// Defaults of Options: a dead node's tasks are placed elsewhere about DownAfter (plus one tick)
// after its last heartbeat. The lease TTL follows DownAfter unless set, so a dead leader is
// replaced as fast as a dead host is detected.
const (
	DefaultDownAfter = time.Duration(config.DefaultHostDownTimeout)
	DefaultInterval  = time.Second
	// DefaultLeaseTTL is for leases outside the CM's own loops (e.g. the audit exporter's),
	// whose holder need not change as fast as a host-down decision.
	DefaultLeaseTTL = 10 * time.Second
)

// Host states: the cm.hosts column's values live with its schema in internal/metadb, so that
// `oms upgrade` (deploy) can drain a host without importing this role package.
const (
	HostOnline   = metadb.HostOnline
	HostDown     = metadb.HostDown
	HostDraining = metadb.HostDraining
)

// Reconciler is the project orchestrator the CM leader drives (project.Service).
type Reconciler interface {
	Reconcile(ctx context.Context) error
}

// Options configure a CM.
type Options struct {
	Config    config.Config
	HostIP    string
	DataDir   string
	Version   string
	DownAfter time.Duration
	Interval  time.Duration
	LeaseTTL  time.Duration
	// Ports actually served by this node (flags may override the config's).
	ConsolePort, CMPort, SupervisorPort int
}

// CM is one node's cluster manager.
type CM struct {
	db     *sql.DB
	opt    Options
	cm, hb string // quoted database names
	tasks  *task.Table
	orch   Reconciler
	log    *slog.Logger
	mu     sync.Mutex
	leader map[string]bool // lease name -> held, for /cm/health
	link   contact         // this CM's own MetaDB round trips (only the Run goroutine touches it)
}

func (c *CM) isLeader(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader[name]
}

// New returns a CM for the node; orch may be nil (no orchestration).
func New(db *sql.DB, opt Options, orch Reconciler, log *slog.Logger) *CM {
	if opt.DownAfter <= 0 {
		opt.DownAfter = DefaultDownAfter
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = opt.DownAfter
	}
	n := metadb.NamesFrom(opt.Config)
	return &CM{db: db, opt: opt, cm: sqlgen.QuoteIdent(n.CM), hb: sqlgen.QuoteIdent(n.Heartbeat), tasks: task.NewTable(db, n.CM), orch: orch, log: log, leader: map[string]bool{}}
}

// Register writes this node's region and host rows (idempotent).
func (c *CM) Register(ctx context.Context) error {
	cfg := c.opt.Config
	var region string
	err := c.db.QueryRowContext(ctx, "SELECT region FROM "+c.cm+".regions WHERE cm_location = ?", cfg.CMLocation).Scan(&region)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = c.db.ExecContext(ctx, "INSERT INTO "+c.cm+".regions (cm_location, region, region_cn, cm_url, is_default, heartbeat_db) VALUES (?,?,?,?,?,?)",
			cfg.CMLocation, cfg.CMRegion, cfg.CMRegionCN, cfg.CMURL, cfg.CMIsDefault, cfg.HeartbeatDB)
		if err != nil {
			return omserr.Wrap(err, omserr.CMRegionConflict, fmt.Sprintf("cannot register region %s (cm_location %d)", cfg.CMRegion, cfg.CMLocation),
				"each region needs its own cm_region and cm_location; check the other regions' config.yaml")
		}
	case err != nil:
		return fmt.Errorf("read region: %w", err)
	case region != cfg.CMRegion:
		return omserr.New(omserr.CMRegionConflict, fmt.Sprintf("cm_location %d already belongs to region %s, not %s", cfg.CMLocation, region, cfg.CMRegion),
			"use a cm_location no other region uses")
	default:
		if _, err := c.db.ExecContext(ctx, "UPDATE "+c.cm+".regions SET cm_url = ?, is_default = ?, heartbeat_db = ? WHERE cm_location = ?",
			cfg.CMURL, cfg.CMIsDefault, cfg.HeartbeatDB, cfg.CMLocation); err != nil {
			return fmt.Errorf("update region: %w", err)
		}
	}
	_, err = c.db.ExecContext(ctx, `INSERT INTO `+c.cm+`.hosts (ip, region, cm_port, console_port, supervisor_port, state, version, data_dir) VALUES (?,?,?,?,?,?,?,?)
		ON DUPLICATE KEY UPDATE region = VALUES(region), cm_port = VALUES(cm_port), console_port = VALUES(console_port),
		supervisor_port = VALUES(supervisor_port), version = VALUES(version), data_dir = VALUES(data_dir)`,
		c.opt.HostIP, cfg.CMRegion, c.opt.CMPort, c.opt.ConsolePort, c.opt.SupervisorPort, HostOnline, c.opt.Version, c.opt.DataDir)
	if err != nil {
		return fmt.Errorf("register host %s: %w", c.opt.HostIP, err)
	}
	return nil
}

// Run runs the background loops until ctx ends: each tick it renews or takes the region lease
// (host-down detection, placement) and the orchestrator lease (projects).
func (c *CM) Run(ctx context.Context) error {
	go c.probeLoop(ctx)
	t := time.NewTicker(c.opt.Interval)
	defer t.Stop()
	for {
		c.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *CM) regionLease() string { return "cm-leader:" + c.opt.Config.CMRegion }

const orchestratorLease = "project-orchestrator"

func (c *CM) tick(ctx context.Context) {
	if ok := c.lead(ctx, c.regionLease()); ok {
		if err := c.detectDown(ctx); err != nil {
			c.log.Warn("host-down detection failed; retrying", "err", err)
		}
		if err := c.place(ctx); err != nil {
			c.log.Warn("placement failed; retrying", "err", err)
		}
	}
	if c.orch == nil {
		return
	}
	if !c.leadsCrossRegion(ctx) {
		c.mu.Lock()
		c.leader[orchestratorLease] = false // not renewed: it expires, the default region takes it
		c.mu.Unlock()
		return
	}
	if c.lead(ctx, orchestratorLease) {
		if err := c.orch.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("project orchestration failed; retrying", "err", err)
		}
	}
}

func (c *CM) lead(ctx context.Context, name string) bool {
	epoch, ok, err := AcquireLease(ctx, c.db, c.cm, name, c.opt.HostIP, c.opt.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("lease check failed", "lease", name, "err", err)
		}
		ok = false
		c.link.lost()
	}
	c.mu.Lock()
	was := c.leader[name]
	c.leader[name] = ok
	c.mu.Unlock()
	if ok != was {
		if ok {
			c.log.Info("took lease", "lease", name, "epoch", epoch)
		} else {
			c.log.Info("lost lease", "lease", name)
		}
	}
	return ok
}

// AcquireLease takes or renews the lease name for holder. It returns the lease's epoch (bumped
// each time the holder changes) and whether holder now holds it. The MetaDB's clock decides
// expiry, so node clocks do not matter.
//
// Each step is one autocommitted statement: a node frozen between two round trips (SIGSTOP, a
// paused VM) holds no row lock on the lease, so the rest of the cluster can take it over.
func AcquireLease(ctx context.Context, db *sql.DB, cmDB, name, holder string, ttl time.Duration) (int64, bool, error) {
	us := ttl.Microseconds()
	// LAST_INSERT_ID(expr) hands the row's new epoch back in the OK packet of the same statement.
	res, err := db.ExecContext(ctx, "UPDATE "+cmDB+".leases SET epoch = LAST_INSERT_ID(IF(holder = ?, epoch, epoch + 1)), holder = ?, expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE name = ? AND (holder = ? OR expires_at <= NOW(6))",
		holder, holder, us, name, holder)
	if err != nil {
		return 0, false, fmt.Errorf("lease %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		epoch, err := res.LastInsertId()
		if err != nil {
			return 0, false, fmt.Errorf("lease %s: %w", name, err)
		}
		return epoch, true, nil
	}
	// Held by another, or not there yet: the first asker creates it.
	res, err = db.ExecContext(ctx, "INSERT IGNORE INTO "+cmDB+".leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, NOW(6) + INTERVAL ? MICROSECOND)", name, holder, us)
	if err != nil {
		return 0, false, fmt.Errorf("lease %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return 1, true, nil
	}
	var epoch int64
	if err := db.QueryRowContext(ctx, "SELECT epoch FROM "+cmDB+".leases WHERE name = ?", name).Scan(&epoch); err != nil {
		return 0, false, fmt.Errorf("read lease %s: %w", name, err)
	}
	return epoch, false, nil
}

// detectDown marks hosts of this region DOWN whose last heartbeat is older than DownAfter, and
// ONLINE again when they beat.
//
// A heartbeat's age is evidence of a failure only if the MetaDB could have received a newer one:
// this CM must itself have been in continuous contact with the MetaDB for longer than DownAfter
// (see contact). After a MetaDB outage or stall of any length, or a pause of this CM, every host
// first gets DownAfter to beat again, so the outage alone never marks a host down.
func (c *CM) detectDown(ctx context.Context) error {
	trusted := c.link.continuousFor(time.Now()) > c.opt.DownAfter
	// A host that has not beaten yet is aged from its registration (it gets DownAfter to start
	// beating); a beat committed while this query runs can make the age slightly negative,
	// which is "just now", not "no heartbeat".
	rows, err := c.db.QueryContext(ctx, `SELECT h.ip, h.state, GREATEST(0, TIMESTAMPDIFF(MICROSECOND, COALESCE(b.beat_at, h.registered_at), NOW(6)))
		FROM `+c.cm+`.hosts h LEFT JOIN `+c.hb+`.heartbeats b ON b.host_ip = h.ip WHERE h.region = ?`, c.opt.Config.CMRegion)
	if err != nil {
		return fmt.Errorf("read heartbeats: %w", err)
	}
	type change struct{ ip, state string }
	var changes []change
	for rows.Next() {
		var ip, state string
		var ageUS int64
		if err := rows.Scan(&ip, &state, &ageUS); err != nil {
			rows.Close()
			return fmt.Errorf("read heartbeats: %w", err)
		}
		down := time.Duration(ageUS)*time.Microsecond > c.opt.DownAfter
		switch {
		case state == HostDraining:
		case down && !trusted:
			// not enough evidence yet: keep the state
		case down && state != HostDown:
			changes = append(changes, change{ip, HostDown})
		case !down && state != HostOnline:
			changes = append(changes, change{ip, HostOnline})
		}
	}
	rows.Close()
	for _, ch := range changes {
		if _, err := c.db.ExecContext(ctx, "UPDATE "+c.cm+".hosts SET state = ? WHERE ip = ?", ch.state, ch.ip); err != nil {
			return fmt.Errorf("set host %s %s: %w", ch.ip, ch.state, err)
		}
		if ch.state == HostDown {
			c.log.Warn("host down: no heartbeat", "host", ch.ip, "after", c.opt.DownAfter)
		} else {
			c.log.Info("host online", "host", ch.ip)
		}
	}
	return nil
}

// place assigns this region's unplaced tasks, and the tasks of DOWN hosts, to the ONLINE host
// with the least load (fewest tasks of the same project first, so a project's Store and
// Incr-Sync land on different hosts when they can, then fewest active tasks, then lowest CPU).
func (c *CM) place(ctx context.Context) error {
	type cand struct {
		ip      string
		load    int
		cpu     float64
		project map[string]int
	}
	hrows, err := c.db.QueryContext(ctx, `SELECT h.ip, COALESCE(b.cpu_pct, 0) FROM `+c.cm+`.hosts h LEFT JOIN `+c.hb+`.heartbeats b ON b.host_ip = h.ip
		WHERE h.region = ? AND h.state = ? ORDER BY h.ip`, c.opt.Config.CMRegion, HostOnline)
	if err != nil {
		return fmt.Errorf("read hosts: %w", err)
	}
	hosts := map[string]*cand{}
	var order []string
	for hrows.Next() {
		h := &cand{project: map[string]int{}}
		if err := hrows.Scan(&h.ip, &h.cpu); err != nil {
			hrows.Close()
			return err
		}
		hosts[h.ip] = h
		order = append(order, h.ip)
	}
	hrows.Close()

	tasks, err := c.tasks.InRegion(ctx, c.opt.Config.CMRegion)
	if err != nil {
		return err
	}
	var todo []task.Task
	for _, t := range tasks {
		if h, ok := hosts[t.Host]; ok {
			if t.Active() {
				h.load++
				h.project[t.ProjectID]++
			}
			continue
		}
		switch {
		case t.Desired == task.DesiredReleased:
			// Nobody runs it: released. The dead host's supervisor kills the orphan when it returns.
			if t.State != task.Released {
				if _, err := c.tasks.MarkReleased(ctx, t); err != nil {
					return err
				}
			}
		case t.State == task.Finished:
		default:
			todo = append(todo, t)
		}
	}
	for _, t := range todo {
		var best *cand
		for _, ip := range order {
			h := hosts[ip]
			if best == nil || h.project[t.ProjectID] < best.project[t.ProjectID] ||
				(h.project[t.ProjectID] == best.project[t.ProjectID] && (h.load < best.load || (h.load == best.load && h.cpu < best.cpu))) {
				best = h
			}
		}
		if best == nil {
			c.log.Warn("no online host in region for task", "task", t.ID, "region", c.opt.Config.CMRegion)
			return nil
		}
		epoch, ok, err := c.tasks.Assign(ctx, t, best.ip)
		if err != nil {
			return err
		}
		if ok {
			best.load++
			best.project[t.ProjectID]++
			if t.Host == "" {
				c.log.Info("task placed", "task", t.ID, "host", best.ip, "epoch", epoch)
			} else {
				c.log.Warn("task moved off a down host", "task", t.ID, "from", t.Host, "to", best.ip, "epoch", epoch)
			}
		}
	}
	return nil
}

// Handler serves the CM's HTTP endpoints: /cm/health says up/down to anyone and more to nodes;
// /cm/hosts only to nodes (cluster certificates, see internal/clustertls).
func (c *CM) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cm/health", clustertls.Health(func(r *http.Request) (map[string]any, error) {
		details := map[string]any{"region": c.opt.Config.CMRegion, "host": c.opt.HostIP,
			"leader": c.isLeader(c.regionLease()), "orchestrator": c.isLeader(orchestratorLease)}
		if err := c.db.PingContext(r.Context()); err != nil {
			return details, fmt.Errorf("metadb unreachable: %w", err)
		}
		return details, nil
	}))
	mux.Handle("GET /cm/hosts", clustertls.Guard(clustertls.IsNode, httpx.Server{Internal: func(_ *http.Request, err error) *omserr.Error {
		return omserr.Wrap(err, omserr.APIInternalError, "cannot list hosts: "+err.Error(), "check the MetaDB")
	}}.Handle(func(r *http.Request) (any, error) { return c.Hosts(r.Context()) })))
	return mux
}

// RecordCert writes the expiry of this node's cluster certificate into its hosts row (`oms host
// list` shows it).
func (c *CM) RecordCert(ctx context.Context, notAfter time.Time) {
	if _, err := c.db.ExecContext(ctx, "UPDATE "+c.cm+".hosts SET cert_not_after = ? WHERE ip = ?", notAfter.UTC(), c.opt.HostIP); err != nil && ctx.Err() == nil {
		c.log.Warn("cannot record the node certificate's expiry", "err", err)
	}
}

// HostRow is one host of this region.
type HostRow struct {
	IP    string `json:"ip"`
	State string `json:"state"`
}

// Hosts lists this region's hosts.
func (c *CM) Hosts(ctx context.Context) ([]HostRow, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT ip, state FROM "+c.cm+".hosts WHERE region = ? ORDER BY ip", c.opt.Config.CMRegion)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	out := []HostRow{}
	for rows.Next() {
		var h HostRow
		if err := rows.Scan(&h.IP, &h.State); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Package metadb owns oms's MetaDB: the connection, the server-version check, and the
// versioned schema migrations of its three databases — rm (console: users, data sources,
// projects, audit), cm (regions, hosts, resource groups, tasks, config, leases) and the
// region's heartbeat database.
//
// Each database records applied migrations in its own `oms_schema_migrations` table. Migrations
// only move forward, are each idempotent (a crash between a DDL and its record is repaired by the
// next run), and run under a MetaDB-wide named lock so two nodes initialising at once do not
// race. A database whose recorded version is newer than this binary knows is refused.
package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Kind names one of the three databases.
type Kind string

const (
	KindRM        Kind = "rm"
	KindCM        Kind = "cm"
	KindHeartbeat Kind = "heartbeat"
)

// Names are the configured database names.
type Names struct {
	RM, CM, Heartbeat string
}

// NamesFrom takes the names from a node config.
func NamesFrom(c config.Config) Names {
	return Names{RM: c.RMDB, CM: c.CMDB, Heartbeat: c.HeartbeatDB}
}

func (n Names) of(k Kind) string {
	switch k {
	case KindRM:
		return n.RM
	case KindCM:
		return n.CM
	}
	return n.Heartbeat
}

// SessionIdleTimeout is how long the MetaDB server keeps a node's silent session (its
// wait_timeout). A node frozen in the middle of a transaction (SIGSTOP, a VM pause) would
// otherwise hold its row locks for hours and stall every other node's lease, task and alert
// writes; the server ends such a session and rolls its transaction back after this long.
var SessionIdleTimeout = 20 * time.Second

// Open connects to the MetaDB server named by the config (no default database) and checks it
// answers.
func Open(ctx context.Context, c config.Config) (*sql.DB, error) {
	conn := c.MetaConn()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := conn.Open(pctx, mysqlconn.Options{
		ParseTime: true, ConnectTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxOpen: 16, ConnMaxLifetime: 10 * time.Minute,
		Params: map[string]string{
			"wait_timeout": strconv.Itoa(int(SessionIdleTimeout.Seconds())),
			// A lock held by a frozen session is waited for only briefly; the caller retries.
			"innodb_lock_wait_timeout": strconv.Itoa(int(SessionIdleTimeout.Seconds()) / 2),
		},
		ConnMaxIdleTime: SessionIdleTimeout / 2,
	})
	if err != nil {
		return nil, omserr.Wrap(err, omserr.MetaDBUnreachable,
			fmt.Sprintf("cannot connect to the MetaDB at %s as %s", conn.Addr(), c.MetaUser),
			"check oms_meta_host/oms_meta_port/oms_meta_user/oms_meta_password, oms_meta_tls_mode/oms_meta_tls_ca and that the server accepts connections from this host")
	}
	return db, nil
}

// ServerInfo is what the MetaDB server says it is.
type ServerInfo struct {
	Version string // SELECT VERSION()
	Product string // "MariaDB", "MySQL" or "OceanBase"
	Major   int
	Minor   int
}

// Supported lists what the MetaDB may be, for messages.
const Supported = "MySQL 5.7/8.x, MariaDB 10.5 or later, OceanBase MySQL tenants (all over the MySQL protocol)"

var verRe = regexp.MustCompile(`^(\d+)\.(\d+)`)

// ParseServerVersion classifies a VERSION() string (plus @@version_comment, which OceanBase sets)
// and says whether it is supported.
func ParseServerVersion(version, comment string) (ServerInfo, error) {
	info := ServerInfo{Version: version}
	m := verRe.FindStringSubmatch(version)
	if m != nil {
		info.Major, _ = strconv.Atoi(m[1])
		info.Minor, _ = strconv.Atoi(m[2])
	}
	lower := strings.ToLower(version + " " + comment)
	switch {
	case strings.Contains(lower, "oceanbase"):
		info.Product = "OceanBase"
		return info, nil
	case strings.Contains(lower, "mariadb"):
		info.Product = "MariaDB"
		if info.Major > 10 || (info.Major == 10 && info.Minor >= 5) {
			return info, nil
		}
	default:
		info.Product = "MySQL"
		if (info.Major == 5 && info.Minor >= 7) || info.Major == 8 || info.Major == 9 {
			return info, nil
		}
	}
	return info, omserr.New(omserr.MetaDBUnsupportedVersion,
		fmt.Sprintf("MetaDB server %q (%s %d.%d) is not supported", version, info.Product, info.Major, info.Minor),
		"use "+Supported)
}

// CheckServer reads and checks the server's version.
func CheckServer(ctx context.Context, db *sql.DB) (ServerInfo, error) {
	var version, comment string
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@version_comment").Scan(&version, &comment); err != nil {
		return ServerInfo{}, fmt.Errorf("read metadb version: %w", err)
	}
	return ParseServerVersion(version, comment)
}

// Existing returns which of the configured databases already exist (the wizard asks
// "continue?" when any does).
func Existing(ctx context.Context, db *sql.DB, n Names) ([]string, error) {
	var out []string
	for _, k := range []Kind{KindRM, KindCM, KindHeartbeat} {
		name := n.of(k)
		var got string
		err := db.QueryRowContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up database %s: %w", name, err)
		}
		out = append(out, name)
	}
	return out, nil
}

// DBReport says what Init did to one database.
type DBReport struct {
	Kind           Kind
	Name           string
	Existed        bool
	FromVersion    int
	ToVersion      int
	AppliedVersion []int
}

// Report is the result of Init.
type Report struct {
	Server    ServerInfo
	Databases []DBReport
}

// Changed reports whether Init created or migrated anything.
func (r Report) Changed() bool {
	for _, d := range r.Databases {
		if !d.Existed || len(d.AppliedVersion) > 0 {
			return true
		}
	}
	return false
}

const initLock = "oms_metadb_init"

// Init creates or upgrades the three databases to this binary's schema version. Running it again
// changes nothing. It refuses a database whose schema is newer than this binary.
func Init(ctx context.Context, db *sql.DB, n Names) (Report, error) {
	var rep Report
	info, err := CheckServer(ctx, db)
	if err != nil {
		return rep, err
	}
	rep.Server = info
	conn, err := db.Conn(ctx)
	if err != nil {
		return rep, fmt.Errorf("metadb init: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", initLock).Scan(&got); err != nil || !got.Valid || got.Int64 != 1 {
		return rep, omserr.Wrap(err, omserr.MetaDBLocked, "another node is initialising the MetaDB and did not finish within 60 s", "retry; if it persists, look for a hung `oms metadb init`")
	}
	defer conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", initLock) //nolint:errcheck // released with the session anyway

	existing, err := Existing(ctx, db, n)
	if err != nil {
		return rep, err
	}
	has := map[string]bool{}
	for _, e := range existing {
		has[e] = true
	}
	for _, k := range []Kind{KindRM, KindCM, KindHeartbeat} {
		r, err := migrate(ctx, conn, k, n.of(k), has[n.of(k)])
		if err != nil {
			return rep, err
		}
		rep.Databases = append(rep.Databases, r)
	}
	return rep, nil
}

func migrate(ctx context.Context, conn *sql.Conn, k Kind, name string, existed bool) (DBReport, error) {
	r := DBReport{Kind: k, Name: name, Existed: existed}
	q := sqlgen.QuoteIdent(name)
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+q+" DEFAULT CHARACTER SET utf8mb4"); err != nil {
		return r, notWritable(err, name)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+q+"."+migrationsTable); err != nil {
		return r, notWritable(err, name)
	}
	var cur sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version) FROM "+q+".oms_schema_migrations").Scan(&cur); err != nil {
		return r, fmt.Errorf("read schema version of %s: %w", name, err)
	}
	r.FromVersion = int(cur.Int64)
	steps := Migrations(k)
	latest := steps[len(steps)-1].Version
	if r.FromVersion > latest {
		return r, omserr.New(omserr.MetaDBSchemaNewer,
			fmt.Sprintf("database %s has schema version %d, newer than this binary's %d", name, r.FromVersion, latest),
			"run a newer oms binary (the MetaDB was upgraded by one); never downgrade the MetaDB")
	}
	for _, m := range steps {
		if m.Version <= r.FromVersion {
			continue
		}
		for _, stmt := range m.Statements {
			if _, err := conn.ExecContext(ctx, "USE "+q); err != nil {
				return r, fmt.Errorf("use %s: %w", name, err)
			}
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return r, omserr.Wrap(err, omserr.MetaDBMigrationFailed,
					fmt.Sprintf("migration %d (%s) of %s failed", m.Version, m.Name, name),
					"fix the cause and run `oms metadb init` again; migrations are idempotent")
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+q+".oms_schema_migrations (version, name, binary_version) VALUES (?, ?, ?)",
			m.Version, m.Name, binaryVersion()); err != nil {
			return r, fmt.Errorf("record migration %d of %s: %w", m.Version, name, err)
		}
		r.AppliedVersion = append(r.AppliedVersion, m.Version)
	}
	r.ToVersion = latest
	return r, nil
}

func notWritable(err error, name string) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1044 || me.Number == 1045 || me.Number == 1142 || me.Number == 1227 || me.Number == 1290) {
		return omserr.Wrap(err, omserr.MetaDBNotWritable,
			fmt.Sprintf("the MetaDB user cannot create or write database %s", name),
			fmt.Sprintf("GRANT ALL ON `%s`.* TO the oms_meta_user, or create the database for it", name))
	}
	return fmt.Errorf("create %s: %w", name, err)
}

// SchemaVersion returns the recorded version of a database (0 when it has none).
func SchemaVersion(ctx context.Context, db *sql.DB, name string) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM "+sqlgen.QuoteIdent(name)+".oms_schema_migrations").Scan(&v)
	return int(v.Int64), err
}

// States of a host in cm.hosts (the CM sets ONLINE/DOWN; `oms upgrade` sets DRAINING before it
// replaces a node: placement uses ONLINE hosts only, so the host's tasks move to the others; it
// stays DRAINING, beating or not, until the upgrade marks it ONLINE again).
const (
	HostOnline   = "ONLINE"
	HostDown     = "DOWN"
	HostDraining = "DRAINING"
)

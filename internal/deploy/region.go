package deploy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/config"
	"github.com/omsdev/oms/internal/metadb"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/sqlgen"
)

// ProbeMetaDB connects to the MetaDB, checks the server and returns which of the configured
// databases already exist (the wizard's "already exist, continue?" question).
func ProbeMetaDB(ctx context.Context, c config.Config) ([]string, error) {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := metadb.CheckServer(ctx, db); err != nil {
		return nil, err
	}
	return metadb.Existing(ctx, db, metadb.NamesFrom(c))
}

// SetupRegion is a region's one-time set-up: the rm, cm and the region's heartbeat databases at
// this binary's schema version, and the region's row in cm.regions. Repeating it changes nothing;
// it refuses a region that contradicts one already registered (another default region, a
// cm_location or heartbeat database taken by another region).
func SetupRegion(ctx context.Context, c config.Config) (metadb.Report, error) {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return metadb.Report{}, err
	}
	defer db.Close()
	rep, err := metadb.Init(ctx, db, metadb.NamesFrom(c))
	if err != nil {
		return rep, err
	}
	return rep, upsertRegion(ctx, db, c)
}

func upsertRegion(ctx context.Context, db *sql.DB, c config.Config) error {
	existing, err := registeredRegions(ctx, db, c.CMDB)
	if err != nil {
		return err
	}
	if err := RegionConflict(existing, c); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "INSERT INTO "+sqlgen.Table(c.CMDB, "regions")+` (cm_location, region, region_cn, cm_url, is_default, heartbeat_db)
		VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE region_cn = VALUES(region_cn), cm_url = VALUES(cm_url),
		is_default = VALUES(is_default), heartbeat_db = VALUES(heartbeat_db)`,
		c.CMLocation, c.CMRegion, c.CMRegionCN, c.CMURL, c.CMIsDefault, c.HeartbeatDB)
	if err != nil {
		return fmt.Errorf("register region %s: %w", c.CMRegion, err)
	}
	return nil
}

// RegionConflict refuses a region that contradicts one already registered: the same name with
// another cm_location, a cm_location or heartbeat database taken by another region, or a second
// default region. The region itself (same name and cm_location) is no conflict: deploying it
// again updates it.
func RegionConflict(existing []config.Config, c config.Config) error {
	for _, r := range existing {
		if r.CMRegion == c.CMRegion && r.CMLocation == c.CMLocation {
			continue
		}
		switch {
		case r.CMRegion == c.CMRegion:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("region %s is registered with cm_location %d, not %d", r.CMRegion, r.CMLocation, c.CMLocation),
				fmt.Sprintf("keep cm_location: %d for region %s", r.CMLocation, r.CMRegion))
		case r.CMLocation == c.CMLocation:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("cm_location %d is already used by region %s", r.CMLocation, r.CMRegion),
				"choose a cm_location no other region uses ("+registeredList(existing)+")")
		case r.HeartbeatDB == c.HeartbeatDB:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("heartbeat database %s is already used by region %s", r.HeartbeatDB, r.CMRegion),
				"give this region its own drc_cm_heartbeat_db (the wizard proposes a free name)")
		case r.CMIsDefault && c.CMIsDefault:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("region %s is already the default region (cm_is_default)", r.CMRegion),
				"set cm_is_default: false for this region; only one region may be the default")
		}
	}
	return nil
}

func registeredList(rs []config.Config) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s (cm_location %d)", r.CMRegion, r.CMLocation))
	}
	sort.Strings(s)
	return "registered: " + strings.Join(s, ", ")
}

// RegisteredRegions reads the regions already registered in the MetaDB (none when the cm
// database or its regions table does not exist yet), each with its region keys and the nodes
// registered in it, so a later deployment extends the cluster instead of overwriting it.
func RegisteredRegions(ctx context.Context, c config.Config) ([]config.Config, error) {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return registeredRegions(ctx, db, c.CMDB)
}

func registeredRegions(ctx context.Context, db *sql.DB, cmDB string) ([]config.Config, error) {
	rows, err := db.QueryContext(ctx, "SELECT cm_location, region, region_cn, cm_url, is_default, heartbeat_db FROM "+sqlgen.Table(cmDB, "regions")+" ORDER BY created_at, cm_location")
	if missingSchema(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	defer rows.Close()
	var out []config.Config
	for rows.Next() {
		var r config.Config
		if err := rows.Scan(&r.CMLocation, &r.CMRegion, &r.CMRegionCN, &r.CMURL, &r.CMIsDefault, &r.HeartbeatDB); err != nil {
			return nil, fmt.Errorf("read regions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read regions: %w", err)
	}
	hosts, err := db.QueryContext(ctx, "SELECT ip, region FROM "+sqlgen.Table(cmDB, "hosts")+" ORDER BY registered_at, ip")
	if missingSchema(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	defer hosts.Close()
	for hosts.Next() {
		var ip, region string
		if err := hosts.Scan(&ip, &region); err != nil {
			return nil, fmt.Errorf("read hosts: %w", err)
		}
		for i := range out {
			if out[i].CMRegion == region {
				out[i].CMNodes = append(out[i].CMNodes, ip)
			}
		}
	}
	return out, hosts.Err()
}

// missingSchema: the cm database or the table does not exist (nothing set up yet).
func missingSchema(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)
}

// hostRegistered reports whether ip has a row in cm.hosts (a node registers itself on start).
func hostRegistered(ctx context.Context, c config.Config, ip string) (bool, error) {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var got string
	err = db.QueryRowContext(ctx, "SELECT ip FROM "+sqlgen.Table(c.CMDB, "hosts")+" WHERE ip = ?", ip).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) || missingSchema(err) {
		return false, nil // no such host, or the region is not set up yet
	}
	if err != nil {
		return false, fmt.Errorf("look up host %s: %w", ip, err)
	}
	return true, nil
}

// unregisterHost removes a host a failed installation registered, so no half-registered host
// stays behind.
func unregisterHost(ctx context.Context, c config.Config, ip string) error {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DELETE FROM "+sqlgen.Table(c.CMDB, "hosts")+" WHERE ip = ?", ip)
	if missingSchema(err) {
		return nil // the region was never set up: nothing registered
	}
	if err != nil {
		return fmt.Errorf("unregister host %s: %w", ip, err)
	}
	return nil
}

// metaUnix is the MetaDB server's clock in unix seconds.
func metaUnix(ctx context.Context, c config.Config) (int64, error) {
	db, err := metadb.Open(ctx, c)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var t int64
	if err := db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP()").Scan(&t); err != nil {
		return 0, fmt.Errorf("read metadb clock: %w", err)
	}
	return t, nil
}

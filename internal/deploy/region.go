package deploy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	regions := sqlgen.Table(c.CMDB, "regions")
	rows, err := db.QueryContext(ctx, "SELECT cm_location, region, is_default, heartbeat_db FROM "+regions)
	if err != nil {
		return fmt.Errorf("read regions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var loc int
		var name, hb string
		var def bool
		if err := rows.Scan(&loc, &name, &def, &hb); err != nil {
			return fmt.Errorf("read regions: %w", err)
		}
		if name == c.CMRegion && loc == c.CMLocation {
			continue // this region itself: updated below
		}
		switch {
		case name == c.CMRegion:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("region %s is registered with cm_location %d, not %d", name, loc, c.CMLocation),
				fmt.Sprintf("keep cm_location: %d for region %s", loc, name))
		case loc == c.CMLocation:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("cm_location %d is already used by region %s", loc, name),
				"choose a cm_location no other region uses (the registered regions are in the cm database's regions table)")
		case hb == c.HeartbeatDB:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("heartbeat database %s is already used by region %s", hb, name),
				"give this region its own drc_cm_heartbeat_db")
		case def && c.CMIsDefault:
			return omserr.New(omserr.DeployRegionConflict, fmt.Sprintf("region %s is already the default region (cm_is_default)", name),
				"set cm_is_default: false for this region; only one region may be the default")
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read regions: %w", err)
	}
	_, err = db.ExecContext(ctx, "INSERT INTO "+regions+` (cm_location, region, region_cn, cm_url, is_default, heartbeat_db)
		VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE region_cn = VALUES(region_cn), cm_url = VALUES(cm_url),
		is_default = VALUES(is_default), heartbeat_db = VALUES(heartbeat_db)`,
		c.CMLocation, c.CMRegion, c.CMRegionCN, c.CMURL, c.CMIsDefault, c.HeartbeatDB)
	if err != nil {
		return fmt.Errorf("register region %s: %w", c.CMRegion, err)
	}
	return nil
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
	var me *mysql.MySQLError
	if errors.Is(err, sql.ErrNoRows) || (errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049)) {
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
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1146 || me.Number == 1049) {
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

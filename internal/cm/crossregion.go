package cm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/omsdev/oms/internal/sqlgen"
)

// leadsCrossRegion says whether this CM may lead the work that spans regions (the project
// orchestrator: projects whose source and target are in different regions, tasks re-specified
// when a Store moves): the CMs of the default region (cm_is_default) do; the CMs of another
// region only while no host of the default region has beaten within DownAfter, so projects go on
// when the default region is down. On a MetaDB error it answers true: taking the lease fails then
// anyway, and the lease alone decides.
func (c *CM) leadsCrossRegion(ctx context.Context) bool {
	if c.opt.Config.CMIsDefault {
		return true
	}
	alive, err := c.defaultRegionAlive(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cannot tell whether the default region is up; competing for the orchestrator", "err", err)
		}
		return true
	}
	return !alive
}

// defaultRegionAlive reports whether a host of the default region beat within DownAfter (the
// MetaDB's clock). No default region registered counts as not alive.
func (c *CM) defaultRegionAlive(ctx context.Context) (bool, error) {
	var region, hbDB string
	err := c.db.QueryRowContext(ctx, "SELECT region, heartbeat_db FROM "+c.cm+".regions WHERE is_default = 1 ORDER BY cm_location LIMIT 1").Scan(&region, &hbDB)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the default region: %w", err)
	}
	var n int
	err = c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+sqlgen.QuoteIdent(hbDB)+".heartbeats b JOIN "+c.cm+".hosts h ON h.ip = b.host_ip "+
		"WHERE h.region = ? AND b.beat_at > NOW(6) - INTERVAL ? MICROSECOND", region, c.opt.DownAfter.Microseconds()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read the default region's heartbeats: %w", err)
	}
	return n > 0, nil
}

package bidir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/omserr"
)

// Side is one database of a two-way pair as the precheck sees it.
type Side struct {
	Region string // the region the database is in (for messages)
	Addr   string // host:port (for messages)
	DB     *sql.DB
}

// identity is what tells two database servers apart.
type identity struct {
	serverID uint32
	uuid     string // MySQL's @@server_uuid; "" on MariaDB
	host     string
	port     int
	datadir  string
	doDB     string // SHOW MASTER STATUS Binlog_Do_DB
	ignoreDB string // SHOW MASTER STATUS Binlog_Ignore_DB
}

func readIdentity(ctx context.Context, db *sql.DB) (identity, error) {
	var id identity
	if err := db.QueryRowContext(ctx, "SELECT @@server_id, @@hostname, @@port, @@datadir").Scan(&id.serverID, &id.host, &id.port, &id.datadir); err != nil {
		return id, fmt.Errorf("read server identity: %w", err)
	}
	var uuid sql.NullString
	err := db.QueryRowContext(ctx, "SELECT @@server_uuid").Scan(&uuid)
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me) && me.Number == 1193: // MariaDB has no server_uuid
	case err != nil:
		return id, fmt.Errorf("read server_uuid: %w", err)
	default:
		id.uuid = uuid.String
	}
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return id, fmt.Errorf("read binlog filters (SHOW MASTER STATUS): %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return id, fmt.Errorf("read binlog filters: %w", err)
		}
		for i, c := range cols {
			switch c {
			case "Binlog_Do_DB":
				id.doDB = vals[i].String
			case "Binlog_Ignore_DB":
				id.ignoreDB = vals[i].String
			}
		}
	}
	return id, rows.Err()
}

// Precheck refuses a pair of databases on which two-way sync would loop or cannot tell its own
// changes: both are the same server (under two addresses), they share a server_id or a
// server_uuid, or oms's marker schema is excluded from either binlog (binlog-do-db without it,
// binlog-ignore-db with it), so an applied transaction would reach the binlog without the
// marker that stops its echo. It returns every problem found (nil: none).
func Precheck(ctx context.Context, a, b Side, schema string) ([]*omserr.Error, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	ia, err := readIdentity(ctx, a.DB)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", a.Addr, a.Region, err)
	}
	ib, err := readIdentity(ctx, b.DB)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", b.Addr, b.Region, err)
	}
	var bad []*omserr.Error
	pair := fmt.Sprintf("%s (region %s) and %s (region %s)", a.Addr, a.Region, b.Addr, b.Region)
	same := ia.host == ib.host && ia.port == ib.port && ia.datadir == ib.datadir
	if same || (ia.uuid != "" && ia.uuid == ib.uuid && ia.serverID == ib.serverID) {
		bad = append(bad, omserr.New(omserr.TwoWaySameServer,
			fmt.Sprintf("%s are the same database server (host %s, port %d, datadir %s): a two-way sync would apply every change back onto itself", pair, ia.host, ia.port, ia.datadir),
			"name two different databases, one in each region"))
	} else {
		if ia.serverID == ib.serverID {
			bad = append(bad, omserr.New(omserr.TwoWaySameServerID,
				fmt.Sprintf("%s both have server_id %d: their transactions cannot be told apart in GTIDs and replication", pair, ia.serverID),
				"give each server its own server_id (SET GLOBAL server_id and [mysqld] server_id in my.cnf)"))
		}
		if ia.uuid != "" && ia.uuid == ib.uuid {
			bad = append(bad, omserr.New(omserr.TwoWaySameServerID,
				fmt.Sprintf("%s both have server_uuid %s (a cloned data directory): their GTIDs collide", pair, ia.uuid),
				"remove auto.cnf from one server's data directory and restart it, so it gets a new server_uuid"))
		}
	}
	for _, s := range []struct {
		side Side
		id   identity
	}{{a, ia}, {b, ib}} {
		if why := excluded(schema, s.id.doDB, s.id.ignoreDB); why != "" {
			bad = append(bad, omserr.New(omserr.TwoWayMarkerNotLogged,
				fmt.Sprintf("%s (region %s) %s: the marker oms writes with every applied transaction (%s.%s) would not reach its binlog, so applied changes would loop back",
					s.side.Addr, s.side.Region, why, schema, MarkerTable),
				"remove the binlog filter for "+schema+" from the server's my.cnf (binlog-do-db / binlog-ignore-db) and restart it"))
		}
	}
	return bad, nil
}

// excluded says why schema is left out of a binlog with these filters ("" = it is logged).
func excluded(schema, doDB, ignoreDB string) string {
	if doDB != "" && !listed(doDB, schema) {
		return "logs only binlog-do-db " + doDB
	}
	if listed(ignoreDB, schema) {
		return "has binlog-ignore-db " + ignoreDB
	}
	return ""
}

func listed(list, name string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.TrimSpace(x) == name {
			return true
		}
	}
	return false
}

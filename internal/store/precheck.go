package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/omserr"
)

func variable(ctx context.Context, db *sql.DB, name string) (string, error) {
	var v sql.NullString
	err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("read @@%s: %w", name, err)
	}
	return v.String, nil
}

// precheckSource checks that the source can be captured by a replica with serverID.
// resuming says the store has captured from this source before (its own earlier connection may
// still be listed as a replica).
func precheckSource(ctx context.Context, db *sql.DB, serverID uint32, resuming bool) error {
	logBin, err := variable(ctx, db, "log_bin")
	if err != nil {
		return omserr.Wrap(err, omserr.StoreSourceUnreachable, "cannot query the source", "check host, port, user and password of the source")
	}
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return omserr.New(omserr.StoreBinlogOff, "the source has no binary log (log_bin is OFF)",
			"enable it: log_bin=ON (and server_id) in the source's my.cnf, then restart the source")
	}
	if f, err := variable(ctx, db, "binlog_format"); err != nil {
		return err
	} else if !strings.EqualFold(f, "ROW") {
		return omserr.New(omserr.StoreBinlogFormat, "the source's binlog_format is "+f+", not ROW",
			"SET GLOBAL binlog_format=ROW and put binlog_format=ROW in my.cnf; sessions opened before keep the old format")
	}
	if f, err := variable(ctx, db, "binlog_row_image"); err != nil {
		return err
	} else if !strings.EqualFold(f, "FULL") {
		return omserr.New(omserr.StoreRowImage, "the source's binlog_row_image is "+f+", not FULL",
			"SET GLOBAL binlog_row_image=FULL and put it in my.cnf")
	}
	if err := checkGrants(ctx, db); err != nil {
		return err
	}
	sid, err := variable(ctx, db, "server_id")
	if err != nil {
		return err
	}
	if sid == fmt.Sprint(serverID) {
		return omserr.New(omserr.StoreServerIDClash, fmt.Sprintf("the store's server_id %d is the source's own server_id", serverID),
			"set a different server_id in the store config")
	}
	if !resuming {
		rows, err := db.QueryContext(ctx, "SHOW SLAVE HOSTS")
		if err == nil {
			defer rows.Close()
			cols, _ := rows.Columns()
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					break
				}
				for i, c := range cols {
					if strings.EqualFold(c, "Server_id") && string(vals[i]) == fmt.Sprint(serverID) {
						return omserr.New(omserr.StoreServerIDClash, fmt.Sprintf("another replica with server_id %d is connected to the source", serverID),
							"give this store a server_id no other replica of the source uses")
					}
				}
			}
		}
	}
	return nil
}

// checkGrants needs REPLICATION SLAVE and REPLICATION CLIENT (MariaDB 10.5+: BINLOG MONITOR).
func checkGrants(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return omserr.Wrap(err, omserr.StorePrivilege, "cannot read the grants of the source user", "grant REPLICATION SLAVE, REPLICATION CLIENT ON *.*")
	}
	defer rows.Close()
	var all string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return fmt.Errorf("read grants: %w", err)
		}
		if strings.Contains(strings.ToUpper(g), " ON *.* ") || strings.Contains(strings.ToUpper(g), " ON *.*") {
			all += strings.ToUpper(g) + "\n"
		}
	}
	if strings.Contains(all, "ALL PRIVILEGES") {
		return nil
	}
	var missing []string
	if !strings.Contains(all, "REPLICATION SLAVE") && !strings.Contains(all, "REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !strings.Contains(all, "REPLICATION CLIENT") && !strings.Contains(all, "BINLOG MONITOR") && !strings.Contains(all, "SUPER") {
		missing = append(missing, "REPLICATION CLIENT")
	}
	if len(missing) > 0 {
		return omserr.New(omserr.StorePrivilege, "the source user lacks "+strings.Join(missing, " and "),
			"GRANT "+strings.Join(missing, ", ")+" ON *.* TO the store's user")
	}
	return nil
}

// precheckStartGTID checks that the source still has every transaction after start.
func precheckStartGTID(ctx context.Context, db *sql.DB, flavor string, start binlog.GTIDSet) error {
	if flavor == binlog.FlavorMySQL {
		p, err := variable(ctx, db, "gtid_purged")
		if err != nil {
			return err
		}
		purged, err := binlog.ParseGTIDSet(flavor, p)
		if err != nil {
			return fmt.Errorf("parse source gtid_purged: %w", err)
		}
		if !start.ContainsSet(purged) {
			return omserr.New(omserr.StoreSourcePurged, fmt.Sprintf("the source purged transactions after %s (gtid_purged %s)", start, purged),
				"start the store from a newer position, i.e. redo the full copy")
		}
		return nil
	}
	first, err := oldestBinlog(ctx, db)
	if err != nil || first == "" {
		return err
	}
	var list string
	if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, 4)", first).Scan(&list); err != nil {
		return nil // not fatal: the dump itself reports a purged position
	}
	before, err := binlog.ParseGTIDSet(flavor, list)
	if err != nil {
		return nil
	}
	if !start.ContainsSet(before) {
		return omserr.New(omserr.StoreSourcePurged,
			fmt.Sprintf("the source's oldest binlog %s starts after %s, the store needs everything after %s", first, list, start),
			"start the store from a newer position (redo the full copy), or keep binlogs longer on the source")
	}
	return nil
}

func oldestBinlog(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return "", omserr.Wrap(err, omserr.StorePrivilege, "cannot list the source's binary logs", "grant REPLICATION CLIENT (BINLOG MONITOR) to the store's user")
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		return string(vals[0]), nil
	}
	return "", rows.Err()
}

// precheckStartFile checks that file is still on the source.
func precheckStartFile(ctx context.Context, db *sql.DB, file string) error {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return omserr.Wrap(err, omserr.StorePrivilege, "cannot list the source's binary logs", "grant REPLICATION CLIENT to the store's user")
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if string(vals[0]) == file {
			return nil
		}
	}
	return omserr.New(omserr.StoreSourcePurged, "binlog file "+file+" is not on the source (purged or never existed)",
		"start from a position the source still has (SHOW BINARY LOGS)")
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

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

// BinlogRequirement is a global variable of the source that capture depends on, the value it
// must have and the code of the error when it has another.
type BinlogRequirement struct {
	Name, Want, Code string
	// Why the Store needs it (the error message says it).
	Why string
}

// BinlogRequirements are the source's binlog settings row capture needs; the project precheck
// and the Store's own precheck both check these.
var BinlogRequirements = []BinlogRequirement{
	{"binlog_format", "ROW", omserr.StoreBinlogFormat, "row events carry the changed rows"},
	{"binlog_row_image", "FULL", omserr.StoreRowImage, "every column of the before and after image is needed to apply and verify changes"},
	// MariaDB's default is NO_LOG: the binlog then has no column names, and after a table is
	// dropped and re-created the Store cannot tell its columns (STORE_SCHEMA_UNKNOWN).
	{"binlog_row_metadata", "FULL", omserr.StoreRowMetadata, "column names and types must be in the binlog so a table re-created later is decoded right"},
}

// Check is nil when value (known: the server has the variable) meets r. A server without the
// variable (binlog_row_metadata before MariaDB 10.5 / MySQL 8.0.1) cannot be changed: it passes.
func (r BinlogRequirement) Check(value string, known bool) *omserr.Error {
	if !known || strings.EqualFold(value, r.Want) {
		return nil
	}
	return omserr.New(r.Code, fmt.Sprintf("the source's %s is %s, not %s: %s", r.Name, value, r.Want, r.Why),
		fmt.Sprintf("run SET GLOBAL %s=%s on the source and put %s=%s in the [mysqld] section of its my.cnf (sessions opened before keep the old value)",
			r.Name, r.Want, r.Name, r.Want))
}

// CheckBinlogSettings reads every one of BinlogRequirements from the source and returns the
// ones it does not meet (all of them, so one run lists everything to fix).
func CheckBinlogSettings(ctx context.Context, db *sql.DB) ([]*omserr.Error, error) {
	var bad []*omserr.Error
	for _, r := range BinlogRequirements {
		v, known, err := optionalVariable(ctx, db, r.Name)
		if err != nil {
			return nil, err
		}
		if e := r.Check(v, known); e != nil {
			bad = append(bad, e)
		}
	}
	return bad, nil
}

// optionalVariable reads a global variable; known is false when the server has no such
// variable (error 1193).
func optionalVariable(ctx context.Context, db *sql.DB, name string) (string, bool, error) {
	v, err := variable(ctx, db, name)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1193 {
		return "", false, nil
	}
	return v, err == nil, err
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
	if bad, err := CheckBinlogSettings(ctx, db); err != nil {
		return err
	} else if len(bad) > 0 {
		return bad[0]
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
	// An error is no answer (a timeout on a loaded source passed the check before, and the
	// Store then started at a purged position): the caller retries.
	if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, 4)", first).Scan(&list); err != nil {
		return fmt.Errorf("read the GTID position at the start of the source's oldest binlog %s: %w", first, err)
	}
	before, err := binlog.ParseGTIDSet(flavor, list)
	if err != nil {
		return fmt.Errorf("parse the GTID position %q at the start of the source's oldest binlog %s: %w", list, first, err)
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

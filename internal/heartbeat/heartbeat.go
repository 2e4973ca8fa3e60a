// Package heartbeat writes a heartbeat row to a source database every second. The row travels
// through the binlog and the Store like any change; consumers do not apply it (oms's schema is
// never selected) but its commit time moves their watermark's time, so lag stays measurable
// when the source is idle. The Store runs it next to the source when its config asks for it.
//
// Every Store of a source reads that source's whole binlog, so one heartbeat row serves them
// all: a Store that saw one go by within half a period skips its own write (Run's seen). N
// projects on one source then cost about two heartbeat transactions a second, not N, each of
// which every one of the N Stores would capture, log and send on.
package heartbeat

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/sqlgen"
)

// Every is the heartbeat period: lag on an idle source is measured to this precision.
const Every = time.Second

// Table is the heartbeat table's name in its schema.
const Table = "heartbeat"

// Written reports whether txn writes the heartbeat table of schema (anybody's heartbeat).
func Written(txn *changelog.Txn, schema string) bool {
	for _, r := range txn.Rows {
		if r.Table != nil && r.Table.DB == schema && r.Table.Name == Table {
			return true
		}
	}
	return false
}

// Run writes REPLACE INTO <schema>.heartbeat (id, ts) every second until ctx ends, creating the
// table first, except in a period where seen (nil: never) reports a heartbeat that went through
// the source's binlog less than Every/2 ago. Errors are logged and retried: a heartbeat never
// stops the component running it. It always returns nil.
func Run(ctx context.Context, db *sql.DB, schema string, log *slog.Logger, seen func() time.Time) error {
	q := sqlgen.QuoteIdent(schema)
	ready := false
	warned := false
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !ready {
			_, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+q)
			if err == nil {
				_, err = db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+q+"."+sqlgen.QuoteIdent(Table)+" (id INT NOT NULL PRIMARY KEY, ts TIMESTAMP(6) NOT NULL) ENGINE=InnoDB")
			}
			if err != nil {
				if !warned && ctx.Err() == nil {
					log.Warn("heartbeat: cannot create the heartbeat table on the source; lag of an idle source is not measured",
						"schema", schema, "err", err, "advice", "grant the source user CREATE, INSERT and DELETE on "+schema+" or turn heartbeat off")
					warned = true
				}
				continue
			}
			ready = true
		}
		if seen != nil && time.Since(seen()) < Every/2 {
			continue // another writer's heartbeat serves this period
		}
		if _, err := db.ExecContext(ctx, "REPLACE INTO "+q+"."+sqlgen.QuoteIdent(Table)+" (id, ts) VALUES (1, NOW(6))"); err != nil && ctx.Err() == nil && !warned {
			log.Warn("heartbeat: write failed", "err", err)
			warned = true
		}
	}
}

package incrsync

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/omsdev/oms/internal/sqlgen"
)

// heartbeatEvery is the heartbeat period: lag on an idle source is measured to this precision.
const heartbeatEvery = time.Second

// runHeartbeat writes one row to <schema>.heartbeat on the SOURCE every second. The row travels
// through the binlog and the Store like any change; Incr-Sync does not apply it (the schema is
// not selected) but its commit time moves the watermark's time, so lag stays true when the
// source is idle. Errors are logged and retried: a heartbeat never stops the task.
func runHeartbeat(ctx context.Context, src DBConfig, schema string, log *slog.Logger) error {
	db, err := sql.Open("mysql", src.DSN())
	if err != nil {
		log.Warn("heartbeat: cannot open the source", "err", err)
		return nil
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	q := sqlgen.QuoteIdent(schema)
	ready := false
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !ready {
			_, err1 := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+q)
			_, err2 := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+q+".`heartbeat` (id INT NOT NULL PRIMARY KEY, ts TIMESTAMP(6) NOT NULL) ENGINE=InnoDB")
			if err1 != nil || err2 != nil {
				log.Warn("heartbeat: cannot create the heartbeat table on the source", "err1", err1, "err2", err2)
				continue
			}
			ready = true
		}
		if _, err := db.ExecContext(ctx, "REPLACE INTO "+q+".`heartbeat` (id, ts) VALUES (1, NOW(6))"); err != nil && ctx.Err() == nil {
			log.Warn("heartbeat: write failed", "err", err)
		}
	}
}

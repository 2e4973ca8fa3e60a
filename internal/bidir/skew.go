package bidir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/sqlgen"
)

// Skew is the clock difference between two databases: B's clock minus A's, with the
// uncertainty of the measurement (half the round trips).
type Skew struct {
	Seconds     float64 `json:"seconds"`
	Uncertainty float64 `json:"uncertainty_seconds"`
}

// MeasureSkew compares the two servers' clocks (NOW(6)) against this host's, a few times, and
// keeps the sample with the shortest round trips. It matters for last-writer-wins on a
// timestamp column written by each region's clock.
func MeasureSkew(ctx context.Context, a, b *sql.DB) (Skew, error) {
	best := Skew{Uncertainty: -1}
	for i := 0; i < 3; i++ {
		oa, rta, err := offset(ctx, a)
		if err != nil {
			return best, err
		}
		ob, rtb, err := offset(ctx, b)
		if err != nil {
			return best, err
		}
		u := (rta + rtb).Seconds() / 2
		if best.Uncertainty < 0 || u < best.Uncertainty {
			best = Skew{Seconds: (ob - oa).Seconds(), Uncertainty: u}
		}
	}
	return best, nil
}

// offset is the server clock minus this host's, taken at the middle of the round trip.
func offset(ctx context.Context, db *sql.DB) (time.Duration, time.Duration, error) {
	conn, err := db.Conn(ctx) // connect first: the handshake is not part of the round trip
	if err != nil {
		return 0, 0, fmt.Errorf("measure clock: %w", err)
	}
	defer conn.Close()
	var micros int64
	t0 := time.Now()
	if err := conn.QueryRowContext(ctx, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)").Scan(&micros); err != nil {
		return 0, 0, fmt.Errorf("measure clock: %w", err)
	}
	rt := time.Since(t0)
	mid := t0.Add(rt / 2)
	return time.UnixMicro(micros).Sub(mid), rt, nil
}

// Abs is the most the clocks may differ by: the skew's size plus its uncertainty.
func (s Skew) Abs() time.Duration {
	sec := s.Seconds
	if sec < 0 {
		sec = -sec
	}
	return time.Duration((sec + s.Uncertainty) * float64(time.Second))
}

// skewTable holds, on each target of a pair, the last measured skew of each direction into it:
// the orchestrator records it (every 30 s), the direction's Incr-Sync reads it when
// last-writer-wins has a max_skew_ms bound. It is outside every selection (oms's schema).
const skewTable = "clock_skew"

// RecordSkew records on db (in schema, "" = DefaultSchema) the skew of the direction from region
// src into region dst: dst's clock minus src's.
func RecordSkew(ctx context.Context, db *sql.DB, schema, src, dst string, sk Skew) error {
	if schema == "" {
		schema = DefaultSchema
	}
	t := skewName(schema)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+sqlgen.QuoteIdent(schema)); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+t+" (source_region VARCHAR(64) NOT NULL, target_region VARCHAR(64) NOT NULL,"+
		" skew_us BIGINT NOT NULL, uncertainty_us BIGINT NOT NULL, measured_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"+
		" PRIMARY KEY (source_region, target_region)) ENGINE=InnoDB"); err != nil {
		return fmt.Errorf("create %s: %w", t, err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO "+t+" (source_region, target_region, skew_us, uncertainty_us) VALUES (?,?,?,?)"+
		" ON DUPLICATE KEY UPDATE skew_us = VALUES(skew_us), uncertainty_us = VALUES(uncertainty_us), measured_at = CURRENT_TIMESTAMP(6)",
		src, dst, int64(sk.Seconds*1e6), int64(sk.Uncertainty*1e6)); err != nil {
		return fmt.Errorf("record the clock skew in %s: %w", t, err)
	}
	return nil
}

// ReadSkew reads what RecordSkew recorded for src -> dst (ok false: never measured).
func ReadSkew(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, schema, src, dst string) (sk Skew, at time.Time, ok bool, err error) {
	var us, uus int64
	var atS string
	err = q.QueryRowContext(ctx, "SELECT skew_us, uncertainty_us, CAST(measured_at AS CHAR) FROM "+skewName(schema)+
		" WHERE source_region = ? AND target_region = ?", src, dst).Scan(&us, &uus, &atS)
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &me) && me.Number == 1146: // no row, no table yet
		return sk, at, false, nil
	case err != nil:
		return sk, at, false, fmt.Errorf("read the clock skew of %s -> %s: %w", src, dst, err)
	}
	at, _ = time.Parse("2006-01-02 15:04:05.999999", atS)
	return Skew{Seconds: float64(us) / 1e6, Uncertainty: float64(uus) / 1e6}, at, true, nil
}

func skewName(schema string) string {
	if schema == "" {
		schema = DefaultSchema
	}
	return sqlgen.QuoteIdent(schema) + "." + sqlgen.QuoteIdent(skewTable)
}

package verify

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/schema"
)

// The table checksum is a cheaper first pass for a table that maps whole: both servers run
// CHECKSUM TABLE ... EXTENDED (the server's own row-by-row checksum, faster than CRC32 of
// CONCAT_WS per row because no string is built) and count the rows, at the same time. Equal
// checksums and equal counts: the table is verified, no chunk is planned or compared. Anything
// else (different, NULL, an error) hands the table to the chunk pass unchanged, so the table
// checksum can only save work, never hide a difference the chunks would find (beyond a checksum
// collision, 2^-32 as for a chunk's SUM(CRC32)).
//
// CHECKSUM TABLE hashes the stored bytes of every column in table order (plus the NULL bits), so
// it is only taken when both sides have the same columns in the same order with the same
// COLUMN_TYPE, nullability and character set and no virtual column (whose bytes are not
// stored): then equal bytes mean equal values, and every difference the type-aware comparison
// sees is a byte difference. Different bytes for equal values (another row format, an old
// temporal format) only make the checksums differ, and the chunks decide.
//
// The row count comes from the checksum's own scan where the server tells it exactly: on MariaDB
// (non-partitioned tables) the session's Handler_read_rnd_next grows by one per row plus one for
// the end of the scan. Elsewhere COUNT(*) runs after CHECKSUM TABLE in the same REPEATABLE READ
// transaction, so both see one snapshot.

// tableTask is the chunk index of a task that is a table checksum, not a chunk.
const tableTask = -1

// Outcomes of a table checksum (tableState.TableChecksum, TableResult.TableChecksum).
const (
	tcEqual       = "equal"
	tcDifferent   = "different"
	tcUnavailable = "unavailable"
)

// tableChecksumEngines are the engines whose CHECKSUM TABLE is a plain scan of stored rows.
var tableChecksumEngines = map[string]bool{"innodb": true, "aria": true, "myisam": true}

// tableSum is one side's table checksum.
type tableSum struct {
	ok   bool // crc and rows are valid
	crc  int64
	rows int64
	why  string // !ok: the reason
}

// fallbacks lets the producer hand out table checksums and take back, to be chunked, the tables
// whose checksum did not prove them equal. resolve never blocks (the producer may be blocked
// sending to the workers that resolve).
type fallbacks struct {
	mu          sync.Mutex
	outstanding int
	back        []*tableRun
	wake        chan struct{}
}

func newFallbacks() *fallbacks { return &fallbacks{wake: make(chan struct{}, 1)} }

func (f *fallbacks) start() {
	f.mu.Lock()
	f.outstanding++
	f.mu.Unlock()
}

func (f *fallbacks) resolve(tr *tableRun, chunk bool) {
	f.mu.Lock()
	f.outstanding--
	if chunk {
		f.back = append(f.back, tr)
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// take returns the tables to chunk now and how many checksums are still running.
func (f *fallbacks) take() ([]*tableRun, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.back
	f.back = nil
	return b, f.outstanding
}

// tableChecksumPlan decides, per table, whether the chunk phase starts with a table checksum:
// "" yes, else the reason not. Tables done or planned in a resumed state are not asked again.
func (v *Verifier) tableChecksumPlan() map[*tableRun]string {
	out := map[*tableRun]string{}
	var total int64
	for _, p := range v.pairs {
		total += max(p.src.Rows, 0)
	}
	limit := max(int64(tableChecksumMinRows), total/int64(v.cfg.Concurrency))
	for _, p := range v.pairs {
		tr := v.tables[p.Name]
		why := tableChecksumIneligible(p)
		switch {
		case why != "":
		case v.cfg.TableChecksum == TableChecksumOff:
			why = "table_checksum is off"
		case v.cfg.TableChecksum == TableChecksumAlways:
		case v.cfg.RowsPerSecond > 0:
			why = "rows_per_second throttles the comparison (a table checksum is one unthrottled scan)"
		case p.src.Rows > limit:
			// One thread would scan it while the chunk workers could share it.
			why = fmt.Sprintf("about %d rows, more than its share of all rows (%d) over concurrency %d", p.src.Rows, total, v.cfg.Concurrency)
		}
		out[tr] = why
	}
	return out
}

// tableChecksumIneligible is "" when CHECKSUM TABLE on both sides means the same as comparing
// every compared column of every row, else why not.
func tableChecksumIneligible(p *pair) string {
	if p.where != "" {
		return "row filter"
	}
	all := map[string]bool{}
	for _, c := range p.cols {
		all[strings.ToLower(c)] = true
	}
	if len(all) != len(p.src.Cols) || len(p.cols) != len(p.src.Cols) {
		return "column subset"
	}
	if len(p.src.Cols) != len(p.dst.Cols) {
		return fmt.Sprintf("the source has %d columns, the target %d", len(p.src.Cols), len(p.dst.Cols))
	}
	for i, sc := range p.src.Cols {
		dc := p.dst.Cols[i]
		switch {
		case !strings.EqualFold(sc.Name, dc.Name):
			return fmt.Sprintf("column %d is %s on the source, %s on the target", i+1, sc.Name, dc.Name)
		case sc.Type == "" || sc.Type != dc.Type || sc.DataType != dc.DataType:
			return fmt.Sprintf("column %s is %s on the source, %s on the target", sc.Name, sc.Type, dc.Type)
		case sc.Nullable != dc.Nullable:
			return "column " + sc.Name + " is NULL on one side, NOT NULL on the other"
		case !strings.EqualFold(sc.Charset, dc.Charset):
			return fmt.Sprintf("column %s is %s on the source, %s on the target", sc.Name, sc.Charset, dc.Charset)
		case sc.Virtual || dc.Virtual:
			return "virtual column " + sc.Name
		}
	}
	for _, t := range []*schema.TableInfo{p.src, p.dst} {
		if !tableChecksumEngines[t.Engine] {
			return "engine " + t.Engine + " of " + t.DB + "." + t.Name
		}
	}
	return ""
}

// takeTableChecksum says whether the producer sends tr's table checksum (else its chunks).
func (v *Verifier) takeTableChecksum(tr *tableRun) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	ts := v.state.Tables[tr.p.Name]
	return v.tcPlan[tr] == "" && ts.TableChecksum == "" && !ts.Planned
}

// tableChecksum is one side's CHECKSUM TABLE and row count. Errors other than cancellation are
// an invalid sum (the chunks decide), not a failure.
func (v *Verifier) tableChecksum(ctx context.Context, s side, p *pair) (tableSum, error) {
	t := p.src
	if s == dstSide {
		t = p.dst
	}
	v.tableChecksums.Add(1)
	var ts tableSum
	var err error
	if v.mariaDB[s] && !t.Partitioned {
		ts, err = v.checksumCountingScan(ctx, s, p)
	} else {
		ts, err = v.checksumAndCount(ctx, s, p)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ts, ctx.Err()
		}
		return tableSum{why: sideName(s) + ": " + err.Error()}, nil
	}
	return ts, nil
}

func checksumSQL(p *pair, s side) string { return "CHECKSUM TABLE " + p.table(s) + " EXTENDED" }

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func scanChecksum(ctx context.Context, q queryer, p *pair, s side) (sql.NullInt64, error) {
	var name string
	var crc sql.NullInt64
	err := q.QueryRowContext(ctx, checksumSQL(p, s)).Scan(&name, &crc)
	return crc, err
}

// checksumCountingScan: CHECKSUM TABLE on one connection, the rows it read from the session's
// Handler_read_rnd_next (read twice before, so a status read that counted itself would be
// subtracted too).
func (v *Verifier) checksumCountingScan(ctx context.Context, s side, p *pair) (tableSum, error) {
	conn, err := v.db(s).Conn(ctx)
	if err != nil {
		return tableSum{}, err
	}
	defer conn.Close()
	read := func() (int64, error) {
		var name string
		var n int64
		err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Handler_read_rnd_next'").Scan(&name, &n)
		return n, err
	}
	r0, err := read()
	if err != nil {
		return tableSum{}, err
	}
	r1, err := read()
	if err != nil {
		return tableSum{}, err
	}
	crc, err := scanChecksum(ctx, conn, p, s)
	if err != nil {
		return tableSum{}, err
	}
	r2, err := read()
	if err != nil {
		return tableSum{}, err
	}
	if !crc.Valid {
		return tableSum{why: "CHECKSUM TABLE is NULL on the " + sideName(s)}, nil
	}
	rows := (r2 - r1) - (r1 - r0) - 1 // minus the read that found the end
	if rows < 0 {
		return tableSum{why: fmt.Sprintf("no row count from the scan on the %s (%d, %d, %d)", sideName(s), r0, r1, r2)}, nil
	}
	return tableSum{ok: true, crc: crc.Int64, rows: rows}, nil
}

// checksumAndCount: CHECKSUM TABLE then COUNT(*) in one read-only REPEATABLE READ transaction
// (the snapshot is taken by the checksum's scan, the count sees the same rows).
func (v *Verifier) checksumAndCount(ctx context.Context, s side, p *pair) (tableSum, error) {
	tx, err := v.db(s).BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return tableSum{}, err
	}
	defer tx.Rollback()
	crc, err := scanChecksum(ctx, tx, p, s)
	if err != nil {
		return tableSum{}, err
	}
	if !crc.Valid {
		return tableSum{why: "CHECKSUM TABLE is NULL on the " + sideName(s)}, nil
	}
	var rows int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+p.table(s)).Scan(&rows); err != nil {
		return tableSum{}, err
	}
	return tableSum{ok: true, crc: crc.Int64, rows: rows}, nil
}

// tableChecksumBoth runs both sides' table checksums at the same time (mode "in"; the range
// pipeline runs them on its side workers).
func (v *Verifier) tableChecksumBoth(ctx context.Context, p *pair) ([2]tableSum, error) {
	var sums [2]tableSum
	err := bothSides(ctx, func(ctx context.Context, s side) error {
		var err error
		sums[s], err = v.tableChecksum(ctx, s, p)
		return err
	})
	return sums, err
}

// resolveTableChecksum records a table's checksum outcome: equal, the table is done with its
// rows compared; else it goes back to the producer to be chunked.
func (v *Verifier) resolveTableChecksum(tr *tableRun, sums [2]tableSum, took time.Duration) error {
	src, dst := sums[srcSide], sums[dstSide]
	var outcome, note string
	switch {
	case !src.ok || !dst.ok:
		why := src.why
		if src.ok {
			why = dst.why
		} else if !dst.ok {
			why += "; " + dst.why
		}
		outcome, note = tcUnavailable, "table checksum unavailable ("+why+"): compared by chunks"
	case src.crc != dst.crc || src.rows != dst.rows:
		outcome = tcDifferent
		note = fmt.Sprintf("table checksum differs (source %d rows, target %d rows): compared by chunks", src.rows, dst.rows)
	default:
		outcome = tcEqual
		note = fmt.Sprintf("table checksum equal: CHECKSUM TABLE and row count (%d) the same on both sides, no chunk compared", src.rows)
	}
	v.mu.Lock()
	ts := v.state.Tables[tr.p.Name]
	ts.TableChecksum, ts.TableChecksumNote = outcome, note
	if outcome == tcEqual {
		ts.Planned, ts.Chunks, ts.Done = true, nil, nil
		ts.RowsDone += src.rows
	}
	tr.tc, tr.tcNote = outcome, note
	v.mu.Unlock()
	if outcome == tcEqual {
		tr.rowsDone.Add(src.rows)
		v.rowsDone.Add(src.rows)
		v.tablesChecksumEqual.Add(1)
		v.log.Info("table checksum equal", "table", tr.p.Name, "rows", src.rows, "seconds", took.Seconds())
	} else {
		v.log.Info("table checksum not equal: comparing by chunks", "table", tr.p.Name, "outcome", outcome, "note", note, "seconds", took.Seconds())
	}
	v.fb.resolve(tr, outcome != tcEqual)
	return v.saveState(false)
}

// sendFallbacks plans and sends the chunks of tables whose checksum did not prove them equal;
// wait: until no table checksum is outstanding.
func (v *Verifier) sendFallbacks(ctx context.Context, send func(task) error, wait bool) error {
	for {
		back, left := v.fb.take()
		for _, tr := range back {
			if err := v.sendChunks(ctx, tr, send); err != nil {
				return err
			}
		}
		if len(back) > 0 {
			continue
		}
		if !wait || left == 0 {
			return nil
		}
		select {
		case <-v.fb.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// isMariaDB tells MariaDB from other MySQL-protocol servers.
func isMariaDB(ctx context.Context, db *sql.DB) bool {
	var ver string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&ver); err != nil {
		return false
	}
	return strings.Contains(strings.ToLower(ver), "mariadb")
}

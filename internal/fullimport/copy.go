package fullimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/omsdev/oms/internal/sqlgen"
)

const (
	// insertStatementBytes bounds one multi-row statement of the insert method (also capped by
	// the target's max_allowed_packet).
	insertStatementBytes = 4 << 20
	// progressEvery is how many rows the reader accumulates before it reports progress and
	// asks the throttle.
	progressEvery = 512
)

var readerSeq atomic.Int64

// selectSQL is the chunk's read query.
func (t *table) selectSQL(c *chunk) (string, []any) {
	var cols []string
	for _, col := range t.Columns {
		if col.Bit {
			cols = append(cols, sqlgen.QuoteIdent(col.Name)+"+0")
		} else {
			cols = append(cols, sqlgen.QuoteIdent(col.Name))
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + sqlgen.Table(t.SrcDB, t.SrcTable)
	where, args := t.rangeCond(c.Lower, c.Upper)
	if t.where != "" {
		where = "(" + where + ") AND (" + t.where + ")"
	}
	return q + " WHERE " + where + " ORDER BY " + sqlgen.ColumnList(t.Key), args
}

// copier copies chunks from source to target: readers (readChunk) fill chunk streams through
// the read-ahead queue, writers (copyChunk) drain them into the target.
type copier struct {
	src      *sql.DB // raw results (character_set_results=binary)
	dst      *sql.DB
	state    *stateStore
	method   string
	maxStmt  int
	throttle *throttle
	prog     *progress
	budget   *queueBudget
	times    *stageTimes
}

// copyChunk writes the chunk of s and marks it done in the same target transaction. However it
// ends, the reader of s has stopped and its blocks are released when it returns.
func (cp *copier) copyChunk(ctx context.Context, s *chunkStream) (err error) {
	c := s.c
	cp.budget.attach(s)
	start := time.Now()
	defer func() { cp.times.writeBusy.Add(int64(time.Since(start))) }()
	tp := cp.prog.table(c.T)
	var rowsN, bytesN int64
	defer func() {
		if err != nil { // the transaction rolled back: take the streamed figures back
			tp.add(-rowsN, -bytesN)
			cp.prog.add(-rowsN, -bytesN)
		}
	}()
	r := &streamReader{ctx: ctx, budget: cp.budget, s: s, starved: &cp.times.writeStarved, onBlock: func(rows, bytes int64) {
		rowsN += rows
		bytesN += bytes
		tp.add(rows, bytes)
		cp.prog.add(rows, bytes)
	}}
	defer func() {
		r.drop()
		if err != nil {
			cp.budget.abandon(s)
		}
	}()
	tx, err := cp.state.fence.Begin(ctx, cp.dst)
	if err != nil {
		return fmt.Errorf("chunk %d of %s: %w", c.ID, c.T.src(), err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if cp.method == WriteInsert {
		err = cp.insertChunk(ctx, tx.Tx, c, r)
	} else {
		err = cp.loadChunk(ctx, tx.Tx, c, r)
	}
	if err != nil {
		return fmt.Errorf("chunk %d of %s: %w", c.ID, c.T.src(), err)
	}
	if err := cp.state.markDone(ctx, tx.Tx, c, rowsN, bytesN); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("chunk %d of %s: commit: %w", c.ID, c.T.src(), err)
	}
	c.Done, c.RowsDone, c.BytesDone = true, rowsN, bytesN
	tp.chunkDone()
	cp.prog.chunkDone()
	return nil
}

// readChunk reads the chunk of s into its blocks (the reader side of the read-ahead stage); a
// failure is the stream's error, for its writer to handle.
func (cp *copier) readChunk(ctx context.Context, s *chunkStream) {
	start := time.Now()
	w := &blockWriter{ctx: ctx, budget: cp.budget, s: s, wait: &cp.times.readBlocked}
	e := &rowEncoder{w: w}
	var pendRows, pendBytes int64
	insert := cp.method == WriteInsert
	cols := s.c.T.Columns
	err := cp.readRows(ctx, s.c, func(vals []sql.RawBytes) error {
		var err error
		if insert {
			err = e.tuple(vals, cols)
		} else {
			err = e.tsv(vals)
		}
		if err != nil {
			return err
		}
		w.endRow()
		pendRows++
		pendBytes += e.n
		if pendRows >= progressEvery {
			err := cp.throttle.wait(ctx, pendRows, pendBytes)
			pendRows, pendBytes = 0, 0
			return err
		}
		return nil
	})
	w.finish(err)
	cp.times.readBusy.Add(int64(time.Since(start)))
}

// directStream starts a reader for c whose stream has its writer from the start (a retried
// chunk: the read-ahead copy of it is gone).
func (cp *copier) directStream(ctx context.Context, c *chunk) *chunkStream {
	s, rctx := cp.budget.newStream(ctx, c)
	cp.budget.attach(s)
	go cp.readChunk(rctx, s) // its error is the stream's; copyChunk waits for it to end
	return s
}

// encodePiece is how much encoded row the reader gathers before it copies it into blocks; a
// longer value is encoded piece by piece, so a large BLOB costs no more than this in scratch.
const encodePiece = 64 << 10

// rowEncoder encodes rows into a stream's blocks through a small scratch buffer.
type rowEncoder struct {
	w       *blockWriter
	scratch []byte
	n       int64 // bytes of the last row
}

func (e *rowEncoder) flush() error {
	e.n += int64(len(e.scratch))
	err := e.w.write(e.scratch)
	e.scratch = e.scratch[:0]
	return err
}

// value appends v escaped by esc, encodePiece bytes at a time.
func (e *rowEncoder) value(v []byte, esc func(buf, v []byte) []byte) error {
	for len(v) > 0 {
		p := v[:min(len(v), encodePiece)]
		v = v[len(p):]
		e.scratch = esc(e.scratch, p)
		if len(e.scratch) >= encodePiece {
			if err := e.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// tsv writes one row in LOAD DATA's format (appendTSV).
func (e *rowEncoder) tsv(vals []sql.RawBytes) error {
	e.n, e.scratch = 0, e.scratch[:0]
	for i, v := range vals {
		if i > 0 {
			e.scratch = append(e.scratch, '\t')
		}
		if v == nil {
			e.scratch = append(e.scratch, '\\', 'N')
		} else if err := e.value(v, appendTSV); err != nil {
			return err
		}
	}
	e.scratch = append(e.scratch, '\n')
	return e.flush()
}

// tuple writes one row as a value tuple of the insert method, "(...)," (the writer drops the
// last comma of a statement).
func (e *rowEncoder) tuple(vals []sql.RawBytes, cols []column) error {
	e.n, e.scratch = 0, append(e.scratch[:0], '(')
	for i, v := range vals {
		if i > 0 {
			e.scratch = append(e.scratch, ',')
		}
		if v == nil || cols[i].Bit {
			e.scratch = appendLiteral(e.scratch, v, cols[i].Bit)
			continue
		}
		e.scratch = append(e.scratch, "_binary'"...)
		if err := e.value(v, appendEscaped); err != nil {
			return err
		}
		e.scratch = append(e.scratch, '\'')
	}
	e.scratch = append(e.scratch, ')', ',')
	return e.flush()
}

// readRows runs the chunk's SELECT and calls emit for every row (values are only valid during
// the call; nil is NULL).
func (cp *copier) readRows(ctx context.Context, c *chunk, emit func([]sql.RawBytes) error) error {
	q, args := c.T.selectSQL(c)
	rows, err := cp.src.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	defer rows.Close()
	vals := make([]sql.RawBytes, len(c.T.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		if err := emit(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	return nil
}

// loadChunk streams the chunk's blocks into LOAD DATA LOCAL INFILE: no file, and nothing
// buffered beyond the read-ahead queue.
func (cp *copier) loadChunk(ctx context.Context, tx *sql.Tx, c *chunk, r *streamReader) error {
	name := fmt.Sprintf("oms-full-%d", readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(name)
	if _, err := tx.ExecContext(ctx, c.T.loadSQL(name)); err != nil {
		return fmt.Errorf("load data into %s: %w", c.T.dst(), err)
	}
	return nil
}

// loadSQL is the LOAD DATA statement for t; values arrive as raw bytes in each column's own
// character set, so CHARACTER SET binary (no conversion). BIT columns go through a variable.
func (t *table) loadSQL(reader string) string {
	var cols, sets []string
	for i, c := range t.Columns {
		if c.Bit {
			v := fmt.Sprintf("@b%d", i)
			cols = append(cols, v)
			sets = append(sets, sqlgen.QuoteIdent(c.Name)+" = CAST("+v+" AS UNSIGNED)")
			continue
		}
		cols = append(cols, sqlgen.QuoteIdent(c.Name))
	}
	q := "LOAD DATA LOCAL INFILE 'Reader::" + reader + "' REPLACE INTO TABLE " + sqlgen.Table(t.Target.DB, t.Target.Table) +
		" CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + strings.Join(cols, ", ") + ")"
	if len(sets) > 0 {
		q += " SET " + strings.Join(sets, ", ")
	}
	return q
}

// tsvEscape maps the bytes LOAD DATA needs escaped to their escape letter (0: copied as is; NUL itself maps to '0').
var tsvEscape = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', 0: '0'}

// appendTSV appends v in LOAD DATA's default escaping: \N for NULL; backslash, tab, newline
// and NUL escaped. Runs without such bytes are copied in one append (this loop is the copy's
// hottest code in oms).
func appendTSV(buf, v []byte) []byte {
	if v == nil {
		return append(buf, '\\', 'N')
	}
	start := 0
	for i, b := range v {
		if esc := tsvEscape[b]; esc != 0 {
			buf = append(buf, v[start:i]...)
			buf = append(buf, '\\', esc)
			start = i + 1
		}
	}
	return append(buf, v[start:]...)
}

// insertChunk writes the chunk as multi-row REPLACE statements of up to maxStmt bytes, cut
// where a row ends.
func (cp *copier) insertChunk(ctx context.Context, tx *sql.Tx, c *chunk, r *streamReader) error {
	head := "REPLACE INTO " + sqlgen.Table(c.T.Target.DB, c.T.Target.Table) + " (" + colNames(c.T.Columns) + ") VALUES "
	// sized once: grown by append it would double to twice maxStmt per writer
	stmt := append(make([]byte, 0, len(head)+cp.maxStmt+blockSize), head...)
	exec := func() error {
		if len(stmt) == len(head) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, string(stmt[:len(stmt)-1])); err != nil { // without the last comma
			return fmt.Errorf("insert into %s: %w", c.T.dst(), err)
		}
		stmt = stmt[:len(head)]
		return nil
	}
	for {
		blk, err := r.next()
		if errors.Is(err, io.EOF) {
			return exec()
		}
		if err != nil {
			return err
		}
		stmt = append(stmt, blk.buf...)
		if blk.rowEnd && len(stmt) >= cp.maxStmt {
			if err := exec(); err != nil {
				return err
			}
		}
	}
}

func colNames(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return sqlgen.ColumnList(names)
}

// appendLiteral appends v as a SQL literal: NULL, a number for BIT (selected as col+0), else a
// _binary string (bytes are already in the column's character set).
func appendLiteral(buf []byte, v sql.RawBytes, bit bool) []byte {
	if v == nil {
		return append(buf, "NULL"...)
	}
	if bit {
		return append(buf, v...)
	}
	buf = append(buf, "_binary'"...)
	return append(appendEscaped(buf, v), '\'')
}

// appendEscaped appends v escaped for the inside of a quoted SQL string.
func appendEscaped(buf []byte, v []byte) []byte {
	for _, b := range v {
		switch b {
		case 0:
			buf = append(buf, '\\', '0')
		case '\'':
			buf = append(buf, '\\', '\'')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case 0x1a:
			buf = append(buf, '\\', 'Z')
		default:
			buf = append(buf, b)
		}
	}
	return buf
}

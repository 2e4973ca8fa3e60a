package fullimport

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/sqlgen"
)

const (
	// pipeBufferSize is the write buffer between the source reader and the LOAD DATA stream of
	// one chunk: large enough that the pipe hand-off costs nothing per row, small enough that
	// concurrency x buffer stays a few MiB.
	pipeBufferSize = 256 << 10
	// insertStatementBytes bounds one multi-row statement of the insert method (also capped by
	// the target's max_allowed_packet).
	insertStatementBytes = 4 << 20
	// insertQueue is how many built statements wait for the writer: two keeps the writer busy
	// while the reader builds the next one, with bounded memory (queue x statement size).
	insertQueue = 2
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

// copier copies chunks from source to target.
type copier struct {
	src      *sql.DB // raw results (character_set_results=binary)
	dst      *sql.DB
	state    *stateStore
	method   string
	maxStmt  int
	throttle *throttle
	prog     *progress
}

// copyChunk copies one chunk and marks it done in the same target transaction.
func (cp *copier) copyChunk(ctx context.Context, c *chunk) (err error) {
	tp := cp.prog.table(c.T)
	var rowsN, bytesN int64
	defer func() {
		if err != nil { // the transaction rolled back: take the streamed figures back
			tp.add(-rowsN, -bytesN)
			cp.prog.add(-rowsN, -bytesN)
		}
	}()
	report := func(r, b int64) error {
		rowsN += r
		bytesN += b
		tp.add(r, b)
		cp.prog.add(r, b)
		return cp.throttle.wait(ctx, r, b)
	}
	tx, err := cp.state.fence.Begin(ctx, cp.dst)
	if err != nil {
		return fmt.Errorf("chunk %d of %s: %w", c.ID, c.T.src(), err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if cp.method == WriteInsert {
		err = cp.insertChunk(ctx, tx.Tx, c, report)
	} else {
		err = cp.loadChunk(ctx, tx.Tx, c, report)
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

// loadChunk streams the chunk into LOAD DATA LOCAL INFILE through an in-memory pipe: no file,
// memory bounded by pipeBufferSize.
func (cp *copier) loadChunk(ctx context.Context, tx *sql.Tx, c *chunk, report func(r, b int64) error) error {
	pr, pw := io.Pipe()
	name := fmt.Sprintf("oms-full-%d", readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		bw := bufio.NewWriterSize(pw, pipeBufferSize)
		var buf []byte
		var pendRows, pendBytes int64
		err := cp.readRows(gctx, c, func(vals []sql.RawBytes) error {
			buf = buf[:0]
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, '\t')
				}
				buf = appendTSV(buf, v)
			}
			buf = append(buf, '\n')
			pendRows++
			pendBytes += int64(len(buf))
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			if pendRows >= progressEvery {
				err := report(pendRows, pendBytes)
				pendRows, pendBytes = 0, 0
				return err
			}
			return nil
		})
		if err == nil {
			err = report(pendRows, pendBytes)
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err) // nil: EOF for the reader
		return err
	})
	g.Go(func() error {
		_, err := tx.ExecContext(gctx, c.T.loadSQL(name))
		pr.CloseWithError(fmt.Errorf("load data ended")) // unblocks the reader if LOAD DATA failed
		if err != nil {
			return fmt.Errorf("load data into %s: %w", c.T.dst(), err)
		}
		return nil
	})
	return g.Wait()
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
func appendTSV(buf []byte, v sql.RawBytes) []byte {
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

// insertChunk writes the chunk as multi-row REPLACE statements.
func (cp *copier) insertChunk(ctx context.Context, tx *sql.Tx, c *chunk, report func(r, b int64) error) error {
	head := "REPLACE INTO " + sqlgen.Table(c.T.Target.DB, c.T.Target.Table) + " (" + colNames(c.T.Columns) + ") VALUES "
	stmts := make(chan []byte, insertQueue)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(stmts)
		buf := []byte(head)
		n := 0
		var pendRows, pendBytes int64
		flush := func() error {
			if n == 0 {
				return nil
			}
			select {
			case stmts <- buf:
			case <-gctx.Done():
				return gctx.Err()
			}
			buf, n = append(make([]byte, 0, cap(buf)), head...), 0
			return nil
		}
		err := cp.readRows(gctx, c, func(vals []sql.RawBytes) error {
			before := len(buf)
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '(')
			for i, v := range vals {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendLiteral(buf, v, c.T.Columns[i].Bit)
			}
			buf = append(buf, ')')
			n++
			pendRows++
			pendBytes += int64(len(buf) - before)
			if len(buf) >= cp.maxStmt {
				if err := flush(); err != nil {
					return err
				}
			}
			if pendRows >= progressEvery {
				err := report(pendRows, pendBytes)
				pendRows, pendBytes = 0, 0
				return err
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err == nil {
			err = report(pendRows, pendBytes)
		}
		return err
	})
	g.Go(func() error {
		for s := range stmts {
			if _, err := tx.ExecContext(gctx, string(s)); err != nil {
				return fmt.Errorf("insert into %s: %w", c.T.dst(), err)
			}
		}
		return nil
	})
	return g.Wait()
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
	return append(buf, '\'')
}

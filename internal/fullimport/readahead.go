package fullimport

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// The read-ahead stage decouples reading chunks from writing them. On a large source the chunk
// readers wait on the source's disk while the target's LOAD DATA waits on them, and the other
// way round: with one stream per chunk, a chunk goes at the pace of the slower side at every
// moment and both sides idle part of the time (measured on 8 x 2.5M rows: CPUs 70-80% busy).
// Here readers fetch chunks ahead of the writers into a queue bounded by bytes: a reader starts
// the next chunk as soon as it has read one, whether or not a writer is free.
//
// The queue holds blocks of encoded rows (TSV for load_data, value tuples for insert), each of
// blockSize bytes of capacity, accounted when allocated and released when written. A row larger
// than a block spans several blocks, so wide rows and large BLOBs cost blocks like any other
// bytes and never more than the limit in total.
//
// Deadlock freedom: writers take streams (one per chunk) in the order readers started them. If
// the streams nobody writes yet could fill the whole limit, the writers' own readers could wait
// for bytes that only a writer could free. So streams without a writer may use at most
// limit - writers x blockSize; a stream with a writer may use the rest. When no writer has a
// block to write, the bytes in use are all held by streams without a writer, so each writer's
// reader can get the block it needs.

const (
	// blockSize is the unit of the read-ahead queue: large enough that handing a block to a
	// writer costs nothing per row, small enough that the reserve of writers x blockSize is a
	// few MiB.
	blockSize = 256 << 10
	// defaultReadAheadBytes bounds the read-ahead queue: about 3 s of the copy at 40 MB/s, which
	// rides over the source's disk stalls; with the Go heap's headroom the process stays well
	// under 512 MB.
	defaultReadAheadBytes = 128 << 20
	// readyStreams is how many started streams may wait for a writer beyond the readers' own:
	// streams of empty chunks hold no bytes, so the count needs its own bound.
	readyStreams = 64
)

// errAbandoned ends a reader whose writer gave up on the chunk (failed, or the table failed).
var errAbandoned = errors.New("chunk abandoned by its writer")

// block is a piece of one chunk's encoded rows.
type block struct {
	buf    []byte // cap is the accounted size
	rows   int64  // rows that end in this block
	rowEnd bool   // the block ends where a row ends (insert statements are cut only there)
}

// stageTimes is where the copy's time goes, summed over the goroutines of each stage (logged at
// the end and in Status metrics): a reader waiting for queue bytes means the writers are the
// bottleneck; a writer starved of blocks means the readers (the source) are.
type stageTimes struct {
	readBusy     atomic.Int64 // readers reading chunks (includes readBlocked), ns
	readBlocked  atomic.Int64 // readers waiting for queue bytes, ns
	writeBusy    atomic.Int64 // writers copying a chunk (includes writeStarved), ns
	writeStarved atomic.Int64 // writers waiting for the next block, ns
	writeIdle    atomic.Int64 // writers waiting for a started stream, ns
}

// chunkStream is one chunk on its way from a reader to a writer.
type chunkStream struct {
	c      *chunk
	blocks chan block // closed by the reader when it is done; err is set before
	err    error      // why the read failed (nil: every row is in blocks)
	cancel context.CancelFunc

	// guarded by queueBudget.mu
	attached  bool  // a writer took the stream
	abandoned bool  // the writer gave up: the reader stops and its bytes are released
	held      int64 // accounted bytes of this stream's blocks not yet released
}

// queueBudget accounts the bytes of the read-ahead queue: every block allocated and not yet
// released. used never exceeds limit (admits is the rule; TestQueueBudget* prove it).
type queueBudget struct {
	limit   int64
	reserve int64 // the part of limit only streams with a writer may use
	block   int64

	mu         sync.Mutex
	used       int64
	unattached int64 // bytes held by streams no writer has taken yet
	peak       int64
	wake       chan struct{} // closed and replaced when bytes are released or a stream attached
	free       [][]byte      // released buffers, reused: memory stays at the peak of used
}

func newQueueBudget(limit int64, writers int, block int64) *queueBudget {
	return &queueBudget{limit: limit, reserve: int64(writers) * block, block: block, wake: make(chan struct{})}
}

// minReadAhead is the smallest limit that lets every writer and one reader ahead make progress.
func minReadAhead(writers int) int64 { return int64(writers+1) * blockSize }

// admits is the admission rule: within the limit, and a stream without a writer only outside
// the writers' reserve.
func (b *queueBudget) admits(n int64, attached bool) bool {
	if b.used+n > b.limit {
		return false
	}
	return attached || b.unattached+n <= b.limit-b.reserve
}

// acquire waits until s may hold one more block and returns its (empty) buffer.
func (b *queueBudget) acquire(ctx context.Context, s *chunkStream) ([]byte, error) {
	for {
		b.mu.Lock()
		if s.abandoned {
			b.mu.Unlock()
			return nil, errAbandoned
		}
		if b.admits(b.block, s.attached) {
			b.used += b.block
			b.peak = max(b.peak, b.used)
			if !s.attached {
				b.unattached += b.block
			}
			s.held += b.block
			var buf []byte
			if n := len(b.free); n > 0 {
				buf, b.free = b.free[n-1], b.free[:n-1]
			}
			b.mu.Unlock()
			if buf == nil {
				buf = make([]byte, 0, b.block)
			}
			return buf, nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release gives back one block of s (written, or dropped).
func (b *queueBudget) release(s *chunkStream, buf []byte) {
	b.mu.Lock()
	b.used -= b.block
	if !s.attached {
		b.unattached -= b.block
	}
	s.held -= b.block
	b.free = append(b.free, buf[:0])
	b.signal()
	b.mu.Unlock()
}

// attach marks s taken by a writer: its bytes move out of the read-ahead share.
func (b *queueBudget) attach(s *chunkStream) {
	b.mu.Lock()
	if !s.attached {
		s.attached = true
		b.unattached -= s.held
		b.signal()
	}
	b.mu.Unlock()
}

func (b *queueBudget) signal() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// usage returns the bytes in use and the peak so far.
func (b *queueBudget) usage() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// newStream makes the stream of c; its reader runs under the returned context.
func (b *queueBudget) newStream(ctx context.Context, c *chunk) (*chunkStream, context.Context) {
	rctx, cancel := context.WithCancel(ctx)
	return &chunkStream{c: c, blocks: make(chan block, b.limit/b.block+1), cancel: cancel}, rctx
}

// abandon stops the reader of s and releases what it queued; it returns when the reader is done.
func (b *queueBudget) abandon(s *chunkStream) {
	b.mu.Lock()
	s.abandoned = true
	b.signal()
	b.mu.Unlock()
	s.cancel()
	for blk := range s.blocks {
		b.release(s, blk.buf)
	}
}

// blockWriter is the reader side of a stream: it cuts the encoded rows into blocks.
type blockWriter struct {
	ctx    context.Context
	budget *queueBudget
	s      *chunkStream
	cur    block
	has    bool // cur holds an acquired buffer
	wait   *atomic.Int64
}

// write appends p, continuing in new blocks as they fill.
func (w *blockWriter) write(p []byte) error {
	for len(p) > 0 {
		if !w.has || len(w.cur.buf) == cap(w.cur.buf) {
			if err := w.push(); err != nil {
				return err
			}
			t := time.Now()
			buf, err := w.budget.acquire(w.ctx, w.s)
			w.wait.Add(int64(time.Since(t)))
			if err != nil {
				return err
			}
			w.cur, w.has = block{buf: buf}, true
		}
		n := min(len(p), cap(w.cur.buf)-len(w.cur.buf))
		w.cur.buf = append(w.cur.buf, p[:n]...)
		w.cur.rowEnd = false
		p = p[n:]
	}
	return nil
}

// endRow records that a row ends here.
func (w *blockWriter) endRow() {
	w.cur.rows++
	w.cur.rowEnd = true
}

// push hands the current block to the writer (the channel has room for every block the
// budget allows, so this never waits).
func (w *blockWriter) push() error {
	if !w.has {
		return nil
	}
	w.has = false
	if len(w.cur.buf) == 0 {
		w.budget.release(w.s, w.cur.buf)
		return nil
	}
	w.s.blocks <- w.cur
	return nil
}

// finish ends the stream: the last block is pushed on success, dropped on failure.
func (w *blockWriter) finish(err error) {
	if err == nil {
		err = w.push()
	} else if w.has {
		w.has = false
		w.budget.release(w.s, w.cur.buf)
	}
	w.s.err = err
	close(w.s.blocks)
}

// streamReader is the writer side of a stream: LOAD DATA reads it as an io.Reader, the insert
// method takes whole blocks with next.
type streamReader struct {
	ctx     context.Context
	budget  *queueBudget
	s       *chunkStream
	cur     block
	off     int
	has     bool
	onBlock func(rows, bytes int64) // progress, for each block written
	starved *atomic.Int64           // time waiting for the reader
}

// next returns the next block; the previous one is released. io.EOF after the last.
func (r *streamReader) next() (block, error) {
	r.drop()
	t := time.Now()
	defer func() { r.starved.Add(int64(time.Since(t))) }()
	select {
	case blk, ok := <-r.s.blocks:
		if !ok {
			if r.s.err != nil {
				return block{}, r.s.err
			}
			return block{}, io.EOF
		}
		r.cur, r.off, r.has = blk, 0, true
		r.onBlock(blk.rows, int64(len(blk.buf)))
		return blk, nil
	case <-r.ctx.Done():
		return block{}, r.ctx.Err()
	}
}

// drop releases the current block.
func (r *streamReader) drop() {
	if r.has {
		r.has = false
		r.budget.release(r.s, r.cur.buf)
	}
}

// Read implements io.Reader for LOAD DATA LOCAL INFILE.
func (r *streamReader) Read(p []byte) (int, error) {
	for !r.has || r.off == len(r.cur.buf) {
		if _, err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.cur.buf[r.off:])
	r.off += n
	return n, nil
}

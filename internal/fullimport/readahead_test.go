package fullimport

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/omsdev/oms/internal/selection"
	"github.com/omsdev/oms/internal/testenv"
)

// TestQueueBudgetAdmits is the admission rule: never past the limit, and streams without a
// writer never into the writers' reserve.
func TestQueueBudgetAdmits(t *testing.T) {
	const blk = 10
	cases := []struct {
		name             string
		used, unattached int64
		attached         bool
		want             bool
	}{
		{"empty, no writer", 0, 0, false, true},
		{"empty, writer", 0, 0, true, true},
		{"read-ahead share full, no writer", 70, 70, false, false},
		{"read-ahead share full, writer gets the reserve", 70, 70, true, true},
		{"one block below the share", 60, 60, false, true},
		{"attached bytes leave room in the share", 90, 40, false, true},
		{"limit reached, writer", 100, 70, true, false},
		{"limit reached, no writer", 100, 40, false, false},
		{"one block below the limit, writer", 90, 70, true, true},
		{"one block below the limit, no writer, share full", 90, 70, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newQueueBudget(100, 3, blk) // reserve 30: streams without a writer use at most 70
			b.used, b.unattached = c.used, c.unattached
			if got := b.admits(blk, c.attached); got != c.want {
				t.Errorf("admits(used=%d unattached=%d attached=%v) = %v, want %v", c.used, c.unattached, c.attached, got, c.want)
			}
		})
	}
}

// TestDefaultMemoryBound: with the default queue the Go heap's soft limit leaves room under the
// 512 MiB bound of the process (runtime, stacks and the driver's buffers are outside the heap
// limit's reach only in part, so it must stay well below).
func TestDefaultMemoryBound(t *testing.T) {
	var cfg Config
	cfg.setDefaults()
	if got := memoryLimit(cfg.ReadAheadBytes); got > 400<<20 {
		t.Errorf("heap limit %d MiB with the defaults: too close to the 512 MiB bound", got>>20)
	}
	if cfg.ReadAheadBytes < minReadAhead(cfg.Concurrency) {
		t.Errorf("default read_ahead_bytes %d below the minimum for %d writers", cfg.ReadAheadBytes, cfg.Concurrency)
	}
}

// TestQueueBudgetAccounting follows one stream's bytes through acquire, attach and release.
func TestQueueBudgetAccounting(t *testing.T) {
	ctx := context.Background()
	b := newQueueBudget(4*blockSize, 1, blockSize)
	s, _ := b.newStream(ctx, &chunk{})
	var bufs [][]byte
	for i := 0; i < 3; i++ { // the read-ahead share is 3 blocks
		buf, err := b.acquire(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	if b.used != 3*blockSize || b.unattached != 3*blockSize || s.held != 3*blockSize {
		t.Fatalf("after 3 blocks: used=%d unattached=%d held=%d", b.used, b.unattached, s.held)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(short, s); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a 4th block without a writer: %v, want to wait (the last block is the writers' reserve)", err)
	}
	b.attach(s)
	if b.unattached != 0 {
		t.Fatalf("attach left unattached=%d", b.unattached)
	}
	buf, err := b.acquire(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	bufs = append(bufs, buf)
	if _, peak := b.usage(); peak != 4*blockSize {
		t.Fatalf("peak %d, want the limit %d", peak, 4*blockSize)
	}
	for _, buf := range bufs {
		b.release(s, buf)
	}
	if b.used != 0 || s.held != 0 || len(b.free) != 4 {
		t.Fatalf("after release: used=%d held=%d free=%d", b.used, s.held, len(b.free))
	}
	if buf, _ := b.acquire(ctx, s); cap(buf) != blockSize || &buf[:1][0] != &b.free[:4][3][:1][0] {
		t.Errorf("a released buffer is not reused")
	}
}

// TestReadAheadBoundUnderLoad runs readers and writers over many streams whose rows range from
// a few bytes to several times the whole limit, with writers that abandon some chunks: the bytes
// in use never pass the limit (the peak is recorded under the lock at every acquisition), every
// byte written arrives in order, and the stage never deadlocks.
func TestReadAheadBoundUnderLoad(t *testing.T) {
	const writers, readersN, chunks = 3, 5, 60
	limit := minReadAhead(writers) + blockSize // as tight as the config allows, plus one block
	b := newQueueBudget(limit, writers, blockSize)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a timing
	defer cancel()
	rnd := rand.New(rand.NewSource(1))
	rows := make([][][]byte, chunks) // each chunk's rows
	for i := range rows {
		for r := rnd.Intn(40); r > 0; r-- {
			n := rnd.Intn(3000)
			if rnd.Intn(15) == 0 {
				n = int(limit)*2 + rnd.Intn(1<<20) // a row larger than the whole queue
			}
			rows[i] = append(rows[i], bytes.Repeat([]byte{byte(i), byte(r)}, n/2+1))
		}
	}
	var times stageTimes
	todo := make(chan int)
	ready := make(chan *chunkStream, readyStreams)
	var wg sync.WaitGroup
	go func() {
		defer close(todo)
		for i := 0; i < chunks; i++ {
			todo <- i
		}
	}()
	var readers sync.WaitGroup
	for i := 0; i < readersN; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for id := range todo {
				s, rctx := b.newStream(ctx, &chunk{ID: id})
				ready <- s
				w := &blockWriter{ctx: rctx, budget: b, s: s, wait: &times.readBlocked}
				var err error
				for _, row := range rows[id] {
					if err = w.write(row); err != nil {
						break
					}
					w.endRow()
				}
				w.finish(err)
			}
		}()
	}
	go func() { readers.Wait(); close(ready) }()
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			wr := rand.New(rand.NewSource(seed))
			for s := range ready {
				b.attach(s)
				r := &streamReader{ctx: ctx, budget: b, s: s, starved: &times.writeStarved, onBlock: func(int64, int64) {}}
				if wr.Intn(6) == 0 { // give up half-way, like a failed LOAD DATA
					io.CopyN(io.Discard, r, int64(wr.Intn(1<<20)))
					r.drop()
					b.abandon(s)
					continue
				}
				got, err := io.ReadAll(r)
				if err != nil {
					errs <- fmt.Errorf("chunk %d: %w", s.c.ID, err)
					return
				}
				if want := bytes.Join(rows[s.c.ID], nil); !bytes.Equal(got, want) {
					errs <- fmt.Errorf("chunk %d: %d bytes arrived, want %d", s.c.ID, len(got), len(want))
					return
				}
			}
		}(int64(i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the stage deadlocked")
	}
	used, peak := b.usage()
	if peak > limit || peak < 2*blockSize {
		t.Errorf("peak %d bytes, want in (%d, %d]", peak, 2*blockSize, limit)
	}
	if used != 0 || b.unattached != 0 {
		t.Errorf("after the copy used=%d unattached=%d, want 0", used, b.unattached)
	}
	if n := int64(len(b.free)) * blockSize; n > limit {
		t.Errorf("%d bytes of buffers kept, more than the limit %d", n, limit)
	}
}

// TestEncodePieces checks that rows encoded piece by piece (large values) are the same bytes
// as appendTSV/appendLiteral of the whole value (rowEncoder), also when an escape falls on a piece boundary.
func TestEncodePieces(t *testing.T) {
	big := bytes.Repeat([]byte("ab\t\\\n\x00'\r\x1az"), 3*encodePiece/10+7)
	big[encodePiece-1] = '\t' // escaped byte as the last of a piece
	vals := []sql.RawBytes{sql.RawBytes("1"), nil, sql.RawBytes(""), sql.RawBytes(big), sql.RawBytes("x\ty")}
	cols := []column{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e", Bit: true}}
	collect := func(enc func(w *blockWriter) (int64, error)) []byte {
		b := newQueueBudget(64*blockSize, 1, blockSize)
		s, ctx := b.newStream(context.Background(), &chunk{})
		b.attach(s)
		var times stageTimes
		w := &blockWriter{ctx: ctx, budget: b, s: s, wait: &times.readBlocked}
		n, err := enc(w)
		w.endRow()
		w.finish(err)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for blk := range s.blocks {
			out = append(out, blk.buf...)
		}
		if int64(len(out)) != n {
			t.Errorf("reported %d bytes, wrote %d", n, len(out))
		}
		return out
	}
	var want []byte
	for i, v := range vals {
		if i > 0 {
			want = append(want, '\t')
		}
		want = appendTSV(want, v)
	}
	want = append(want, '\n')
	got := collect(func(w *blockWriter) (int64, error) { e := &rowEncoder{w: w}; err := e.tsv(vals); return e.n, err })
	if !bytes.Equal(got, want) {
		t.Errorf("tsv: %d bytes differ from appendTSV's %d", len(got), len(want))
	}
	want = []byte("(")
	for i, v := range vals {
		if i > 0 {
			want = append(want, ',')
		}
		want = appendLiteral(want, v, cols[i].Bit)
	}
	want = append(want, "),"...)
	got = collect(func(w *blockWriter) (int64, error) {
		e := &rowEncoder{w: w}
		err := e.tuple(vals, cols)
		return e.n, err
	})
	if !bytes.Equal(got, want) {
		t.Errorf("tuple: %d bytes differ from appendLiteral's %d", len(got), len(want))
	}
}

// TestReadAheadBoundWideRows copies a table with 0.9-2.7 MB BLOB rows (each larger than the
// whole read-ahead queue) among small ones through a queue of the smallest allowed size, with
// more readers than writers, by both write methods: the rows arrive intact and the queue's
// peak, recorded at every block allocation, never passes the limit.
func TestReadAheadBoundWideRows(t *testing.T) {
	src, dst := pair(t)
	srcDB := testenv.FreshDatabase(t, src, "wide")
	mustExec(t, src.DB(),
		"CREATE TABLE `"+srcDB+"`.wide (id INT PRIMARY KEY, b LONGBLOB, s VARCHAR(20))",
		// every 100th row 0.9-2.7 MB of bytes that LOAD DATA and SQL literals both escape
		"INSERT INTO `"+srcDB+"`.wide SELECT seq, IF(seq % 100 = 0, REPEAT(CONCAT(CHAR(seq % 256), '\\t\\n\\\\''\\0'), 150000 * (1 + seq % 3)), CONCAT('small ', seq)), seq FROM `"+srcDB+"`.seq_1_to_2500",
		"ANALYZE TABLE `"+srcDB+"`.wide",
	)
	const writers = 2
	limit := minReadAhead(writers)
	for _, method := range []string{WriteLoadData, WriteInsert} {
		t.Run(method, func(t *testing.T) {
			dstDB := srcDB + "_" + method
			cfg := Config{
				Source: connOf(src), Target: connOf(dst),
				Selection:   selection.Config{Tables: []selection.Rule{{DB: srcDB, RenameDB: dstDB}}},
				ChunkRows:   1000, // the planner's minimum: 3 chunks
				Concurrency: writers, ReadConcurrency: 4, ReadAheadBytes: limit, WriteMethod: method,
			}
			u, err := runImport(t, cfg, "wide-"+method)
			if err != nil {
				t.Fatalf("run: %v\nobjects: %+v", err, u.Objects())
			}
			compareDB(t, src, dst, srcDB, dstDB, []string{"wide"})
			m := u.Status().Metrics
			if peak := int64(m["read_ahead_peak_bytes"]); peak > limit || peak < 2*blockSize {
				t.Errorf("read-ahead peak %d bytes, want in [%d, %d]", peak, 2*blockSize, limit)
			}
			if m["read_ahead_bytes"] != 0 {
				t.Errorf("%v bytes left in the queue after the copy", m["read_ahead_bytes"])
			}
			if m["chunks_total"] < 2 {
				t.Errorf("one chunk only: the readers never ran ahead (%v)", m)
			}
			t.Logf("peak %v of %d bytes, stage seconds: read %.2f (blocked %.2f), write %.2f (starved %.2f)", m["read_ahead_peak_bytes"], limit,
				m["read_busy_seconds"], m["read_blocked_seconds"], m["write_busy_seconds"], m["write_starved_seconds"])
		})
	}
}

package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/omserr"
)

// Log is the Store's durable change log: a directory of segment files. One goroutine appends
// (Append); any number read (cursors); retention removes whole sealed segments.
type Log struct {
	dir      string
	flavor   string
	segBytes int64

	mu     sync.RWMutex
	segs   []*segment
	active *os.File
	meta   logMeta
	base   binlog.GTIDSet // transactions before the first captured one
	purged binlog.GTIDSet // transactions of segments retention removed
	end    binlog.GTIDSet // base ∪ purged ∪ every segment's GTIDs: the captured position
	last   recordMeta     // last durable record
	notify *notifier
	// durable says when the last appends became durable (a ring by append, under mu): where a
	// record's sent hop starts (durableAt).
	durable  [durableMarks]durableMark
	durableN int
	wbuf     []byte
	closed   bool
	lock     *os.File // flock'd LOCK file: one writer per directory, released when the process dies
}

// logMeta is store.json: what the segments alone cannot tell.
type logMeta struct {
	Flavor string `json:"flavor"`
	// Base is the GTID set before the first captured transaction ("" until capture started).
	Base        string `json:"base"`
	BaseSet     bool   `json:"base_set"`
	Purged      string `json:"purged"`
	PurgedBytes int64  `json:"purged_bytes"`
	// StartFile/StartPos is where capture started when it started by file position.
	StartFile string `json:"start_file,omitempty"`
	StartPos  uint32 `json:"start_pos,omitempty"`
}

// OpenLog opens (or creates) the log in dir, truncating a torn tail of the last segment.
func OpenLog(dir, flavor string, segBytes int64) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create segment dir: %w", err)
	}
	l := &Log{dir: dir, flavor: flavor, segBytes: segBytes, notify: newNotifier()}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open segment dir lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, omserr.Wrap(err, omserr.StoreDirLocked, "segment dir "+dir+" is in use by another store process",
			"stop the other store (or give this one its own segment_dir)")
	}
	l.lock = lock
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	l.base, _ = binlog.NewGTIDSet(flavor)
	l.purged, _ = binlog.NewGTIDSet(flavor)
	if b, err := os.ReadFile(filepath.Join(dir, "store.json")); err == nil {
		if err := json.Unmarshal(b, &l.meta); err != nil {
			return nil, fmt.Errorf("read %s/store.json: %w", dir, err)
		}
		if l.meta.Flavor != flavor {
			return nil, fmt.Errorf("segment dir %s holds a %s log, not %s", dir, l.meta.Flavor, flavor)
		}
		if l.base, err = binlog.ParseGTIDSet(flavor, l.meta.Base); err != nil {
			return nil, fmt.Errorf("read %s/store.json base: %w", dir, err)
		}
		if l.purged, err = binlog.ParseGTIDSet(flavor, l.meta.Purged); err != nil {
			return nil, fmt.Errorf("read %s/store.json purged: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read store.json: %w", err)
	}
	l.meta.Flavor = flavor
	paths, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	for i, p := range paths {
		lastOne := i == len(paths)-1
		var s *segment
		if !lastOne {
			if s, err = readIndex(p, flavor); err != nil {
				s = nil // rebuild from the file
			}
		}
		if s == nil {
			var valid int64
			s, valid, err = scanSegment(p, flavor)
			if err != nil {
				return nil, err
			}
			if err := truncateTo(p, valid); err != nil {
				return nil, err
			}
			if !lastOne {
				s.sealed = true
				if err := s.writeIndex(); err != nil {
					return nil, fmt.Errorf("write index of %s: %w", p, err)
				}
			}
		}
		l.segs = append(l.segs, s)
	}
	l.end = l.base.Clone()
	_ = l.end.Union(l.purged)
	for _, s := range l.segs {
		_ = l.end.Union(s.own)
		if s.lastSeq > 0 {
			l.last = recordMeta{seq: s.lastSeq, gtid: s.lastGTID, time: s.last, file: s.lastFile, pos: s.lastPos}
		}
	}
	ok = true
	return l, nil
}

// truncateTo cuts a file to n bytes (a torn tail) and writes the header of an empty file.
func truncateTo(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if n == 0 {
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
			return err
		}
		return f.Sync()
	}
	if st.Size() == n {
		return nil
	}
	if err := f.Truncate(n); err != nil {
		return fmt.Errorf("truncate torn tail of %s at %d: %w", path, n, err)
	}
	return f.Sync()
}

func (l *Log) writeMeta() error {
	l.meta.Base = l.base.String()
	l.meta.Purged = l.purged.String()
	b, _ := json.Marshal(l.meta)
	return writeFileSync(filepath.Join(l.dir, "store.json"), b)
}

// HasBase reports whether the start position has been recorded.
func (l *Log) HasBase() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.meta.BaseSet
}

// SetBase records the GTID set before the first captured transaction (and the file position
// capture started at, if any). Called once, before the first Append.
func (l *Log) SetBase(base binlog.GTIDSet, at binlog.Position) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base = base.Clone()
	l.meta.BaseSet = true
	l.meta.StartFile, l.meta.StartPos = at.File, at.Pos
	_ = l.end.Union(base)
	return l.writeMeta()
}

// StartAt returns the recorded start file position (empty if capture started by GTID).
func (l *Log) StartAt() binlog.Position {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return binlog.Position{File: l.meta.StartFile, Pos: l.meta.StartPos}
}

// End returns the captured position: every durable transaction plus what came before.
func (l *Log) End() binlog.GTIDSet {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end.Clone()
}

// Last returns the last durable record's metadata (seq 0 if the log is empty).
func (l *Log) Last() recordMeta {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// Base returns the set before the first captured transaction; Purged what retention removed.
func (l *Log) Base() binlog.GTIDSet {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.base.Clone()
}

// Purged returns the GTIDs of segments removed by retention.
func (l *Log) Purged() binlog.GTIDSet {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.purged.Clone()
}

// DiskBytes is the size of the segment files.
func (l *Log) DiskBytes() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// pendingRecord is an encoded transaction waiting to be appended.
type pendingRecord struct {
	payload  []byte
	meta     recordMeta
	rows     int
	received time.Time // when capture read its commit from the source (the durable hop's start)
}

// Append writes the records, fsyncs them and only then makes them visible to readers and to
// End/Last. Not safe for concurrent use (one writer).
func (l *Log) Append(recs []pendingRecord) error {
	for len(recs) > 0 {
		if err := l.ensureActive(recs[0].meta.seq); err != nil {
			return err
		}
		s := l.segs[len(l.segs)-1]
		// Take as many records as fit in this segment (at least one).
		n, size := 0, s.size
		for n < len(recs) && (n == 0 || size+recordHeader+int64(len(recs[n].payload)) <= l.segBytes) {
			size += recordHeader + int64(len(recs[n].payload))
			n++
		}
		l.wbuf = l.wbuf[:0]
		for _, r := range recs[:n] {
			l.wbuf = binary.LittleEndian.AppendUint32(l.wbuf, uint32(len(r.payload)))
			l.wbuf = binary.LittleEndian.AppendUint32(l.wbuf, crc32.Checksum(r.payload, castagnoli))
			l.wbuf = append(l.wbuf, r.payload...)
		}
		if _, err := l.active.WriteAt(l.wbuf, s.size); err != nil {
			return fmt.Errorf("append to segment %s: %w", s.path, err)
		}
		if err := l.active.Sync(); err != nil {
			return fmt.Errorf("fsync segment %s: %w", s.path, err)
		}
		l.mu.Lock()
		off := s.size
		for _, r := range recs[:n] {
			s.note(r.meta, off, l.flavor)
			if r.meta.gtid != "" {
				_ = l.end.Add(r.meta.gtid)
			}
			off += recordHeader + int64(len(r.payload))
		}
		s.size = off
		l.last = recs[n-1].meta
		l.durable[l.durableN%durableMarks] = durableMark{from: recs[0].meta.seq, to: l.last.seq, at: time.Now()}
		l.durableN++
		l.mu.Unlock()
		l.notify.broadcast()
		recs = recs[n:]
		if s.size >= l.segBytes {
			if err := l.seal(); err != nil {
				return err
			}
		}
	}
	return nil
}

// durableMarks is how many appends durableAt remembers: at a few per second when caught up,
// minutes of them; a consumer further behind is catching up and its sent hop is not a delay.
const durableMarks = 1024

// durableMark is an append: the records from..to it made durable, and when.
type durableMark struct {
	from, to uint64
	at       time.Time
}

// durableAt returns when the record seq became durable, if it was among the last appends.
func (l *Log) durableAt(seq uint64) (time.Time, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for i := l.durableN - 1; i >= 0 && i >= l.durableN-durableMarks; i-- {
		m := l.durable[i%durableMarks]
		if m.from <= seq && seq <= m.to {
			return m.at, true
		}
		if m.to < seq {
			break
		}
	}
	return time.Time{}, false // older than the marks, before this process appended, or not yet
}

// ensureActive opens the last segment for writing, creating one if there is none or it is full.
func (l *Log) ensureActive(nextSeq uint64) error {
	if l.active != nil {
		return nil
	}
	if n := len(l.segs); n > 0 && !l.segs[n-1].sealed {
		f, err := os.OpenFile(l.segs[n-1].path, os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("open segment for append: %w", err)
		}
		l.active = f
		return nil
	}
	path := filepath.Join(l.dir, segName(nextSeq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		return fmt.Errorf("write segment header: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	own, _ := binlog.NewGTIDSet(l.flavor)
	l.mu.Lock()
	l.segs = append(l.segs, &segment{path: path, base: nextSeq, size: int64(len(segMagic)), own: own})
	l.mu.Unlock()
	l.active = f
	return nil
}

// seal closes the active segment and writes its index.
func (l *Log) seal() error {
	s := l.segs[len(l.segs)-1]
	if err := l.active.Close(); err != nil {
		return fmt.Errorf("close segment %s: %w", s.path, err)
	}
	l.active = nil
	l.mu.Lock()
	s.sealed = true
	l.mu.Unlock()
	if err := s.writeIndex(); err != nil {
		return fmt.Errorf("write index of %s: %w", s.path, err)
	}
	return nil
}

// Close closes the active segment file.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.notify.broadcast()
	var err error
	if l.active != nil {
		err = l.active.Close()
		l.active = nil
	}
	if l.lock != nil {
		l.lock.Close() // releases the flock
		l.lock = nil
	}
	return err
}

// segView is a reader's copy of a segment's state.
type segView struct {
	path     string
	base     uint64
	size     int64
	sealed   bool
	firstSeq uint64
	own      binlog.GTIDSet
	index    []indexEntry
}

// view returns the current segments (oldest first) and whether the log is closed.
func (l *Log) view() ([]segView, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]segView, len(l.segs))
	for i, s := range l.segs {
		out[i] = segView{path: s.path, base: s.base, size: s.size, sealed: s.sealed, firstSeq: s.firstSeq, index: s.index}
		if s.sealed {
			out[i].own = s.own // immutable once sealed; the active segment's set changes under mu
		}
	}
	return out, l.closed
}

func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 1<<20) }

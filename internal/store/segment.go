package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omsdev/oms/internal/binlog"
)

// Segment files (see docs/store.md): seg-<first seq, 20 digits>.log holds an 8-byte magic and
// then records [u32 len][u32 crc32c][payload]. A sealed segment has a sidecar .idx (JSON) with
// its seq/time range, the GTIDs it holds and a sparse offset index; the active (last) segment is
// scanned on open and a torn tail (short or CRC-failing record after a crash) is truncated.
const (
	segMagic       = "OMSSEG01"
	indexEvery     = 1 << 20 // sparse index entry every ~1 MB of records
	maxRecordBytes = 1 << 30
)

type indexEntry struct {
	Seq  uint64 `json:"s"`
	Time int64  `json:"t"` // commit time, unix s
	Off  int64  `json:"o"`
}

// segment is one file's metadata. Fields other than path/base change only under Log.mu.
type segment struct {
	path     string
	base     uint64 // first seq the file was created for
	size     int64  // durable bytes (records fully written and fsync'd)
	firstSeq uint64 // 0 = empty
	lastSeq  uint64
	first    int64 // commit time of first/last txn, unix s
	last     int64
	own      binlog.GTIDSet // GTIDs of the transactions in this segment
	index    []indexEntry
	lastIdx  int64 // offset of the last index entry
	sealed   bool
	// lastFile/lastPos are the source coordinates after the segment's last txn.
	lastGTID string
	lastFile string
	lastPos  uint32
}

type segIndexFile struct {
	FirstSeq uint64       `json:"first_seq"`
	LastSeq  uint64       `json:"last_seq"`
	First    int64        `json:"first_time"`
	Last     int64        `json:"last_time"`
	Size     int64        `json:"size"`
	Own      string       `json:"gtids"`
	LastGTID string       `json:"last_gtid"`
	LastFile string       `json:"last_file"`
	LastPos  uint32       `json:"last_pos"`
	Index    []indexEntry `json:"index"`
}

func segName(base uint64) string { return fmt.Sprintf("seg-%020d.log", base) }

// recordMeta is what the log needs to know about a record without decoding it fully.
type recordMeta struct {
	seq  uint64
	gtid string
	time int64
	file string
	pos  uint32
}

// peekRecord reads seq, gtid, commit time, file and pos from the start of a record payload.
func peekRecord(p []byte) (recordMeta, error) {
	r := &rd{b: p}
	if v := r.byte1(); v != codecVersion && v != codecVersionSession && v != codecVersionSessionTS {
		return recordMeta{}, errCorrupt
	}
	var m recordMeta
	m.seq = r.uvarint()
	m.gtid = string(r.raw(r.uvarint()))
	r.uvarint()
	m.time = r.varint()
	m.file = string(r.raw(r.uvarint()))
	m.pos = uint32(r.uvarint())
	if r.err {
		return m, errCorrupt
	}
	return m, nil
}

// peekSeq returns the seq of a record payload.
func peekSeq(p []byte) uint64 {
	r := &rd{b: p}
	r.byte1()
	return r.uvarint()
}

// peekGTID returns the GTID bytes of a record payload without allocating.
func peekGTID(p []byte) []byte {
	r := &rd{b: p}
	r.byte1()
	r.uvarint()
	return r.raw(r.uvarint())
}

// scanSegment reads a segment file's records, checking CRCs, and returns its metadata. It stops
// at the first torn or corrupt record and reports the offset of the valid end.
func scanSegment(path string, flavor string) (*segment, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	base, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "seg-"), ".log"), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("segment %s: bad name", path)
	}
	own, _ := binlog.NewGTIDSet(flavor)
	s := &segment{path: path, base: base, own: own}
	var magic [len(segMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != segMagic {
		// empty or torn before the header (a kill between creating the file and writing it): the
		// caller rewrites the header (truncateTo 0), after which the segment is the header alone
		s.size = int64(len(segMagic))
		return s, 0, nil
	}
	br := newBufReader(f)
	off := int64(len(segMagic))
	var hdr [recordHeader]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n == 0 || n > maxRecordBytes {
			break
		}
		buf = grow(buf, int(n))
		if _, err := io.ReadFull(br, buf); err != nil {
			break
		}
		if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			break
		}
		m, err := peekRecord(buf)
		if err != nil {
			break
		}
		s.note(m, off, flavor)
		off += recordHeader + int64(n)
	}
	s.size = off
	return s, off, nil
}

// note adds a record's metadata to the segment (record at offset off).
func (s *segment) note(m recordMeta, off int64, flavor string) {
	if s.firstSeq == 0 {
		s.firstSeq, s.first = m.seq, m.time
	}
	s.lastSeq, s.last = m.seq, m.time
	if m.gtid != "" {
		_ = s.own.Add(m.gtid)
		s.lastGTID = m.gtid
	}
	s.lastFile, s.lastPos = m.file, m.pos
	if len(s.index) == 0 || off-s.lastIdx >= indexEvery {
		s.index = append(s.index, indexEntry{Seq: m.seq, Time: m.time, Off: off})
		s.lastIdx = off
	}
}

func (s *segment) indexPath() string { return strings.TrimSuffix(s.path, ".log") + ".idx" }

func (s *segment) writeIndex() error {
	x := segIndexFile{FirstSeq: s.firstSeq, LastSeq: s.lastSeq, First: s.first, Last: s.last, Size: s.size,
		Own: s.own.String(), LastGTID: s.lastGTID, LastFile: s.lastFile, LastPos: s.lastPos, Index: s.index}
	b, _ := json.Marshal(x)
	return writeFileSync(s.indexPath(), b)
}

func readIndex(path, flavor string) (*segment, error) {
	idx := strings.TrimSuffix(path, ".log") + ".idx"
	b, err := os.ReadFile(idx)
	if err != nil {
		return nil, err
	}
	var x segIndexFile
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() != x.Size {
		return nil, fmt.Errorf("segment %s is %d bytes, index says %d", path, st.Size(), x.Size)
	}
	own, err := binlog.ParseGTIDSet(flavor, x.Own)
	if err != nil {
		return nil, err
	}
	base, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "seg-"), ".log"), 10, 64)
	return &segment{path: path, base: base, size: x.Size, firstSeq: x.FirstSeq, lastSeq: x.LastSeq, first: x.First, last: x.Last,
		own: own, index: x.Index, sealed: true, lastGTID: x.LastGTID, lastFile: x.LastFile, lastPos: x.LastPos}, nil
}

// writeFileSync writes a small file atomically and durably (tmp, fsync, rename, fsync dir).
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// listSegments returns the segment files of dir in order.
func listSegments(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// notifier wakes readers when the durable end moves.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

var errClosed = errors.New("log closed")

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

package store

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/omserr"
)

// readChunk is how much of a segment a cursor reads per system call.
const readChunk = 1 << 20

// cursor reads durable records in log order, skipping those contained in a GTID set.
type cursor struct {
	l      *Log
	seg    uint64 // base of the current segment; 0 = not positioned yet
	off    int64
	f      *os.File
	chunk  []byte
	skip   binlog.GTIDSet // records whose GTID is in here are not returned
	noSkip bool
}

func newCursor(l *Log, from binlog.GTIDSet) *cursor {
	return &cursor{l: l, skip: from, noSkip: from.IsEmpty(), chunk: make([]byte, 0, readChunk)}
}

func (c *cursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

func purgedError(what string) error {
	return omserr.New(omserr.StorePositionPurged, what+" is no longer kept by the store (retention removed it)",
		"start the consumer from a newer checkpoint (a new full copy), or raise the store's retention")
}

// position finds the segment to continue in. It returns (nil, nil) when there is nothing yet.
func (c *cursor) position(segs []segView) (*segView, error) {
	if len(segs) == 0 {
		return nil, nil
	}
	if c.seg == 0 {
		// First read: skip whole sealed segments whose transactions the consumer already has.
		i := 0
		for i < len(segs)-1 && segs[i].sealed && !c.noSkip && c.skip.ContainsSet(segs[i].own) {
			i++
		}
		c.seg, c.off = segs[i].base, int64(len(segMagic))
		return &segs[i], nil
	}
	for i := range segs {
		if segs[i].base == c.seg {
			return &segs[i], nil
		}
	}
	if c.seg < segs[0].base {
		return nil, purgedError(fmt.Sprintf("segment %d the consumer is reading", c.seg))
	}
	return nil, fmt.Errorf("read log: segment %d vanished", c.seg)
}

// read appends whole records ([u32 len][u32 crc][payload], as stored) to dst until about max
// bytes, and returns dst. It returns dst unchanged at the durable end of the log.
func (c *cursor) read(dst []byte, max int) ([]byte, error) {
	segs, _ := c.l.view()
	for len(dst) < max {
		s, err := c.position(segs)
		if err != nil || s == nil {
			return dst, err
		}
		if c.off >= s.size {
			if !s.sealed {
				return dst, nil // durable end
			}
			// Next segment.
			next := -1
			for i := range segs {
				if segs[i].base == s.base && i+1 < len(segs) {
					next = i + 1
				}
			}
			if next < 0 {
				return dst, nil // sealed, the next one not created yet
			}
			c.close()
			c.seg, c.off = segs[next].base, int64(len(segMagic))
			continue
		}
		if c.f == nil {
			f, err := os.Open(s.path)
			if err != nil {
				if os.IsNotExist(err) {
					return dst, purgedError(fmt.Sprintf("segment %d the consumer is reading", c.seg))
				}
				return dst, fmt.Errorf("open segment %s: %w", s.path, err)
			}
			c.f = f
		}
		want := min(s.size-c.off, int64(readChunk))
		c.chunk = grow(c.chunk, int(want))
		if _, err := c.f.ReadAt(c.chunk, c.off); err != nil {
			return dst, fmt.Errorf("read segment %s at %d: %w", s.path, c.off, err)
		}
		p := c.chunk
		consumed := 0
		for len(p) >= recordHeader {
			n := int(binary.LittleEndian.Uint32(p))
			if recordHeader+n > len(p) {
				break
			}
			rec := p[:recordHeader+n]
			if c.noSkip || !c.contained(rec[recordHeader:]) {
				dst = append(dst, rec...)
			}
			p = p[recordHeader+n:]
			consumed += recordHeader + n
			if len(dst) >= max {
				break
			}
		}
		if consumed == 0 {
			// One record larger than the chunk: read it whole.
			n := int(binary.LittleEndian.Uint32(c.chunk))
			if int64(recordHeader+n) > s.size-c.off {
				return dst, fmt.Errorf("segment %s: record at %d runs past the durable end", s.path, c.off)
			}
			big := make([]byte, recordHeader+n)
			if _, err := c.f.ReadAt(big, c.off); err != nil {
				return dst, fmt.Errorf("read segment %s at %d: %w", s.path, c.off, err)
			}
			if c.noSkip || !c.contained(big[recordHeader:]) {
				dst = append(dst, big...)
			}
			consumed = len(big)
		}
		c.off += int64(consumed)
	}
	return dst, nil
}

func (c *cursor) contained(payload []byte) bool {
	g := peekGTID(payload)
	return len(g) > 0 && c.skip.Contains(string(g))
}

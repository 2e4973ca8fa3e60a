package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/omsdev/oms/internal/changelog"
)

// Record encoding of one changelog.Txn (see docs/store.md). The same bytes are stored in segment
// files and sent to consumers, so the server never re-encodes unless it filters.
//
//	u8 version(1) | uvarint seq | str gtid | uvarint server_id | varint commit unix s |
//	str file | uvarint pos | u8 flags(1 heartbeat, 2 ddl, 4 ddl tables) |
//	[ddl: str db, str sql, [uvarint n, str db.table...]] |
//	uvarint ntables, table... | uvarint nrows, row...
//	table: str db | str name | uvarint ncols, (str name, str type, u8 flags, str charset)... |
//	       uvarint npk, uvarint idx... | uvarint nuk, (uvarint n, uvarint idx...)...
//	row:   uvarint table index | u8 op | [before image] | [after image]
//	image: ncols values, each u8 tag + payload (tag: 0 nil, 1 int64 varint, 2 uint64 uvarint,
//	       3 float32 bits u32, 4 float64 bits u64, 5 string str, 6 bytes str)
//	str:   uvarint length + bytes
//
// Version 2 is version 1 plus, after the DDL's table list when flagDDLSession is set, the
// source session: u8 has (1 sql_mode, 2 flags) | u64 sql_mode | u16 client charset | u16
// connection collation | u16 server collation | str time_zone | u8 fk_checks. Records without a
// session are still written as version 1, so older readers read them.
//
// Version 3 is version 2 plus, after fk_checks, u8 (1 explicit_defaults_for_timestamp known, 2
// its value) | varint statement timestamp (Unix µs, 0 unknown); written only for a session that
// has either, so older readers read every other record.
const codecVersion = 1

const (
	codecVersionSession   = 2
	codecVersionSessionTS = 3
)

const (
	tagNil byte = iota
	tagInt
	tagUint
	tagFloat32
	tagFloat64
	tagString
	tagBytes
)

const (
	flagHeartbeat  = 1
	flagDDL        = 2
	flagDDLTables  = 4 // DDL carries its table list
	flagDDLSession = 8 // DDL carries its source session (version 2)
)

var errCorrupt = errors.New("corrupt record")

// sessionV3 reports whether a session needs record version 3.
func sessionV3(ss *changelog.Session) bool { return ss.HasExplicitDefaults || ss.Timestamp != 0 }

// appendTxn appends the encoding of t to b.
func appendTxn(b []byte, t *changelog.Txn) ([]byte, error) {
	if t.DDL != nil && t.DDL.Session != nil && sessionV3(t.DDL.Session) {
		b = append(b, codecVersionSessionTS)
	} else if t.DDL != nil && t.DDL.Session != nil {
		b = append(b, codecVersionSession)
	} else {
		b = append(b, codecVersion)
	}
	b = binary.AppendUvarint(b, t.Seq)
	b = appendStr(b, t.GTID)
	b = binary.AppendUvarint(b, uint64(t.ServerID))
	b = binary.AppendVarint(b, t.CommitTime.Unix())
	b = appendStr(b, t.File)
	b = binary.AppendUvarint(b, uint64(t.Pos))
	var flags byte
	if t.Heartbeat {
		flags |= flagHeartbeat
	}
	if t.DDL != nil {
		flags |= flagDDL
		if len(t.DDL.Tables) > 0 {
			flags |= flagDDLTables
		}
		if t.DDL.Session != nil {
			flags |= flagDDLSession
		}
	}
	b = append(b, flags)
	if t.DDL != nil {
		b = appendStr(b, t.DDL.DB)
		b = appendStr(b, t.DDL.Statement)
		if len(t.DDL.Tables) > 0 {
			b = binary.AppendUvarint(b, uint64(len(t.DDL.Tables)))
			for _, x := range t.DDL.Tables {
				b = appendStr(b, x)
			}
		}
		if ss := t.DDL.Session; ss != nil {
			var has byte
			if ss.HasSQLMode {
				has |= 1
			}
			if ss.HasFlags {
				has |= 2
			}
			b = append(b, has)
			b = binary.LittleEndian.AppendUint64(b, ss.SQLMode)
			b = binary.LittleEndian.AppendUint16(b, ss.ClientCharset)
			b = binary.LittleEndian.AppendUint16(b, ss.ConnectionCollation)
			b = binary.LittleEndian.AppendUint16(b, ss.ServerCollation)
			b = appendStr(b, ss.TimeZone)
			b = append(b, map[bool]byte{false: 0, true: 1}[ss.FKChecks])
			if sessionV3(ss) {
				var more byte
				if ss.HasExplicitDefaults {
					more |= 1
				}
				if ss.ExplicitDefaults {
					more |= 2
				}
				b = append(b, more)
				b = binary.AppendVarint(b, ss.Timestamp)
			}
		}
	}
	// Tables used by the rows, each once, in order of first use. Small linear search: a txn
	// touches few tables.
	var tables []*changelog.Table
	idxOf := func(tb *changelog.Table) int {
		for i, x := range tables {
			if x == tb {
				return i
			}
		}
		tables = append(tables, tb)
		return len(tables) - 1
	}
	rowTab := make([]int, len(t.Rows))
	for i := range t.Rows {
		if t.Rows[i].Table == nil {
			return b, fmt.Errorf("encode txn %s: row %d has no table", t.GTID, i)
		}
		rowTab[i] = idxOf(t.Rows[i].Table)
	}
	b = binary.AppendUvarint(b, uint64(len(tables)))
	for _, tb := range tables {
		b = appendTable(b, tb)
	}
	b = binary.AppendUvarint(b, uint64(len(t.Rows)))
	for i := range t.Rows {
		r := &t.Rows[i]
		b = binary.AppendUvarint(b, uint64(rowTab[i]))
		b = append(b, byte(r.Op))
		n := len(r.Table.Columns)
		var err error
		if r.Op != changelog.OpInsert {
			if b, err = appendImage(b, r.Before, n); err != nil {
				return b, fmt.Errorf("encode txn %s row %d before: %w", t.GTID, i, err)
			}
		}
		if r.Op != changelog.OpDelete {
			if b, err = appendImage(b, r.After, n); err != nil {
				return b, fmt.Errorf("encode txn %s row %d after: %w", t.GTID, i, err)
			}
		}
	}
	return b, nil
}

func appendTable(b []byte, tb *changelog.Table) []byte {
	b = appendStr(b, tb.DB)
	b = appendStr(b, tb.Name)
	b = binary.AppendUvarint(b, uint64(len(tb.Columns)))
	for _, c := range tb.Columns {
		b = appendStr(b, c.Name)
		b = appendStr(b, c.Type)
		var f byte
		if c.Unsigned {
			f |= 1
		}
		if c.Nullable {
			f |= 2
		}
		b = append(b, f)
		b = appendStr(b, c.Charset)
	}
	b = binary.AppendUvarint(b, uint64(len(tb.PrimaryKey)))
	for _, i := range tb.PrimaryKey {
		b = binary.AppendUvarint(b, uint64(i))
	}
	b = binary.AppendUvarint(b, uint64(len(tb.UniqueKeys)))
	for _, k := range tb.UniqueKeys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		for _, i := range k {
			b = binary.AppendUvarint(b, uint64(i))
		}
	}
	return b
}

func appendImage(b []byte, vals []any, n int) ([]byte, error) {
	if len(vals) != n {
		return b, fmt.Errorf("image has %d values for %d columns", len(vals), n)
	}
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, tagNil)
		case int64:
			b = binary.AppendVarint(append(b, tagInt), x)
		case uint64:
			b = binary.AppendUvarint(append(b, tagUint), x)
		case float32:
			b = binary.LittleEndian.AppendUint32(append(b, tagFloat32), math.Float32bits(x))
		case float64:
			b = binary.LittleEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(x))
		case string:
			b = appendStr(append(b, tagString), x)
		case []byte:
			b = binary.AppendUvarint(append(b, tagBytes), uint64(len(x)))
			b = append(b, x...)
		default:
			return b, fmt.Errorf("value of unsupported type %T", v)
		}
	}
	return b, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads records. It caches tables by their encoded bytes, so consecutive transactions on
// the same table share one *changelog.Table (consumers may compare pointers, and it saves
// allocations).
type decoder struct {
	tables map[string]*changelog.Table
}

func newDecoder() *decoder { return &decoder{tables: map[string]*changelog.Table{}} }

type rd struct {
	b   []byte
	off int
	err bool
}

func (r *rd) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = true
		r.off = len(r.b)
		return 0
	}
	r.off += n
	return v
}

func (r *rd) varint() int64 {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.err = true
		r.off = len(r.b)
		return 0
	}
	r.off += n
	return v
}

func (r *rd) byte1() byte {
	if r.off >= len(r.b) {
		r.err = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *rd) raw(n uint64) []byte {
	if n > uint64(len(r.b)-r.off) {
		r.err = true
		r.off = len(r.b)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *rd) str() string { return string(r.raw(r.uvarint())) }

// count reads a length and bounds it by the bytes left (each element takes at least one byte),
// so corrupt input never allocates huge slices.
func (r *rd) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.off) {
		r.err = true
		r.off = len(r.b)
		return 0
	}
	return int(n)
}

// decode parses one record payload. The returned Txn does not alias b.
func (d *decoder) decode(b []byte) (*changelog.Txn, error) {
	r := &rd{b: b}
	v := r.byte1()
	if v != codecVersion && v != codecVersionSession && v != codecVersionSessionTS {
		return nil, fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	t := &changelog.Txn{}
	t.Seq = r.uvarint()
	t.GTID = r.str()
	t.ServerID = uint32(r.uvarint())
	t.CommitTime = time.Unix(r.varint(), 0).UTC()
	t.File = r.str()
	t.Pos = uint32(r.uvarint())
	flags := r.byte1()
	t.Heartbeat = flags&flagHeartbeat != 0
	if flags&flagDDL != 0 {
		t.DDL = &changelog.DDL{DB: r.str(), Statement: r.str()}
		if flags&flagDDLTables != 0 {
			t.DDL.Tables = make([]string, r.count())
			for i := range t.DDL.Tables {
				t.DDL.Tables[i] = r.str()
			}
		}
		if flags&flagDDLSession != 0 {
			has := r.byte1()
			ss := &changelog.Session{HasSQLMode: has&1 != 0, HasFlags: has&2 != 0}
			raw := r.raw(14)
			if len(raw) == 14 {
				ss.SQLMode = binary.LittleEndian.Uint64(raw)
				ss.ClientCharset = binary.LittleEndian.Uint16(raw[8:])
				ss.ConnectionCollation = binary.LittleEndian.Uint16(raw[10:])
				ss.ServerCollation = binary.LittleEndian.Uint16(raw[12:])
			}
			ss.TimeZone = r.str()
			ss.FKChecks = r.byte1() == 1
			if v == codecVersionSessionTS {
				more := r.byte1()
				ss.HasExplicitDefaults, ss.ExplicitDefaults = more&1 != 0, more&2 != 0
				ss.Timestamp = r.varint()
			}
			t.DDL.Session = ss
		}
	}
	nt := r.count()
	tables := make([]*changelog.Table, nt)
	for i := range tables {
		start := r.off
		tb := d.table(r)
		if r.err {
			return nil, fmt.Errorf("%w: table %d", errCorrupt, i)
		}
		key := b[start:r.off]
		if cached, ok := d.tables[string(key)]; ok {
			tb = cached
		} else {
			if len(d.tables) > 10000 {
				clear(d.tables)
			}
			d.tables[string(key)] = tb
		}
		tables[i] = tb
	}
	nr := r.count()
	if nr > 0 {
		t.Rows = make([]changelog.Row, nr)
	}
	for i := range t.Rows {
		ti := r.uvarint()
		if ti >= uint64(len(tables)) {
			return nil, fmt.Errorf("%w: row %d names table %d of %d", errCorrupt, i, ti, len(tables))
		}
		row := &t.Rows[i]
		row.Table = tables[ti]
		row.Op = changelog.Op(r.byte1())
		n := len(row.Table.Columns)
		switch row.Op {
		case changelog.OpInsert:
			row.After = r.image(n)
		case changelog.OpUpdate:
			row.Before = r.image(n)
			row.After = r.image(n)
		case changelog.OpDelete:
			row.Before = r.image(n)
		default:
			return nil, fmt.Errorf("%w: row %d op %d", errCorrupt, i, row.Op)
		}
		if r.err {
			return nil, fmt.Errorf("%w: row %d", errCorrupt, i)
		}
	}
	if r.err || r.off != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(b)-r.off)
	}
	return t, nil
}

func (d *decoder) table(r *rd) *changelog.Table {
	tb := &changelog.Table{DB: r.str(), Name: r.str()}
	nc := r.count()
	tb.Columns = make([]changelog.Column, nc)
	for i := range tb.Columns {
		c := &tb.Columns[i]
		c.Name = r.str()
		c.Type = r.str()
		f := r.byte1()
		c.Unsigned, c.Nullable = f&1 != 0, f&2 != 0
		c.Charset = r.str()
	}
	if np := r.count(); np > 0 {
		tb.PrimaryKey = make([]int, np)
		for i := range tb.PrimaryKey {
			tb.PrimaryKey[i] = int(r.uvarint())
		}
	}
	if nu := r.count(); nu > 0 {
		tb.UniqueKeys = make([][]int, nu)
		for i := range tb.UniqueKeys {
			k := make([]int, r.count())
			for j := range k {
				k[j] = int(r.uvarint())
			}
			tb.UniqueKeys[i] = k
		}
	}
	return tb
}

func (r *rd) image(n int) []any {
	if n > len(r.b)-r.off {
		r.err = true
		return nil
	}
	vals := make([]any, n)
	for i := range vals {
		switch r.byte1() {
		case tagNil:
		case tagInt:
			vals[i] = r.varint()
		case tagUint:
			vals[i] = r.uvarint()
		case tagFloat32:
			p := r.raw(4)
			if p != nil {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(p))
			}
		case tagFloat64:
			p := r.raw(8)
			if p != nil {
				vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(p))
			}
		case tagString:
			vals[i] = r.str()
		case tagBytes:
			p := r.raw(r.uvarint())
			vals[i] = append([]byte{}, p...)
		default:
			r.err = true
		}
		if r.err {
			return nil
		}
	}
	return vals
}

// recordHeader is what precedes one record in a segment and in a wire frame body:
// u32 payload length, u32 CRC-32C of the payload.
const recordHeader = 8

func crc32c(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

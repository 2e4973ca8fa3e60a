package binlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/mysqlconn"
)

// SourceConfig says how to connect to a source as a replica. Password is never logged: String
// and LogValue mask it.
type SourceConfig struct {
	Conn mysqlconn.Config
	// ServerID is the replica server id oms uses; it must differ from every server and replica.
	ServerID uint32
	// Flavor is "mariadb" or "mysql".
	Flavor string
	Logger *slog.Logger
}

func (c SourceConfig) String() string {
	return fmt.Sprintf("%s server_id=%d flavor=%s password=%s", c.Conn, c.ServerID, c.Flavor, mysqlconn.Masked)
}

// LogValue implements slog.LogValuer without the password.
func (c SourceConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Position is a binlog file coordinate.
type Position struct {
	File string
	Pos  uint32
}

func (p Position) String() string { return p.File + ":" + strconv.FormatUint(uint64(p.Pos), 10) }

// Compare orders positions by file name (same base name, numbered suffix) then offset.
func (p Position) Compare(o Position) int {
	if c := strings.Compare(p.File, o.File); c != 0 {
		return c
	}
	switch {
	case p.Pos < o.Pos:
		return -1
	case p.Pos > o.Pos:
		return 1
	}
	return 0
}

// ParsePosition reads "file:pos".
func ParsePosition(s string) (Position, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Position{}, fmt.Errorf("position %q is not file:pos", s)
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: offset is not a number", s)
	}
	return Position{File: s[:i], Pos: uint32(n)}, nil
}

// Start is where capture begins: after the GTID set (preferred) or at a file position.
type Start struct {
	GTIDSet *GTIDSet
	At      Position
}

// eventQueue is go-mysql's event channel size: it decouples the network reader from decoding;
// 4096 events is a few MB at most and covers bursts.
const eventQueue = 4096

// Capture streams a source's binlog as whole transactions. Not safe for concurrent use.
type Capture struct {
	cfg      SourceConfig
	resolver TableResolver
	syncer   *replication.BinlogSyncer
	stream   *replication.BinlogStreamer
	file     string
	cur      *changelog.Txn
	// grouped is set when the current MariaDB GTID is not standalone (it ends with COMMIT or
	// XID) and no BEGIN came: a DDL in it is CREATE TABLE ... SELECT, whose rows follow in the
	// same GTID and belong to the DDL's transaction.
	grouped bool
	pending []*changelog.Txn
	// lastEvent is the source timestamp of the last event seen (heartbeats have none).
	lastEvent time.Time
	tables    map[uint64]*resolvedCache
	// prepared holds the rows of XA transactions that are prepared, by XID as the XA COMMIT
	// statement writes it: they are the rows of the XA COMMIT's transaction.
	prepared map[string][]changelog.Row
	log      *slog.Logger
	// seen is the unix nanotime of the last event received (read by the watchdog).
	seen     atomic.Int64
	stopDog  chan struct{}
	dogDone  chan struct{}
	timedOut atomic.Bool
}

// idleTimeout is how long a dump connection may stay silent (heartbeats come every second)
// before the watchdog closes it and Next returns an error.
var idleTimeout = 30 * time.Second // a variable for tests

type resolvedCache struct {
	ev  *replication.TableMapEvent
	res *ResolvedTable
}

// Open connects to the source and starts the binlog dump at start.
func Open(ctx context.Context, cfg SourceConfig, start Start, resolver TableResolver) (*Capture, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	flavor := mysql.MariaDBFlavor
	if cfg.Flavor == FlavorMySQL {
		flavor = mysql.MySQLFlavor
	}
	tlsConf, err := cfg.Conn.ClientTLS(ctx)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", cfg.Conn, err)
	}
	sc := replication.BinlogSyncerConfig{
		ServerID: cfg.ServerID, Flavor: flavor, Host: cfg.Conn.Host, Port: uint16(cfg.Conn.Port), User: cfg.Conn.User,
		Password: cfg.Conn.Password.Reveal(), TLSConfig: tlsConf,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		RenderJSONAsMySQLText:   true,
		HeartbeatPeriod:         time.Second,
		// No per-packet read deadline (it costs a timer update per packet, a quarter of the
		// reader's CPU): the watchdog closes a connection that has been silent for idleTimeout
		// although the server sends a heartbeat every second.
		DisableRetrySync: true, // the Store reconnects itself, after its last whole transaction
		EventCacheCount:  eventQueue,
		RecvBufferSize:   4 << 20,
		Logger:           log,
	}
	c := &Capture{cfg: cfg, resolver: resolver, syncer: replication.NewBinlogSyncer(sc), tables: map[uint64]*resolvedCache{},
		prepared: map[string][]changelog.Row{}, log: log}
	if start.GTIDSet != nil {
		var gs mysql.GTIDSet
		if flavor == mysql.MariaDBFlavor {
			gs, err = mysql.ParseMariadbGTIDSet(start.GTIDSet.String())
		} else {
			gs, err = mysql.ParseMysqlGTIDSet(start.GTIDSet.String())
		}
		if err != nil {
			c.syncer.Close()
			return nil, fmt.Errorf("start binlog dump at %s: %w", start.GTIDSet, err)
		}
		c.stream, err = c.syncer.StartSyncGTID(gs)
	} else {
		c.file = start.At.File
		c.stream, err = c.syncer.StartSync(mysql.Position{Name: start.At.File, Pos: start.At.Pos})
	}
	if err != nil {
		c.syncer.Close()
		return nil, fmt.Errorf("start binlog dump from %s: %w", cfg, err)
	}
	c.seen.Store(time.Now().UnixNano())
	c.stopDog, c.dogDone = make(chan struct{}), make(chan struct{})
	go c.watchdog()
	return c, nil
}

func (c *Capture) watchdog() {
	defer close(c.dogDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.stopDog:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.seen.Load())) > idleTimeout {
				c.timedOut.Store(true)
				c.syncer.Close()
				return
			}
		}
	}
}

// Close stops the dump and closes the connection.
func (c *Capture) Close() {
	close(c.stopDog)
	<-c.dogDone
	c.syncer.Close()
}

// LastEventTime is the source timestamp of the last event read.
func (c *Capture) LastEventTime() time.Time { return c.lastEvent }

// Next returns the next whole transaction (rows or DDL), or a heartbeat (Heartbeat set, no GTID)
// when the source is idle. Errors from the source connection are returned as they are; a purged
// start position comes back as an *omserr.Error from the caller's precheck or as the server's
// error 1236 here (errors.Is(err, ErrPurged)).
func (c *Capture) Next(ctx context.Context) (*changelog.Txn, error) {
	for len(c.pending) == 0 {
		ev, err := c.stream.GetEvent(ctx)
		if err != nil {
			return nil, readEventErr(err, c.timedOut.Load())
		}
		c.seen.Store(time.Now().UnixNano())
		if err := c.handle(ctx, ev); err != nil {
			return nil, err
		}
	}
	t := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	return t, nil
}

// ErrPurged is in the chain of Next's error when the server says the requested binlog position
// is gone (error 1236, a fatal error reading the binlog: purged, or never written).
var ErrPurged = errors.New("the source cannot send the binlog from the requested position")

// readEventErr names what failed reading an event; the server's 1236 gets ErrPurged in the chain.
func readEventErr(err error, timedOut bool) error {
	var me *mysql.MyError
	switch {
	case errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
		return fmt.Errorf("read binlog event: %w: %w", ErrPurged, err)
	case timedOut:
		return fmt.Errorf("read binlog event: source silent for %v: %w", idleTimeout, err)
	}
	return fmt.Errorf("read binlog event: %w", err)
}

func (c *Capture) emit(t *changelog.Txn) { c.pending = append(c.pending, t) }

func (c *Capture) begin(h *replication.EventHeader, gtid string) {
	if c.cur != nil && c.cur.DDL != nil {
		c.finish(h) // a grouped DDL whose group did not end as expected: never lose it
	}
	c.grouped = false
	c.cur = &changelog.Txn{GTID: gtid, ServerID: h.ServerID, CommitTime: time.Unix(int64(h.Timestamp), 0).UTC()}
}

func (c *Capture) finish(h *replication.EventHeader) {
	if c.cur == nil {
		return
	}
	c.cur.File, c.cur.Pos = c.file, h.LogPos
	c.emit(c.cur)
	c.cur = nil
}

func (c *Capture) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	if h.Timestamp != 0 {
		c.lastEvent = time.Unix(int64(h.Timestamp), 0)
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		c.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		g := e.GTID
		c.begin(h, strconv.FormatUint(uint64(g.DomainID), 10)+"-"+strconv.FormatUint(uint64(g.ServerID), 10)+"-"+strconv.FormatUint(g.SequenceNumber, 10))
		c.grouped = !e.IsStandalone()
	case *replication.GTIDEvent:
		u, err := uuidString(e.SID)
		if err != nil {
			return err
		}
		c.begin(h, u+":"+strconv.FormatInt(e.GNO, 10))
		if e.OriginalCommitTimestamp > 0 {
			c.cur.CommitTime = time.UnixMicro(int64(e.OriginalCommitTimestamp)).Truncate(time.Second).UTC()
		}
	case *replication.QueryEvent:
		return c.query(ctx, h, e)
	case *replication.XIDEvent:
		c.finish(h)
	case *replication.RowsEvent:
		return c.rows(ctx, h, e)
	case *replication.TransactionPayloadEvent:
		for _, inner := range e.Events {
			if err := c.handle(ctx, inner); err != nil {
				return err
			}
		}
	default:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			if g, ok := e.(*replication.GenericEvent); ok {
				c.xaPrepare(h, g.Data)
			}
			return nil
		}
		if h.EventType == replication.HEARTBEAT_EVENT || h.EventType == replication.HEARTBEAT_LOG_EVENT_V2 {
			if c.cur == nil {
				c.emit(&changelog.Txn{Heartbeat: true, CommitTime: time.Now().UTC().Truncate(time.Second)})
			}
		}
	}
	return nil
}

func (c *Capture) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	uq := strings.ToUpper(firstWords(q, 2))
	switch {
	case uq == "BEGIN":
		c.grouped = false
		return nil
	case uq == "XA COMMIT" || uq == "XA ROLLBACK":
		c.xaEnd(h, q, uq == "XA COMMIT")
		return nil
	case strings.HasPrefix(uq, "XA ") || strings.HasPrefix(uq, "SAVEPOINT") || strings.HasPrefix(uq, "ROLLBACK TO"):
		return nil
	case uq == "COMMIT":
		c.finish(h)
		return nil
	case uq == "ROLLBACK":
		c.cur = nil // a rolled-back non-transactional mix: nothing was applied transactionally
		return nil
	}
	if c.cur == nil {
		c.begin(h, "")
	}
	if len(c.cur.Rows) > 0 {
		// A statement inside a row transaction (e.g. CREATE TEMPORARY TABLE): not a DDL of ours.
		return nil
	}
	db := string(e.Schema)
	c.cur.DDL = &changelog.DDL{DB: db, Statement: q, Session: sessionOf(e.StatusVars, c.cfg.Flavor != FlavorMySQL, h.Timestamp)}
	if c.resolver != nil {
		if err := c.resolver.ApplyDDL(ctx, db, q); err != nil {
			return fmt.Errorf("apply DDL at %s:%d: %w", c.file, h.LogPos, err)
		}
	}
	clear(c.tables)
	if c.grouped && c.cur.GTID != "" {
		return nil // CREATE TABLE ... SELECT: its rows and COMMIT follow
	}
	c.finish(h)
	return nil
}

// xaPrepare ends the GTID of an XA transaction at its XA PREPARE (body: u8 one_phase | u32
// format id | u32 gtrid length | u32 bqual length | gtrid | bqual). One phase: it committed.
// Else its rows are held until its XA COMMIT, which is another GTID (other transactions may commit
// in between), and the prepare's GTID is emitted without rows.
func (c *Capture) xaPrepare(h *replication.EventHeader, body []byte) {
	if c.cur == nil {
		return
	}
	if len(body) < 13 || body[0] != 0 {
		c.finish(h)
		return
	}
	format := binary.LittleEndian.Uint32(body[1:])
	gl, bl := int(binary.LittleEndian.Uint32(body[5:])), int(binary.LittleEndian.Uint32(body[9:]))
	if gl < 0 || bl < 0 || 13+gl+bl > len(body) {
		c.finish(h)
		return
	}
	key := xidKey(body[13:13+gl], body[13+gl:13+gl+bl], format)
	c.prepared[key] = c.cur.Rows
	c.cur.Rows = nil
	c.finish(h)
}

// xidKey is an XID as MariaDB and MySQL write it in XA COMMIT/ROLLBACK: X'gtrid',X'bqual',format.
func xidKey(gtrid, bqual []byte, format uint32) string {
	return strings.ToLower(fmt.Sprintf("X'%x',X'%x',%d", gtrid, bqual, format))
}

// xaEnd is the XA COMMIT or XA ROLLBACK of a prepared XA transaction, in its own GTID: a commit
// carries the prepared rows (what a replica applies then), a rollback none. XA COMMIT ... ONE
// PHASE ends an XA transaction that was never prepared: its rows are the current ones.
func (c *Capture) xaEnd(h *replication.EventHeader, q string, commit bool) {
	if c.cur == nil {
		c.begin(h, "")
	}
	f := strings.Fields(q) // XA COMMIT|ROLLBACK X'..',X'..',n [ONE PHASE]: no space inside the XID
	xid := strings.ToLower(strings.Join(f[min(2, len(f)):], " "))
	onePhase := strings.HasSuffix(xid, " one phase")
	xid = strings.TrimSuffix(xid, " one phase")
	rows, ok := c.prepared[xid]
	delete(c.prepared, xid)
	switch {
	case onePhase || !commit:
	case ok:
		c.cur.Rows = append(rows, c.cur.Rows...)
	default:
		c.log.Warn("XA COMMIT of a transaction prepared before the capture started: its rows were not read and are missing from the change log; compare the tables it wrote (full verification)",
			"gtid", c.cur.GTID, "xid", xid)
	}
	if !commit {
		c.cur.Rows = nil
	}
	c.finish(h)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func uuidString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("GTID event: server uuid of %d bytes", len(b))
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[x>>4], hex[x&15])
	}
	return string(out), nil
}

func (c *Capture) resolve(ctx context.Context, e *replication.TableMapEvent) (*ResolvedTable, error) {
	if rc, ok := c.tables[e.TableID]; ok && rc.ev == e {
		return rc.res, nil
	}
	if rc, ok := c.tables[e.TableID]; ok && sameTableMap(rc.ev, e) {
		rc.ev = e
		return rc.res, nil
	}
	tm := convertTableMap(e)
	res, err := c.resolver.ResolveTable(ctx, tm)
	if err != nil {
		return nil, err
	}
	if len(res.Table.Columns) != len(tm.Types) {
		return nil, fmt.Errorf("schema of %s.%s has %d columns, binlog has %d", tm.DB, tm.Name, len(res.Table.Columns), len(tm.Types))
	}
	c.tables[e.TableID] = &resolvedCache{ev: e, res: res}
	return res, nil
}

func sameTableMap(a, b *replication.TableMapEvent) bool {
	if string(a.Schema) != string(b.Schema) || string(a.Table) != string(b.Table) || string(a.ColumnType) != string(b.ColumnType) || len(a.ColumnMeta) != len(b.ColumnMeta) {
		return false
	}
	for i := range a.ColumnMeta {
		if a.ColumnMeta[i] != b.ColumnMeta[i] {
			return false
		}
	}
	if len(a.ColumnName) != len(b.ColumnName) {
		return false
	}
	for i := range a.ColumnName {
		if string(a.ColumnName[i]) != string(b.ColumnName[i]) {
			return false
		}
	}
	return true
}

func (c *Capture) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	if e.Table == nil {
		return fmt.Errorf("rows event at %s:%d without table map", c.file, h.LogPos)
	}
	res, err := c.resolve(ctx, e.Table)
	if err != nil {
		return fmt.Errorf("decode rows of %s.%s at %s:%d: %w", e.Table.Schema, e.Table.Table, c.file, h.LogPos, err)
	}
	if c.cur == nil {
		c.begin(h, "")
	}
	var op changelog.Op
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = changelog.OpInsert
	case replication.EnumRowsEventTypeUpdate:
		op = changelog.OpUpdate
	case replication.EnumRowsEventTypeDelete:
		op = changelog.OpDelete
	default:
		return fmt.Errorf("rows event of unknown type %v at %s:%d", h.EventType, c.file, h.LogPos)
	}
	for _, r := range e.Rows {
		if err := convertRow(res, r); err != nil {
			return fmt.Errorf("decode row of %s.%s at %s:%d: %w", e.Table.Schema, e.Table.Table, c.file, h.LogPos, err)
		}
	}
	if len(e.SkippedColumns) > 0 {
		for _, sk := range e.SkippedColumns {
			if len(sk) > 0 {
				return fmt.Errorf("row image of %s.%s at %s:%d is not FULL (binlog_row_image)", e.Table.Schema, e.Table.Table, c.file, h.LogPos)
			}
		}
	}
	if op == changelog.OpUpdate {
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("update event with odd image count at %s:%d", c.file, h.LogPos)
		}
		for i := 0; i < len(e.Rows); i += 2 {
			c.cur.Rows = append(c.cur.Rows, changelog.Row{Table: res.Table, Op: op, Before: e.Rows[i], After: e.Rows[i+1]})
		}
		return nil
	}
	for _, r := range e.Rows {
		row := changelog.Row{Table: res.Table, Op: op}
		if op == changelog.OpInsert {
			row.After = r
		} else {
			row.Before = r
		}
		c.cur.Rows = append(c.cur.Rows, row)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/bidir"
	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/heartbeat"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/schema"
)

// Kind is the component kind of the Store.
const Kind = "store"

// Config is the Store's part of a component spec (JSON, unknown fields rejected).
type Config struct {
	Source SourceConfig `json:"source"`
	// ServerID is the replica server_id the store uses on the source (default: derived from the
	// task id, in 1<<20..1<<31).
	ServerID uint32      `json:"server_id,omitempty"`
	Start    StartConfig `json:"start"`
	// SegmentDir holds the log (default <work_dir>/segments).
	SegmentDir string `json:"segment_dir,omitempty"`
	// SegmentMB is the size at which a segment is rolled (default 256). SegmentBytes, if set,
	// overrides it (tests use small segments).
	SegmentMB    int   `json:"segment_mb,omitempty"`
	SegmentBytes int64 `json:"segment_bytes,omitempty"`
	// RetentionHours (default 168 = 7 days), RetentionBytes (0 = no limit): what is kept for
	// consumers. MaxRetentionHours/MaxRetentionBytes (0 = none): hard limits past which data goes
	// even if a registered consumer has not read it.
	RetentionHours    float64 `json:"retention_hours,omitempty"`
	RetentionBytes    int64   `json:"retention_bytes,omitempty"`
	MaxRetentionHours float64 `json:"max_retention_hours,omitempty"`
	MaxRetentionBytes int64   `json:"max_retention_bytes,omitempty"`
	// Listen is where consumers connect (default 0.0.0.0:0; the bound address is written to
	// <work_dir>/store.addr).
	Listen string `json:"listen,omitempty"`
	// Heartbeat makes the Store write a row to <heartbeat_schema>.heartbeat on the source every
	// second (default schema "__oms"), so consumers measure lag on an idle source too. It needs
	// CREATE and INSERT on that schema; without them it logs a warning and the Store runs on.
	Heartbeat       bool   `json:"heartbeat,omitempty"`
	HeartbeatSchema string `json:"heartbeat_schema,omitempty"`
	// EchoTasks are the Incr-Sync tasks that apply changes to this source (the opposite direction
	// of a two-way sync): the transactions they committed carry their marker (package bidir) and
	// are captured without rows or DDL, so they never flow back; echo_dropped_total counts them.
	// EchoSchema is those tasks' checkpoint schema (default "__oms").
	EchoTasks  []string `json:"echo_tasks,omitempty"`
	EchoSchema string   `json:"echo_schema,omitempty"`
	// ConsumerSlack: a Store that starts at its consumers' positions (it moved: no local log)
	// starts this many transactions (per MariaDB domain or MySQL source) before the oldest of
	// them (default 1000; see startAtConsumers).
	ConsumerSlack int `json:"consumer_slack,omitempty"`
}

// SourceConfig is the source database (its JSON: host, port, user, password, tls, flavor).
// Password is masked in logs.
type SourceConfig struct {
	mysqlconn.Config
	// Flavor is "mariadb" (default) or "mysql".
	Flavor string `json:"flavor,omitempty"`
}

func (s SourceConfig) String() string {
	return fmt.Sprintf("%s flavor=%s password=%s", s.Config, s.Flavor, mysqlconn.Masked)
}

// LogValue implements slog.LogValuer without the password.
func (s SourceConfig) LogValue() slog.Value { return slog.StringValue(s.String()) }

// StartConfig is where capture starts the first time (later runs resume from the log). At most
// one of GTIDSet, File or Time; none = "now".
type StartConfig struct {
	GTIDSet string `json:"gtid_set,omitempty"`
	File    string `json:"file,omitempty"`
	Pos     uint32 `json:"pos,omitempty"`
	// Time (RFC 3339): the first transaction committed at or after it.
	Time string `json:"time,omitempty"`
}

func (c *Config) defaults(workDir, taskID string) error {
	if c.Source.Flavor == "" {
		c.Source.Flavor = binlog.FlavorMariaDB
	}
	if c.Source.Flavor != binlog.FlavorMariaDB && c.Source.Flavor != binlog.FlavorMySQL {
		return omserr.New(omserr.StoreConfig, "source flavor "+c.Source.Flavor+" is unknown", "use mariadb or mysql")
	}
	if c.Source.Host == "" || c.Source.Port == 0 || c.Source.User == "" {
		return omserr.New(omserr.StoreConfig, "store config needs source host, port and user", "set source.host, source.port, source.user")
	}
	if err := c.Source.TLS.Check(); err != nil {
		return omserr.Wrap(err, omserr.StoreConfig, "store source: "+err.Error(), "fix source.tls in the spec")
	}
	n := 0
	for _, s := range []bool{c.Start.GTIDSet != "", c.Start.File != "", c.Start.Time != ""} {
		if s {
			n++
		}
	}
	if n > 1 {
		return omserr.New(omserr.StoreConfig, "store start names more than one of gtid_set, file, time", "keep one (or none for now)")
	}
	if c.Start.Time != "" {
		if _, err := time.Parse(time.RFC3339, c.Start.Time); err != nil {
			return omserr.Wrap(err, omserr.StoreConfig, "store start time "+c.Start.Time+" is not RFC 3339", "write e.g. 2026-01-02T15:04:05Z")
		}
	}
	if c.Start.GTIDSet != "" {
		if _, err := binlog.ParseGTIDSet(c.Source.Flavor, c.Start.GTIDSet); err != nil {
			return omserr.Wrap(err, omserr.StoreConfig, "store start gtid_set is invalid", "write it as the source prints @@gtid_binlog_pos / @@gtid_executed")
		}
	}
	if c.ServerID == 0 {
		h := fnv.New32a()
		h.Write([]byte(taskID + "\x00" + workDir))
		c.ServerID = 1<<20 + h.Sum32()%(1<<30)
	}
	if c.SegmentDir == "" {
		c.SegmentDir = filepath.Join(workDir, "segments")
	}
	if c.SegmentMB <= 0 {
		c.SegmentMB = 256
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = int64(c.SegmentMB) << 20
	}
	if c.RetentionHours == 0 {
		c.RetentionHours = 168
	}
	if c.Listen == "" {
		c.Listen = "0.0.0.0:0"
	}
	if c.ConsumerSlack <= 0 {
		c.ConsumerSlack = defaultConsumerSlack
	}
	return nil
}

// captureQueue is the number of encoded transactions between capture and the writer: enough to
// keep the writer's fsync batches large (a few MB) while capture keeps decoding.
const captureQueue = 8192

// Store is the log-capture component. It talks to one source database (as a replica and over
// SQL for prechecks and schemas), owns the segment directory, and serves consumers.
type Store struct {
	cfg     Config
	spec    component.Spec
	logger  *slog.Logger
	db      *sql.DB
	log     *Log
	cons    *Consumers
	srv     *Server
	tracker *schema.Tracker
	echo    bidir.EchoFilter
	ins     *instruments

	mu        sync.Mutex
	state     string
	failure   *omserr.Error
	rateAt    time.Time
	rateTxns  int64
	rateRows  int64
	ratePerS  float64
	rowsPerS  float64
	forcedTot int64

	txns, rows, bytes atomic.Int64
	echoes            atomic.Int64 // transactions dropped as echoes of the opposite direction
	lastCommit        atomic.Int64 // unix s of the last durable txn
	lastEvent         atomic.Int64 // unix s of the last source event seen
	heartbeatSeen     atomic.Int64 // unix ns when a heartbeat row last went by (heartbeat.Written)
	caughtUp          atomic.Bool
}

// New builds a Store from a component spec.
func New(spec component.Spec, logger *slog.Logger) (*Store, error) {
	var cfg Config
	if err := spec.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	return NewWithConfig(spec, cfg, logger)
}

// NewWithConfig builds a Store from a decoded config (tests run it in-process this way).
func NewWithConfig(spec component.Spec, cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.defaults(spec.WorkDir, spec.TaskID); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Store{cfg: cfg, spec: spec, logger: logger, state: component.StateInit, echo: bidir.NewEchoFilter(cfg.EchoSchema, cfg.EchoTasks),
		ins: newInstruments()}, nil
}

// Addr is the consumer address (after Init).
func (s *Store) Addr() string { return s.srv.Addr() }

// Init implements component.Unit: connects to the source, runs the prechecks, opens the log
// and binds the consumer listener.
func (s *Store) Init(ctx context.Context) error {
	s.logger.Info("store init", "source", s.cfg.Source, "server_id", s.cfg.ServerID, "segment_dir", s.cfg.SegmentDir)
	var err error
	s.db, err = s.cfg.Source.Open(ctx, mysqlconn.Options{ReadTimeout: 60 * time.Second})
	if err != nil {
		return s.fail(omserr.Wrap(err, omserr.StoreSourceUnreachable, "cannot connect to the source "+s.cfg.Source.String(), "check that it runs and the address, user and password are right"))
	}
	if s.log, err = OpenLog(s.cfg.SegmentDir, s.cfg.Source.Flavor, s.cfg.SegmentBytes); err != nil {
		return s.fail(err)
	}
	resuming := s.log.HasBase()
	if err := precheckSource(ctx, s.db, s.cfg.ServerID, resuming); err != nil {
		return s.fail(err)
	}
	if !resuming {
		s.startAtConsumers()
	}
	if resuming {
		if end := s.log.End(); !end.IsEmpty() {
			if err := precheckStartGTID(ctx, s.db, s.cfg.Source.Flavor, end); err != nil {
				return s.fail(err)
			}
		}
	} else if s.cfg.Start.GTIDSet != "" {
		if err := precheckStartGTID(ctx, s.db, s.cfg.Source.Flavor, binlog.MustParseGTIDSet(s.cfg.Source.Flavor, s.cfg.Start.GTIDSet)); err != nil {
			return s.fail(err)
		}
	} else if s.cfg.Start.File != "" {
		if err := precheckStartFile(ctx, s.db, s.cfg.Start.File); err != nil {
			return s.fail(err)
		}
	}
	if meta, err := variable(ctx, s.db, "binlog_row_metadata"); err == nil && !strings.EqualFold(meta, "FULL") {
		s.logger.Warn("source binlog_row_metadata is not FULL: row events are decoded with the live table definition, "+
			"which fails (STORE_SCHEMA_UNKNOWN) if a table changed since the captured position",
			"binlog_row_metadata", meta, "advice", "SET GLOBAL binlog_row_metadata=FULL and put it in my.cnf")
	}
	if s.cons, err = OpenConsumers(s.cfg.SegmentDir, s.cfg.Source.Flavor); err != nil {
		return s.fail(err)
	}
	s.tracker = schema.NewTracker(s.db)
	s.srv = NewServer(s.log, s.cons, s.logger, func() int64 {
		if s.caughtUp.Load() {
			return time.Now().Unix()
		}
		return s.lastCommit.Load()
	})
	s.srv.ins = s.ins
	tlsSrc, err := s.spec.PeerTLSSource()
	if err != nil {
		return s.fail(err)
	}
	s.srv.SetTLS(tlsSrc)
	if err := s.srv.Listen(s.cfg.Listen); err != nil {
		return s.fail(err)
	}
	if s.spec.WorkDir != "" {
		_ = os.MkdirAll(s.spec.WorkDir, 0o755)
		tmp := filepath.Join(s.spec.WorkDir, ".store.addr.tmp")
		if err := os.WriteFile(tmp, []byte(s.srv.Addr()), 0o644); err == nil {
			_ = os.Rename(tmp, filepath.Join(s.spec.WorkDir, "store.addr"))
		}
	}
	last := s.log.Last()
	s.lastCommit.Store(last.time)
	s.logger.Info("store ready", "consumers_addr", s.srv.Addr(), "resume", resuming, "captured", s.log.End().String(), "last_seq", last.seq)
	return nil
}

// fail records an Init failure in the status.
func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.failure = component.StateFailed, omserr.From(err, s.FailureCode())
	return err
}

// FailureCode implements component.FailureCoder.
func (s *Store) FailureCode() string { return omserr.StoreCaptureFailed }

// Run implements component.Unit: capture, write, serve and apply retention until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	s.mu.Lock()
	s.state = component.StateRunning
	s.failure = nil
	s.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	recs := make(chan pendingRecord, captureQueue)
	g.Go(func() error { return s.srv.Serve(gctx) })
	g.Go(func() error { return s.writeLoop(gctx, recs) })
	g.Go(func() error {
		defer close(recs)
		return s.captureLoop(gctx, recs)
	})
	g.Go(func() error { return s.housekeeping(gctx) })
	if s.cfg.Heartbeat {
		seen := func() time.Time { return time.Unix(0, s.heartbeatSeen.Load()) }
		g.Go(func() error { return heartbeat.Run(gctx, s.db, s.heartbeatSchema(), s.logger, seen) })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		s.mu.Lock()
		s.state = component.StatePaused
		s.mu.Unlock()
		return ctx.Err()
	}
	if err != nil {
		return s.fail(err)
	}
	return nil
}

// writeLoop appends what capture encoded, in fsync'd batches (group commit).
func (s *Store) writeLoop(ctx context.Context, in <-chan pendingRecord) error {
	const maxBatchBytes = 8 << 20
	var batch []pendingRecord
	for {
		batch = batch[:0]
		var size int
		select {
		case r, ok := <-in:
			if !ok {
				return nil
			}
			batch = append(batch, r)
			size += len(r.payload)
		case <-ctx.Done():
			return ctx.Err()
		}
	drain:
		for size < maxBatchBytes {
			select {
			case r, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				size += len(r.payload)
			default:
				break drain
			}
		}
		var rows int64
		for _, r := range batch {
			rows += int64(r.rows)
		}
		start := time.Now()
		if err := s.log.Append(batch); err != nil {
			return err
		}
		s.ins.written(batch, start, time.Now())
		s.txns.Add(int64(len(batch)))
		s.rows.Add(rows)
		s.bytes.Add(int64(size))
		s.lastCommit.Store(batch[len(batch)-1].meta.time)
		for i := range batch {
			batch[i] = pendingRecord{}
		}
	}
}

// captureLoop reads the source and encodes transactions. It reconnects after a connection
// error, resuming after the last transaction it handed to the writer.
func (s *Store) captureLoop(ctx context.Context, out chan<- pendingRecord) error {
	flavor := s.cfg.Source.Flavor
	seq := s.log.Last().seq
	// handed is every GTID given to the writer (base included): where to reconnect from.
	var handed binlog.GTIDSet
	var skipBefore time.Time
	var start binlog.Start
	if s.log.HasBase() {
		handed = s.log.End()
		if handed.IsEmpty() && s.log.StartAt().File != "" {
			start.At = s.log.StartAt()
		} else if last := s.log.Last(); flavor == binlog.FlavorMySQL && last.seq > 0 && last.gtid == "" {
			start.At = binlog.Position{File: last.file, Pos: last.pos}
		} else {
			h := handed.Clone()
			start.GTIDSet = &h
		}
	} else {
		var err error
		handed, start, skipBefore, err = s.firstStart(ctx)
		if err != nil {
			return err
		}
		if skipBefore.IsZero() {
			if err := s.log.SetBase(handed, start.At); err != nil {
				return err
			}
		}
	}
	var buf []byte
	const firstBackoff = 200 * time.Millisecond
	backoff := firstBackoff
	for {
		c, err := binlog.Open(ctx, binlog.SourceConfig{Conn: s.cfg.Source.Config, ServerID: s.cfg.ServerID, Flavor: flavor, Logger: quietLogger(s.logger)}, start, s.tracker)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return omserr.Wrap(err, omserr.StoreSourceUnreachable, "cannot start the binlog dump from the source", "check the source and the store's user")
		}
		s.logger.Info("capture started", "from_gtid", gtidText(start.GTIDSet), "from_file", start.At.String())
		err = func() error {
			defer c.Close()
			for {
				t, err := c.Next(ctx)
				if err != nil {
					return err
				}
				received := time.Now()
				if lt := c.LastEventTime(); !lt.IsZero() {
					s.lastEvent.Store(lt.Unix())
				}
				backoff = firstBackoff // this connection works: the next failure starts over
				if t.Heartbeat {
					s.caughtUp.Store(len(out) == 0)
					continue
				}
				s.caughtUp.Store(false)
				if !skipBefore.IsZero() {
					if t.CommitTime.Before(skipBefore) {
						if t.GTID != "" {
							_ = handed.Add(t.GTID)
						}
						continue
					}
					if err := s.log.SetBase(handed, binlog.Position{}); err != nil {
						return err
					}
					skipBefore = time.Time{}
				}
				if s.cfg.Heartbeat && heartbeat.Written(t, s.heartbeatSchema()) {
					s.heartbeatSeen.Store(time.Now().UnixNano())
				}
				if s.echo.Echo(t) {
					// applied by the opposite direction: kept as an empty transaction so every
					// consumer's GTID checkpoint still moves over it
					t.Rows, t.DDL = nil, nil
					s.echoes.Add(1)
				}
				if t.DDL != nil {
					t.DDL.Tables = ddl.Parse(t.DDL.DB, t.DDL.Statement).Tables()
				}
				seq++
				t.Seq = seq
				buf, err = appendTxn(buf[:0], t)
				if err != nil {
					return err
				}
				rec := pendingRecord{payload: append([]byte(nil), buf...), rows: len(t.Rows), received: received,
					meta: recordMeta{seq: seq, gtid: t.GTID, time: t.CommitTime.Unix(), file: t.File, pos: t.Pos}}
				metrics.Trace(metrics.HopStoreReceived, t.GTID, received)
				if t.GTID != "" {
					if err := handed.Add(t.GTID); err != nil {
						return fmt.Errorf("capture: %w", err)
					}
				}
				start.At = binlog.Position{File: t.File, Pos: t.Pos}
				select {
				case out <- rec:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var oe *omserr.Error
		if errors.As(err, &oe) {
			return err // schema unknown and the like: a person must act
		}
		if errors.Is(err, binlog.ErrPurged) {
			return omserr.Wrap(err, omserr.StoreSourcePurged, "the source no longer has the binlog the store needs (after "+handed.String()+")",
				"start the store from a newer position (redo the full copy) and keep binlogs longer on the source")
		}
		s.logger.Warn("capture connection lost, reconnecting", "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 30*time.Second)
		if !handed.IsEmpty() {
			h := handed.Clone()
			start.GTIDSet = &h
		}
	}
}

// heartbeatSchema is the schema of the source's heartbeat table (Config.HeartbeatSchema).
func (s *Store) heartbeatSchema() string {
	if s.cfg.HeartbeatSchema == "" {
		return "__oms"
	}
	return s.cfg.HeartbeatSchema
}

func gtidText(g *binlog.GTIDSet) string {
	if g == nil {
		return ""
	}
	return g.String()
}

// quietLogger keeps go-mysql's per-connection chatter at Warn and above.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{h: l.Handler(), min: slog.LevelWarn})
}

type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(a), min: f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(n), min: f.min}
}

// defaultConsumerSlack is how many transactions (per MariaDB domain or MySQL source) a Store that
// starts at its consumers' positions starts before them. A position an Incr-Sync reports is
// its applied low watermark in memory, which runs ahead of the watermark its checkpoint has
// recorded (and that it resumes from) by the transactions still in flight when each worker last
// wrote it: a few batches. Those transactions are read again from the source; the Store sends a
// consumer only what its checkpoint lacks.
const defaultConsumerSlack = 1000

// startAtConsumers makes a fresh log start where the consumers are, not at the configured start
// (the project's, long ago when the Store moved to another node): Config.ConsumerSlack
// transactions before the oldest consumer position, provided that is not older than the
// configured start. The prechecks then refuse it, naming it, when the source no longer has its
// binlogs.
func (s *Store) startAtConsumers() {
	oldest, ok := oldestPosition(s.cfg.Source.Flavor, s.spec.ConsumerPositions)
	if !ok {
		return
	}
	oldest = oldest.Rewind(uint64(s.cfg.ConsumerSlack))
	if s.cfg.Start.GTIDSet != "" && !oldest.ContainsSet(binlog.MustParseGTIDSet(s.cfg.Source.Flavor, s.cfg.Start.GTIDSet)) {
		s.logger.Warn("consumer position is older than the store's start; starting at the configured start", "consumer", oldest.String(), "start", s.cfg.Start.GTIDSet)
		return
	}
	s.logger.Info("fresh log: starting at the oldest consumer position instead of the configured start", "from_gtid", oldest.String(),
		"configured", s.cfg.Start.GTIDSet+s.cfg.Start.File+s.cfg.Start.Time, "consumers", s.spec.ConsumerPositions)
	s.cfg.Start = StartConfig{GTIDSet: oldest.String()}
}

// oldestPosition is the position of positions that every other one contains; false when there
// is none, one does not parse, or two are not ordered (then nothing is safe but the configured
// start).
func oldestPosition(flavor string, positions []string) (binlog.GTIDSet, bool) {
	var oldest binlog.GTIDSet
	var sets []binlog.GTIDSet
	for _, p := range positions {
		g, err := binlog.ParseGTIDSet(flavor, p)
		if err != nil || g.IsEmpty() {
			return oldest, false
		}
		if len(sets) == 0 || oldest.ContainsSet(g) {
			oldest = g
		}
		sets = append(sets, g)
	}
	if len(sets) == 0 {
		return oldest, false
	}
	for _, g := range sets {
		if !g.ContainsSet(oldest) {
			return oldest, false
		}
	}
	return oldest, true
}

// firstStart resolves the configured start of a fresh log: the GTID set before it, where to
// dump from, and for a time start the time before which transactions are skipped.
func (s *Store) firstStart(ctx context.Context) (binlog.GTIDSet, binlog.Start, time.Time, error) {
	flavor := s.cfg.Source.Flavor
	st := s.cfg.Start
	empty, _ := binlog.NewGTIDSet(flavor)
	switch {
	case st.GTIDSet != "":
		g := binlog.MustParseGTIDSet(flavor, st.GTIDSet)
		c := g.Clone()
		return g, binlog.Start{GTIDSet: &c}, time.Time{}, nil
	case st.File != "":
		pos := st.Pos
		if pos < 4 {
			pos = 4
		}
		base := empty
		if flavor == binlog.FlavorMariaDB {
			var g sql.NullString
			if err := s.db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", st.File, pos).Scan(&g); err == nil && g.Valid {
				if b, err := binlog.ParseGTIDSet(flavor, g.String); err == nil {
					base = b
				}
			}
		}
		return base, binlog.Start{At: binlog.Position{File: st.File, Pos: pos}}, time.Time{}, nil
	case st.Time != "":
		t, _ := time.Parse(time.RFC3339, st.Time)
		first, err := oldestBinlog(ctx, s.db)
		if err != nil {
			return empty, binlog.Start{}, time.Time{}, err
		}
		base := empty
		if flavor == binlog.FlavorMariaDB {
			var g sql.NullString
			if err := s.db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, 4)", first).Scan(&g); err == nil && g.Valid {
				if b, err := binlog.ParseGTIDSet(flavor, g.String); err == nil {
					base = b
				}
			}
		}
		return base, binlog.Start{At: binlog.Position{File: first, Pos: 4}}, t, nil
	}
	// Now.
	name := "gtid_binlog_pos"
	if flavor == binlog.FlavorMySQL {
		name = "gtid_executed"
	}
	v, err := variable(ctx, s.db, name)
	if err != nil {
		return empty, binlog.Start{}, time.Time{}, omserr.Wrap(err, omserr.StoreSourceUnreachable, "cannot read the source's current position", "check the source")
	}
	g, err := binlog.ParseGTIDSet(flavor, v)
	if err != nil {
		return empty, binlog.Start{}, time.Time{}, fmt.Errorf("parse source @@%s: %w", name, err)
	}
	c := g.Clone()
	return g, binlog.Start{GTIDSet: &c}, time.Time{}, nil
}

// housekeeping applies retention every retentionEvery and samples rates every second.
func (s *Store) housekeeping(ctx context.Context) error {
	const retentionEvery = 30 * time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastRetention := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			s.sampleRates(now)
			if now.Sub(lastRetention) >= retentionEvery {
				lastRetention = now
				if err := s.ApplyRetention(now); err != nil {
					return err
				}
			}
		}
	}
}

// ApplyRetention runs retention once (the Store does it every 30 s).
func (s *Store) ApplyRetention(now time.Time) error {
	_, forced, err := s.log.Purge(RetentionPolicy{Hours: s.cfg.RetentionHours, Bytes: s.cfg.RetentionBytes,
		MaxHours: s.cfg.MaxRetentionHours, MaxBytes: s.cfg.MaxRetentionBytes}, s.cons, s.logger, now)
	if forced > 0 {
		s.mu.Lock()
		s.forcedTot += int64(forced)
		s.mu.Unlock()
	}
	return err
}

func (s *Store) sampleRates(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	txns, rows := s.txns.Load(), s.rows.Load()
	if !s.rateAt.IsZero() {
		dt := now.Sub(s.rateAt).Seconds()
		if dt > 0 {
			s.ratePerS = float64(txns-s.rateTxns) / dt
			s.rowsPerS = float64(rows-s.rateRows) / dt
		}
	}
	s.rateAt, s.rateTxns, s.rateRows = now, txns, rows
}

// Status implements component.Unit.
func (s *Store) Status() component.Status {
	s.mu.Lock()
	st := component.Status{Kind: Kind, TaskID: s.spec.TaskID, Epoch: s.spec.Epoch, State: s.state, Error: s.failure, UpdatedAt: time.Now().UTC()}
	m := map[string]float64{
		"txns_per_sec": s.ratePerS, "rows_per_sec": s.rowsPerS, "retention_forced_total": float64(s.forcedTot),
	}
	s.mu.Unlock()
	m["txns_total"] = float64(s.txns.Load())
	m["echo_dropped_total"] = float64(s.echoes.Load())
	m["rows_total"] = float64(s.rows.Load())
	m["bytes_total"] = float64(s.bytes.Load())
	if s.log != nil {
		st.Position = s.log.End().String()
		m["segment_disk_bytes"] = float64(s.log.DiskBytes())
		m["captured_seq"] = float64(s.log.Last().seq)
		m["retention_headroom_seconds"] = retentionHeadroom(s.log, s.cons, RetentionPolicy{Hours: s.cfg.RetentionHours,
			MaxHours: s.cfg.MaxRetentionHours}, time.Now()).Seconds()
	}
	if s.srv != nil {
		m["consumer_streams"] = float64(s.srv.streams.Load())
		m["sent_bytes_total"] = float64(s.srv.sent.Load())
		m["filtered_rows_total"] = float64(s.srv.filtered.Load())
	}
	if s.tracker != nil {
		m["schema_mismatches_total"] = float64(s.tracker.Mismatches.Load())
	}
	if lc := s.lastCommit.Load(); lc > 0 && !s.caughtUp.Load() {
		st.LagSeconds = max(0, time.Since(time.Unix(lc, 0)).Seconds())
	}
	m["source_time"] = float64(s.lastEvent.Load())
	m["captured_commit_time"] = float64(s.lastCommit.Load())
	st.Metrics = m
	return st
}

// Close implements component.Unit.
func (s *Store) Close() error {
	var errs []error
	if s.log != nil {
		errs = append(errs, s.log.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

var _ component.Unit = (*Store)(nil)

package incrsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // target driver
	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/changelog"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/metrics"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// Kind is the component kind.
const Kind = "incr-sync"

// TxnSource is what Incr-Sync needs from a Store read stream (store.Reader satisfies it).
type TxnSource interface {
	// Next returns the next transaction in log order; heartbeats have Heartbeat set and no GTID.
	Next(ctx context.Context) (*changelog.Txn, error)
	Close() error
}

// ByteCounter is optionally implemented by a source: the bytes received from the Store (wire:
// as sent; records: decoded), exported as Incr-Sync's received and read bytes.
type ByteCounter interface {
	Bytes() (wire, records int64)
}

// Acker is optionally implemented by a source: Ack tells the Store the consumer's durable
// checkpoint so its retention can move on.
type Acker interface {
	Ack(ctx context.Context, gtidSet string) error
}

// SourceOpener opens a read stream from the given GTID set (text; "" = from the start).
type SourceOpener func(ctx context.Context, from string) (TxnSource, error)

// ackInterval is how often the durable watermark is acknowledged to the Store.
const ackInterval = 5 * time.Second

// idleWatermarkEvery is how often a watermark that moved without an apply is written;
// idleWatermarkRow is its checkpoint row (workers are 0..n-1).
const (
	idleWatermarkEvery = time.Second
	idleLoggedEvery    = 30 * time.Second
	idleWatermarkRow   = -1
)

// Syncer is the Incr-Sync component. It talks to a Store (through a SourceOpener) and to the
// target database; it owns the target connection pool and the checkpoint tables there.
// Status is safe from any goroutine; Init, Run and Close follow component.Unit.
type Syncer struct {
	cfg    Config
	taskID string
	epoch  int64
	log    *slog.Logger
	open   SourceOpener

	sel         *selection.Selector
	strictAfter binlog.GTIDSet
	skips       *skipList
	startGTID   binlog.GTIDSet // where to start without a checkpoint (Config.StartGTID)
	policy      ddl.Policy
	db          *sql.DB
	cp          *checkpointStore
	ins         *instruments
	// the idle watermark's writes (ackLoop's goroutine only): when the last one was, and whether
	// it had to be binlogged
	idleWritten time.Time
	idleLogged  bool

	mu        sync.Mutex
	state     string
	err       *omserr.Error
	stoppedAt string // GTID of the transaction a fatal error stopped at
	sched     *scheduler
	srcTime   time.Time // source time of the last heartbeat
	// bytes are the byte counts of the streams opened so far (earlier ones in base, the open one
	// counted by src).
	bytes struct {
		src                ByteCounter
		baseWire, baseRecs int64
	}
	rateMark struct {
		at   time.Time
		rows int64
		rate float64
	}
}

// New builds a Syncer from a component spec. open reads the change log (the CLI passes one
// that dials the Store).
func New(spec component.Spec, open SourceOpener, log *slog.Logger) (*Syncer, error) {
	var cfg Config
	if err := spec.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	return NewFromConfig(cfg, spec.TaskID, spec.Epoch, open, log)
}

// NewFromConfig builds a Syncer from its config.
func NewFromConfig(cfg Config, taskID string, epoch int64, open SourceOpener, log *slog.Logger) (*Syncer, error) {
	if taskID == "" {
		return nil, omserr.New(omserr.IncrConfigInvalid, "incr-sync needs a task id", "set task_id in the spec")
	}
	cfg.SetDefaults(taskID)
	p, err := cfg.check()
	if err != nil {
		return nil, err
	}
	s := &Syncer{cfg: cfg, taskID: taskID, epoch: epoch, log: log, open: open, sel: p.sel, strictAfter: p.strictAfter, startGTID: p.start,
		skips: p.skips, policy: p.policy, state: component.StateInit, ins: newInstruments()}
	return s, nil
}

// Init connects to the target, creates the checkpoint tables and registers the epoch (failing
// with INCR_FENCED when a newer one exists).
func (s *Syncer) Init(ctx context.Context) error {
	db, err := s.cfg.Target.Open(ctx, targetOptions(s.cfg.Workers))
	if err != nil {
		return omserr.Wrap(err, omserr.IncrTargetUnreachable, "cannot connect to the target "+s.cfg.Target.Addr(), "check the target address, user and password in the task, and that the target runs")
	}
	s.db = db
	s.cp = newCheckpointStore(s.cfg.CheckpointSchema, s.taskID, s.epoch, s.log)
	if err := s.cp.setup(ctx, db); err != nil {
		return err
	}
	if s.cfg.TwoWay != nil {
		if _, err := db.ExecContext(ctx, ConflictTableDDL(s.cfg.CheckpointSchema)); err != nil {
			return omserr.Wrap(err, omserr.IncrCheckpointSetup, "cannot create the conflict table in target schema "+s.cfg.CheckpointSchema, "grant the target user CREATE on "+s.cfg.CheckpointSchema)
		}
	}
	return nil
}

// Run applies the change log until ctx ends (returns ctx.Err(), state durable: every applied
// batch committed with its checkpoint) or a fatal error.
func (s *Syncer) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.err = component.Outcome(ctx, err, s.FailureCode())
	var sa *stopAt
	if errors.As(err, &sa) {
		s.stoppedAt = sa.gtid
	}
	return err
}

// FailureCode implements component.FailureCoder.
func (s *Syncer) FailureCode() string { return omserr.IncrApplyFailed }

func (s *Syncer) run(ctx context.Context) error {
	rec, err := s.cp.load(ctx, s.db, s.cfg.Flavor)
	if err != nil {
		return err
	}
	from := rec.lw
	if !rec.found {
		from = s.startGTID.Clone()
	}
	var recoveredList []string
	for g := range rec.applied {
		recoveredList = append(recoveredList, g)
	}
	sched := newScheduler(s.cfg.Workers, s.cfg.Window, s.cfg.MaxBatchRows, s.cfg.MaxBatchTxns, s.cfg.AtomicTxns, from, recoveredList)
	s.mu.Lock()
	s.sched = sched
	s.state = component.StateRunning
	s.err = nil
	if rec.lastCommit > 0 {
		sched.lwCommit = time.Unix(rec.lastCommit, 0)
	}
	s.mu.Unlock()
	s.log.Info("incr-sync starting", "from", from.String(), "recovered_above_watermark", len(recoveredList),
		"workers", s.cfg.Workers, "target", s.cfg.Target)

	src, err := s.open(ctx, from.String())
	if err != nil {
		return err
	}
	defer src.Close()
	if bc, ok := src.(ByteCounter); ok {
		s.mu.Lock()
		s.bytes.src = bc
		s.mu.Unlock()
		defer func() {
			w, r := bc.Bytes()
			s.mu.Lock()
			s.bytes.src, s.bytes.baseWire, s.bytes.baseRecs = nil, s.bytes.baseWire+w, s.bytes.baseRecs+r
			s.mu.Unlock()
		}()
	}

	// The read stage stops at the first failure; the workers drain what arrived before it
	// (see scheduler.fail) and then return the failure; a cancelled ctx stops everything.
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	sched.onFail = stopRead // before any goroutine can call fail
	var g errgroup.Group
	g.Go(func() error {
		if err := s.read(readCtx, src, sched, rec); err != nil {
			sched.fail(failAll, err)
		}
		return nil
	})
	for i := 0; i < s.cfg.Workers; i++ {
		w := &worker{id: i, db: s.db, cp: s.cp, sched: sched, log: s.log, audit: s.cfg.RecordApplied, ins: s.ins, twoWay: s.cfg.TwoWay,
			retry: time.Duration(s.cfg.RetryMax), pending: rec.pendingDDL}
		g.Go(func() error { return w.run(ctx) })
	}
	ackCtx, stopAck := context.WithCancel(ctx)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		a, _ := src.(Acker) // nil: a source without acknowledgements (tests)
		s.ackLoop(ackCtx, a, sched)
	}()
	_ = g.Wait() // a worker ends only with ctx's error or the scheduler's failure, read here
	stopAck()
	<-acked
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return sched.failure()
}

// read is the read stage: Store -> mapping -> scheduler.
func (s *Syncer) read(ctx context.Context, src TxnSource, sched *scheduler, rec *recovered) error {
	m := newMapper(s.sel, s.db)
	m.settle = sched.waitIdle
	if err := m.readAhead(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("cannot read the target's table definitions ahead; reading them table by table", "err", err)
	}
	lw := from(sched)
	var keys []string
	for {
		t, err := src.Next(ctx)
		if err != nil {
			return fmt.Errorf("read from store: %w", err)
		}
		if t.Heartbeat && t.GTID == "" {
			s.mu.Lock()
			s.srcTime = t.CommitTime
			s.mu.Unlock()
			continue
		}
		if t.GTID != "" {
			if lw.Contains(t.GTID) {
				continue // the Store sent what the checkpoint already covers
			}
			if _, done := rec.applied[t.GTID]; done {
				delete(rec.applied, t.GTID)
				if err := sched.skip(ctx, &mtxn{gtid: t.GTID, commit: t.CommitTime, seq: t.Seq}); err != nil {
					return err
				}
				continue
			}
		}
		if s.skips.has(t.GTID) {
			s.log.Info("transaction skipped by the operator (skip_gtids)", "gtid", t.GTID, "rows", len(t.Rows), "ddl", t.DDL != nil)
			if err := sched.skip(ctx, &mtxn{gtid: t.GTID, commit: t.CommitTime, seq: t.Seq}); err != nil {
				return err
			}
			continue
		}
		if t.DDL != nil {
			mt := &mtxn{gtid: t.GTID, commit: t.CommitTime, seq: t.Seq, received: t.Received}
			plan, err := planDDL(s.sel, s.policy, t.DDL, t.GTID)
			if err == nil && len(plan.stmts) > 0 {
				switch s.cfg.TwoWay.ddlAction(plan.kind.Class()) {
				case ddl.PolicySkip:
					s.log.Info("DDL from the region that does not own schema changes skipped (two_way other_region_ddl)", "gtid", t.GTID, "class", plan.kind.Class())
					plan = &ddlPlan{skipped: "DDL from region " + s.cfg.TwoWay.SourceRegion + ": two_way other_region_ddl " + plan.kind.Class() + " is skip"}
				case ddl.PolicyStop:
					// stop at the statement: a barrier applies everything before it, then fails
					mt.ddl = &ddlPlan{fail: s.cfg.TwoWay.wrongRegionDDL(t.GTID, t.DDL.Statement)}
					if err := sched.addBarrier(ctx, mt); err != nil {
						return err
					}
					<-ctx.Done()
					return nil
				}
			}
			if omserr.CodeOf(err) == omserr.IncrDDLUnsupported {
				// stop at the statement: a barrier applies everything before it, then fails
				mt.ddl = &ddlPlan{fail: err, noop: noopCheck(s.sel, t.DDL)}
				if err := sched.addBarrier(ctx, mt); err != nil {
					return err
				}
				if mt.ddl.noop != nil {
					continue // it may be a no-op on the target: what follows waits behind the barrier
				}
				<-ctx.Done()
				return nil
			}
			if err != nil {
				return err
			}
			if len(plan.stmts) == 0 {
				s.log.Debug("DDL not applied", "gtid", t.GTID, "why", plan.skipped)
				if len(t.Rows) == 0 {
					if err := sched.skip(ctx, mt); err != nil {
						return err
					}
					continue
				}
				// the rows of a CREATE TABLE ... SELECT whose DDL is not applied: plain DML
			} else {
				if len(t.Rows) > 0 {
					// CREATE TABLE ... SELECT: its rows go in the DDL's final checkpoint transaction
					rows, err := s.mapTxn(ctx, m, t)
					if err != nil {
						return err
					}
					mt.rows = rows.rows
					mt.idempotent = s.cfg.IdempotentAlways || s.strictAfter.Contains(t.GTID)
				}
				mt.ddl, mt.ddlTables, mt.ddlSession = plan, t.DDL.Tables, t.DDL.Session
				if err := sched.addBarrier(ctx, mt); err != nil {
					return err
				}
				m.invalidate()
				continue
			}
		}
		mt, err := s.mapTxn(ctx, m, t)
		if err != nil {
			return err
		}
		mt.idempotent = s.cfg.IdempotentAlways || (t.GTID != "" && s.strictAfter.Contains(t.GTID))
		mt.received = t.Received
		keys = keys[:0]
		for i := range mt.rows {
			keys = conflictKeys(&mt.rows[i], keys)
		}
		if len(mt.rows) == 0 {
			err = sched.skip(ctx, mt)
		} else {
			err = sched.add(ctx, mt, append([]string(nil), keys...))
			metrics.Trace(metrics.HopIncrReceived, mt.gtid, mt.received)
			metrics.Trace(metrics.HopIncrScheduled, mt.gtid, mt.scheduled)
		}
		if err != nil {
			return err
		}
	}
}

func from(s *scheduler) binlog.GTIDSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lw.Clone()
}

func (s *Syncer) ackLoop(ctx context.Context, a Acker, sched *scheduler) {
	t := time.NewTicker(idleWatermarkEvery)
	defer t.Stop()
	last, lastAck := "", time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.persistIdleWatermark(ctx, sched)
		if a == nil || time.Since(lastAck) < ackInterval {
			continue
		}
		durable := sched.snapshot().durable
		if durable == last || durable == "" {
			continue
		}
		if err := a.Ack(ctx, durable); err != nil {
			s.log.Warn("cannot acknowledge the checkpoint to the store", "err", err)
			continue
		}
		last, lastAck = durable, time.Now()
	}
}

// mapTxn maps a source transaction onto the target, retrying with backoff for up to retry_max
// when reading the target's definitions fails for a reason that passes (the target restarting):
// the read stage must ride out a target outage like the workers do.
func (s *Syncer) mapTxn(ctx context.Context, m *mapper, t *changelog.Txn) (*mtxn, error) {
	deadline := time.Now().Add(time.Duration(s.cfg.RetryMax))
	backoff := 100 * time.Millisecond
	for {
		mt, err := m.mapTxn(ctx, t)
		if err == nil || !mysqlconn.Retryable(err) || time.Now().After(deadline) {
			return mt, err
		}
		s.log.Warn("retrying after a target error while mapping", "gtid", t.GTID, "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// persistIdleWatermark writes the watermark when it moved only over transactions that carried
// nothing to apply (other tables' changes, heartbeats, echoes) and nothing is in flight, so the
// position reported to the MetaDB (where a moved Store starts) and to the Store (what it may
// purge) is always one a restart resumes from.
//
// The write is kept out of the target's binlog (sql_log_bin = 0) when the user may: logged, it
// would reach a two-way pair's other direction as an echo, move that side's watermark over
// nothing, whose idle write would come back, and so on, once a second forever. Without the
// privilege it is logged at most every idleLoggedEvery.
func (s *Syncer) persistIdleWatermark(ctx context.Context, sched *scheduler) {
	snap := sched.snapshot()
	if snap.inflight > 0 || snap.lw == snap.durable {
		return
	}
	if s.idleLogged && time.Since(s.idleWritten) < idleLoggedEvery {
		return
	}
	lw, err := binlog.ParseGTIDSet(s.cfg.Flavor, snap.lw)
	if err != nil {
		return
	}
	if err := s.writeIdleWatermark(ctx, snap); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot write the idle watermark; retrying", "err", err)
		}
		return
	}
	s.idleWritten = time.Now()
	sched.markDurable(lw)
}

func (s *Syncer) writeIdleWatermark(ctx context.Context, snap schedSnapshot) error {
	conn, err := s.cp.fence.Conn(ctx, s.db)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err == nil {
		s.idleLogged = false
		defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION sql_log_bin = 1") //nolint:errcheck // a failed reset fails the next use of the connection, which is retried
	} else {
		s.idleLogged = true // no BINLOG ADMIN/SUPER: logged, and rarely
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.cp.fence.Check(ctx, tx); err != nil {
		return err
	}
	if err := s.cp.write(ctx, tx, cpRow{worker: idleWatermarkRow, lw: snap.lw, lastCommit: snap.lwCommit.Unix()}); err != nil {
		return err
	}
	return tx.Commit()
}

// Status reports state, the low watermark as position, lag and counters.
func (s *Syncer) Status() component.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := component.Status{Kind: Kind, TaskID: s.taskID, Epoch: s.epoch, State: s.state, Error: s.err, StoppedAt: s.stoppedAt, UpdatedAt: time.Now().UTC()}
	if s.sched == nil {
		return st
	}
	snap := s.sched.snapshot()
	st.Position = snap.durable
	now := time.Now()
	ref := snap.lwCommit
	if snap.inflight == 0 && s.srcTime.After(ref) {
		ref = s.srcTime
	}
	if !ref.IsZero() {
		st.LagSeconds = max(0, now.Sub(ref).Seconds())
	}
	cpAge := 0.0
	if !snap.lwCommit.IsZero() {
		cpAge = max(0, now.Sub(snap.lwCommit).Seconds())
	}
	if s.rateMark.at.IsZero() || now.Sub(s.rateMark.at) >= time.Second {
		if !s.rateMark.at.IsZero() {
			s.rateMark.rate = float64(snap.rows-s.rateMark.rows) / now.Sub(s.rateMark.at).Seconds()
		}
		s.rateMark.at, s.rateMark.rows = now, snap.rows
	}
	st.Metrics = map[string]float64{
		"applied_txns_total": float64(snap.txns), "applied_rows_total": float64(snap.rows), "target_commits_total": float64(snap.batches),
		"inflight_txns": float64(snap.inflight), "rows_per_sec": s.rateMark.rate, "checkpoint_age_seconds": cpAge,
	}
	if s.cfg.AtomicTxns {
		st.Metrics["commit_order_yields_total"] = float64(snap.yields)
	}
	wire, recs := s.bytes.baseWire, s.bytes.baseRecs
	if s.bytes.src != nil {
		w, r := s.bytes.src.Bytes()
		wire, recs = wire+w, recs+r
	}
	st.Metrics["received_bytes_total"], st.Metrics["read_bytes_total"] = float64(wire), float64(recs)
	return st
}

// Close releases the target connections.
func (s *Syncer) Close() error {
	if s.db != nil {
		return s.db.Close()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Package fullimport is the full-import data component (OMS STRUCT_TRANSFER, FULL_TRANSFER and
// INDEX_TRANSFER): it reads the selected tables of a source MySQL/MariaDB, creates them on the
// target, copies their rows in parallel key-range chunks and then builds the deferred secondary
// indexes.
//
// It talks to two databases and owns nothing else durable: the source (read-only: schema,
// binlog position, rows) and the target (tables, rows, and the resume state in schema __oms).
// See docs/full-import.md for the consistency argument with Incr-Sync and the resume design.
//
// Concurrency: Init, Run and Close are called by one goroutine (component.Host); Status is safe
// from any goroutine. Run starts ReadConcurrency readers and Concurrency writers (errgroup) and
// returns after they have stopped; a cancelled Run leaves every chunk either committed with its done mark or rolled back.
package fullimport

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/fence"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// Kind is the component kind.
const Kind = "full-import"

// chunkRetries is how often a failing chunk is retried (deadlocks, lost connections) before its
// table is marked failed.
const chunkRetries = 3 // only errors mysqlconn.Retryable classifies as transient are retried

// Unit is the full-import component.
type Unit struct {
	cfg     Config
	task    string
	epoch   int64
	workDir string
	log     *slog.Logger
	// BarOut, when set (a terminal), gets a progress bar redrawn twice a second during Run.
	BarOut io.Writer

	srcPlan, srcRaw, dst *sql.DB
	sel                  *selection.Selector
	state                *stateStore
	tables               []*table
	prog                 *progress

	mu        sync.Mutex
	stateName string
	pos       position
	objects   []ObjectStatus
	runErr    *omserr.Error
	baseRows  int64
	baseBytes int64
	planned   atomic.Bool
	budget    atomic.Pointer[queueBudget] // the read-ahead queue of the running copy
	times     stageTimes
}

// New builds the component from its spec (config decoded strictly).
func New(spec component.Spec, log *slog.Logger) (*Unit, error) {
	var cfg Config
	if err := spec.DecodeConfig(&cfg); err != nil {
		return nil, err
	}
	return NewWithConfig(cfg, spec.TaskID, spec.Epoch, spec.WorkDir, log)
}

// NewWithConfig builds the component from a config value.
func NewWithConfig(cfg Config, task string, epoch int64, workDir string, log *slog.Logger) (*Unit, error) {
	cfg.setDefaults()
	sel, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if task == "" {
		return nil, omserr.New(omserr.ConfigFullInvalid, "full-import needs a task id", "set task_id in the spec")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Unit{cfg: cfg, task: task, epoch: epoch, workDir: workDir, log: log, stateName: component.StateInit, prog: newProgress(), sel: sel}, nil
}

// sessionOptions: TIMESTAMPs in UTC, extra session variables, and with raw the result values in
// each column's own character set (character_set_results=binary), which the copy needs to move
// bytes without conversion.
func sessionOptions(raw bool, extra map[string]string, maxOpen int) mysqlconn.Options {
	params := map[string]string{"time_zone": mysqlconn.TimeZoneUTC}
	if raw {
		params["character_set_results"] = "binary"
	}
	for k, v := range extra {
		params[k] = v
	}
	return mysqlconn.Options{Params: params, MaxOpen: maxOpen, MaxAllowedPacket: -1}
}

// Init connects to both databases, creates the resume-state tables and lists the selected
// source tables (refusing the ones without a usable key).
func (u *Unit) Init(ctx context.Context) error {
	var err error
	open := func(c mysqlconn.Config, raw bool, extra map[string]string) (*sql.DB, error) {
		// raw: the readers, plus a retried chunk's own reader per writer
		conns := u.cfg.Concurrency + 2
		if raw {
			conns += u.cfg.ReadConcurrency
		}
		db, err := c.Open(ctx, sessionOptions(raw, extra, conns))
		if err != nil {
			return nil, omserr.Wrap(err, omserr.FullConnect, "cannot connect to "+c.String(), "check host, port, user and password in the spec and that the server is up")
		}
		return db, nil
	}
	if u.srcPlan, err = open(u.cfg.Source, false, nil); err != nil {
		return err
	}
	if u.srcRaw, err = open(u.cfg.Source, true, nil); err != nil {
		return err
	}
	// Target sessions: no foreign key checks during the load (tables arrive in any order), zero
	// dates and explicit 0 in AUTO_INCREMENT columns accepted as the source has them.
	if u.dst, err = open(u.cfg.Target, false, map[string]string{
		"foreign_key_checks": "0",
		"sql_mode":           "'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
	}); err != nil {
		return err
	}
	u.state = &stateStore{db: u.dst, schema: u.cfg.MetaSchema, task: u.task,
		fence: fence.New(u.cfg.MetaSchema, "full_import_fence", omserr.FullFenced, "full import", u.task, u.epoch, u.log)}
	if err := u.state.ensure(ctx); err != nil {
		return err
	}
	tables, refused, err := discover(ctx, u.srcPlan, u.sel)
	if err != nil {
		return err
	}
	u.tables = tables
	u.addObjects(refused...)
	for _, r := range refused {
		u.log.Warn("table refused by precheck", "table", r.Source, "reason", r.Error)
	}
	u.log.Info("full import initialised", "source", u.cfg.Source, "target", u.cfg.Target, "tables", len(tables), "refused", len(refused),
		"concurrency", u.cfg.Concurrency, "read_concurrency", u.cfg.ReadConcurrency, "read_ahead_bytes", u.cfg.ReadAheadBytes)
	return nil
}

func (u *Unit) addObjects(s ...ObjectStatus) {
	u.mu.Lock()
	u.objects = append(u.objects, s...)
	u.mu.Unlock()
}

func (u *Unit) setState(s string) {
	u.mu.Lock()
	u.stateName = s
	u.mu.Unlock()
}

// Objects returns the per-object statuses so far (STRUCT_TRANSFER, precheck, INDEX_TRANSFER).
func (u *Unit) Objects() []ObjectStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]ObjectStatus(nil), u.objects...)
}

// Run does STRUCT_TRANSFER (first run), plans the chunks, copies the missing ones and builds the
// deferred indexes of every finished table.
func (u *Unit) Run(ctx context.Context) error {
	if prev := debug.SetMemoryLimit(-1); prev == math.MaxInt64 { // the operator set no GOMEMLIMIT
		debug.SetMemoryLimit(memoryLimit(u.cfg.ReadAheadBytes))
		defer debug.SetMemoryLimit(prev)
	}
	u.setState(component.StateRunning)
	err := u.run(ctx)
	u.mu.Lock()
	u.stateName, u.runErr = component.Outcome(ctx, err, u.FailureCode())
	u.mu.Unlock()
	u.writeReport()
	return err
}

// memoryLimit is the Go heap's soft limit during Run. The read-ahead queue is most of what is
// live, but without a limit the GC lets the heap grow to twice what is live before it collects:
// measured with the insert method (4 MiB statements built, copied and dropped all the time) and
// the default queue, 230-280 MB live and a peak RSS of 609-663 MB. With the limit the GC
// collects earlier and the process stays under 512 MB with the defaults.
func memoryLimit(readAhead int64) int64 { return 2*readAhead + 128<<20 }

// FailureCode implements component.FailureCoder.
func (u *Unit) FailureCode() string { return omserr.FullFailed }

func (u *Unit) run(ctx context.Context) error {
	if u.BarOut != nil {
		barCtx, stop := context.WithCancel(ctx)
		defer stop()
		var wg sync.WaitGroup
		wg.Add(1)
		defer wg.Wait()
		go func() { // owns no error: drawing only
			defer wg.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-barCtx.Done():
					DrawBar(u.BarOut, u.Status())
					fmt.Fprintln(u.BarOut)
					return
				case <-t.C:
					DrawBar(u.BarOut, u.Status())
				}
			}
		}()
	}
	pos, finished, havePlan, err := u.state.loadRun(ctx)
	if err != nil {
		return err
	}
	deferIdx := *u.cfg.DeferIndexes
	var structFailed map[*table]bool
	if !havePlan {
		// The position comes first: every change after it is either in the copy or replayed by
		// Incr-Sync (docs/full-import.md).
		if pos, err = readPosition(ctx, u.srcPlan); err != nil {
			return err
		}
	}
	u.mu.Lock()
	u.pos = pos
	u.mu.Unlock()
	if !u.cfg.SkipSchema {
		if err := u.state.checkFence(ctx); err != nil {
			return err
		}
		st, failed, err := structTransfer(ctx, u.srcPlan, u.dst, u.tables, deferIdx)
		if err != nil {
			return err
		}
		structFailed = failed
		u.addObjects(st...)
		if !havePlan && u.cfg.NonEmptyTarget == NonEmptyStop {
			var nonEmpty []string
			for _, s := range st {
				if s.Kind != "table" || s.Status != ObjSkippedExists {
					continue
				}
				t := u.tableByDst(s.Target)
				has, err := tableHasRows(ctx, u.dst, t.Target.DB, t.Target.Table)
				if err != nil {
					return err
				}
				if has {
					nonEmpty = append(nonEmpty, s.Target)
				}
			}
			if len(nonEmpty) > 0 {
				return errNonEmpty(nonEmpty)
			}
		}
	}
	var chunks []*chunk
	if havePlan {
		var orphans int
		if chunks, orphans, err = u.state.loadPlan(ctx, u.tables); err != nil {
			return err
		}
		if orphans > 0 {
			u.log.Warn("plan has chunks of tables no longer selected; they are not copied", "chunks", orphans)
		}
	} else {
		for _, t := range u.tables {
			cs, err := planTable(ctx, u.srcPlan, t, u.cfg.ChunkRows, u.cfg.ChunkBytes)
			if err != nil {
				return err
			}
			for _, c := range cs {
				c.ID = len(chunks)
				chunks = append(chunks, c)
			}
		}
		if err := u.state.savePlan(ctx, pos, chunks); err != nil {
			return err
		}
		u.log.Info("plan saved", "chunks", len(chunks), "position", pos.String())
	}
	u.prog.setPlan(u.tables, chunks)
	u.mu.Lock()
	u.baseRows, u.baseBytes = u.prog.rows.Load(), u.prog.bytes.Load()
	u.mu.Unlock()
	u.planned.Store(true)
	if finished {
		u.log.Info("full import already finished for this task", "position", pos.String())
	}
	return u.copyAll(ctx, chunks, structFailed, deferIdx)
}

func (u *Unit) tableByDst(dst string) *table {
	for _, t := range u.tables {
		if t.dst() == dst {
			return t
		}
	}
	return nil
}

// copyAll copies the chunks not yet done and builds each table's deferred indexes as soon as
// its last chunk is committed, so index builds overlap with the copy of the next tables.
func (u *Unit) copyAll(ctx context.Context, chunks []*chunk, structFailed map[*table]bool, deferIdx bool) error {
	pending := map[*table]*atomic.Int64{}
	for _, t := range u.tables {
		pending[t] = new(atomic.Int64)
	}
	var todo []*chunk
	for _, c := range chunks {
		if !c.Done && !structFailed[c.T] {
			pending[c.T].Add(1)
			todo = append(todo, c)
		}
	}
	var maxPacket int64 = insertStatementBytes
	if u.cfg.WriteMethod == WriteInsert {
		var mp int64
		if err := u.dst.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&mp); err == nil && mp/2 < maxPacket {
			maxPacket = mp / 2
		}
	}
	budget := newQueueBudget(u.cfg.ReadAheadBytes, u.cfg.Concurrency, blockSize)
	u.budget.Store(budget)
	cp := &copier{src: u.srcRaw, dst: u.dst, state: u.state, method: u.cfg.WriteMethod, maxStmt: int(maxPacket),
		throttle: newThrottle(u.cfg.RowsPerSec, u.cfg.BytesPerSec), prog: u.prog, budget: budget, times: &u.times}

	var failedMu sync.Mutex
	dataFailed := map[*table]bool{}
	indexes := func(ctx context.Context, t *table) error {
		if !deferIdx || structFailed[t] {
			return nil
		}
		failedMu.Lock()
		bad := dataFailed[t]
		failedMu.Unlock()
		if bad {
			return nil
		}
		if err := u.state.checkFence(ctx); err != nil {
			return err
		}
		st, err := indexTransfer(ctx, u.dst, t)
		if err != nil {
			return err
		}
		u.addObjects(st)
		u.log.Info("deferred indexes", "table", t.dst(), "status", st.Status, "error", st.Error)
		return nil
	}
	// Tables finished by earlier runs still need their indexes (idempotent if already there).
	for _, t := range u.tables {
		if pending[t].Load() == 0 {
			if err := indexes(ctx, t); err != nil {
				return err
			}
		}
	}
	// Readers take the chunks in plan order and hand each one's stream to the writers as soon as
	// they start it, then read it into the read-ahead queue (readahead.go); writers take the
	// streams in that order, so the oldest chunks are always the ones being written.
	todoCh := make(chan *chunk) // unbuffered: a chunk is handed to a reader only when one is free
	ready := make(chan *chunkStream, readyStreams)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(todoCh)
		for _, c := range todo {
			select {
			case todoCh <- c:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	tableFailed := func(t *table) bool {
		failedMu.Lock()
		defer failedMu.Unlock()
		return dataFailed[t]
	}
	var readers sync.WaitGroup
	for i := 0; i < u.cfg.ReadConcurrency; i++ {
		readers.Add(1)
		g.Go(func() error {
			defer readers.Done()
			for c := range todoCh {
				if tableFailed(c.T) {
					continue
				}
				s, rctx := budget.newStream(gctx, c)
				select {
				case ready <- s:
				case <-gctx.Done():
					s.cancel()
					return gctx.Err()
				}
				cp.readChunk(rctx, s) // a read error is the stream's, for its writer to retry
			}
			return nil
		})
	}
	g.Go(func() error {
		readers.Wait()
		close(ready)
		return nil
	})
	for i := 0; i < u.cfg.Concurrency; i++ {
		g.Go(func() error {
			for {
				idle := time.Now()
				var s *chunkStream
				var ok bool
				select {
				case s, ok = <-ready:
				case <-gctx.Done():
					return gctx.Err()
				}
				u.times.writeIdle.Add(int64(time.Since(idle)))
				if !ok {
					return nil
				}
				c := s.c
				if tableFailed(c.T) {
					budget.abandon(s)
					continue
				}
				var err error
				for attempt := 0; attempt < chunkRetries; attempt++ {
					if attempt > 0 { // the read-ahead copy is gone: read the chunk again
						s = cp.directStream(gctx, c)
					}
					if err = cp.copyChunk(gctx, s); err == nil || gctx.Err() != nil || !mysqlconn.Retryable(err) {
						break
					}
					u.log.Warn("chunk failed, retrying", "chunk", c.ID, "table", c.T.src(), "attempt", attempt+1, "err", err)
				}
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if omserr.CodeOf(err) == omserr.FullFenced {
					return err // a newer assignment owns the target: stop without writing
				}
				if err != nil {
					failedMu.Lock()
					dataFailed[c.T] = true
					failedMu.Unlock()
					u.addObjects(ObjectStatus{Kind: "data", Source: c.T.src(), Target: c.T.dst(), Status: ObjFailed, Error: err.Error()})
					u.log.Error("table copy failed", "table", c.T.src(), "err", err)
					continue
				}
				if pending[c.T].Add(-1) == 0 {
					if err := indexes(gctx, c.T); err != nil {
						return err
					}
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var failedNames []string
	for _, o := range u.Objects() {
		if o.Status == ObjFailed || o.Status == ObjRefused {
			failedNames = append(failedNames, o.Kind+" "+o.Source+": "+o.Error)
		}
	}
	if len(failedNames) > 0 {
		return omserr.New(omserr.FullObjectsFailed, fmt.Sprintf("%d object(s) were not migrated: %v", len(failedNames), failedNames),
			"fix the named objects on the target or the selection, then run the task again: finished chunks are not copied again")
	}
	if err := u.state.markFinished(ctx); err != nil {
		return err
	}
	_, peak := budget.usage()
	u.log.Info("full import finished", "rows", u.prog.rows.Load(), "bytes", u.prog.bytes.Load(), "position", u.pos.String(),
		"read_ahead_peak_bytes", peak, "read_busy_s", secs(&u.times.readBusy), "read_blocked_s", secs(&u.times.readBlocked),
		"write_busy_s", secs(&u.times.writeBusy), "write_starved_s", secs(&u.times.writeStarved), "write_idle_s", secs(&u.times.writeIdle))
	return nil
}

// secs reads a nanosecond counter as seconds.
func secs(ns *atomic.Int64) float64 { return time.Duration(ns.Load()).Seconds() }

// Status reports state, the recorded binlog position and progress.
func (u *Unit) Status() component.Status {
	u.mu.Lock()
	st := component.Status{Kind: Kind, TaskID: u.task, Epoch: u.epoch, State: u.stateName, Error: u.runErr, UpdatedAt: time.Now()}
	if u.pos.GTID != "" || u.pos.File != "" {
		st.Position = u.pos.String()
	}
	baseRows, baseBytes := u.baseRows, u.baseBytes
	var failed int
	for _, o := range u.objects {
		if o.Status == ObjFailed || o.Status == ObjRefused {
			failed++
		}
	}
	u.mu.Unlock()
	if u.planned.Load() {
		st.Progress = u.prog.snapshot(baseRows, baseBytes)
		st.Metrics = map[string]float64{
			"rows_total":            float64(st.Progress.RowsDone),
			"bytes_total":           float64(st.Progress.BytesDone),
			"rows_per_sec":          st.Progress.RowsPerSec,
			"eta_seconds":           st.Progress.ETASeconds,
			"chunks_done":           float64(u.prog.chunks.Load()),
			"chunks_total":          float64(u.prog.chunkTotal),
			"objects_failed":        float64(failed),
			"read_busy_seconds":     secs(&u.times.readBusy),
			"read_blocked_seconds":  secs(&u.times.readBlocked),
			"write_busy_seconds":    secs(&u.times.writeBusy),
			"write_starved_seconds": secs(&u.times.writeStarved),
			"write_idle_seconds":    secs(&u.times.writeIdle),
		}
		if b := u.budget.Load(); b != nil {
			used, peak := b.usage()
			st.Metrics["read_ahead_bytes"] = float64(used)
			st.Metrics["read_ahead_peak_bytes"] = float64(peak)
		}
	}
	return st
}

// writeReport writes the object statuses and final status to WorkDir/full-import-report.json.
func (u *Unit) writeReport() {
	if u.workDir == "" {
		return
	}
	rep := struct {
		Status  component.Status `json:"status"`
		Objects []ObjectStatus   `json:"objects"`
	}{u.Status(), u.Objects()}
	b, _ := json.MarshalIndent(rep, "", "  ")
	tmp := filepath.Join(u.workDir, ".full-import-report.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err == nil {
		_ = os.Rename(tmp, filepath.Join(u.workDir, "full-import-report.json"))
	}
}

// Close releases the connections.
func (u *Unit) Close() error {
	for _, db := range []*sql.DB{u.srcPlan, u.srcRaw, u.dst} {
		if db != nil {
			db.Close()
		}
	}
	return nil
}

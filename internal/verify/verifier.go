// Package verify is full verification (OMS step FULL_VERIFIER): it finds every row that differs
// between the source and the target of a migration and writes the SQL that makes the target
// equal to the source.
//
// A Verifier talks to two MySQL-protocol servers (source and target, read only) and owns its
// output directory (report.json, report.txt, per table <db>.<table>.diff and .sql) and a state
// file in the work dir (verify.state.json) that makes a run resumable per chunk.
//
// How a table is compared (range mode, the default):
//
//  0. A table mapped whole (no row filter, no column subset, the same columns and types on both
//     sides) first gets a table checksum (tablechecksum.go): CHECKSUM TABLE and the row count on
//     both sides at the same time. Equal: the table is done, no chunk is planned or compared.
//     Anything else: the steps below, unchanged.
//  1. The table is cut into chunks of ChunkSize key values along its primary key (or a NOT NULL
//     unique key): arithmetically for a single integer key, else by walking the key index.
//  2. For each chunk both servers compute, at the same time, COUNT(*) and
//     SUM(CRC32(CONCAT_WS('#', columns..., null markers))) (SUM: a swap cannot cancel out). Equal aggregates: the chunk is
//     equal, no row crosses the network.
//  3. A chunk whose aggregates differ is fetched row by row from both sides and compared column by
//     column with type-aware equality (compare.go). Differing keys become candidates.
//  4. Candidates are compared again after RecheckDelay, up to RecheckRounds times, so that rows
//     still in flight through Incr-Sync are not reported; only rows that still differ after the
//     last round (or that never converge) are reported.
//
// In mode "in" every source row is fetched and the target rows are looked up by the source's keys
// (plus a count of the target range to find rows only in the target).
//
// Tables without a primary key or NOT NULL unique key have no row identity: they are compared as
// multisets of full rows (a whole-table COUNT and SUM(CRC32) on both sides, and when those differ
// and the table is small enough, a full-row multiset difference), or skipped if configured. The
// report says which, per table.
package verify

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/rowfilter"
	"github.com/omsdev/oms/internal/schema"
	"github.com/omsdev/oms/internal/selection"
)

// Mapper maps a source table to its target (selection and renames). *selection.Selector is one.
type Mapper interface {
	Match(db, table string) (selection.Target, bool)
}

// Verifier is the full-verify component (component.Unit).
type Verifier struct {
	cfg     Config
	workDir string
	mapper  Mapper
	log     *slog.Logger

	src, dst *sql.DB
	pairs    []*pair
	skipped  []TableResult // tables not compared (no key with no_key_tables=skip, ...)

	mu      sync.Mutex
	state   *state
	tables  map[string]*tableRun
	phase   string
	lastErr *omserr.Error
	result  *Report

	rowsDone      atomic.Int64
	rowsTotal     atomic.Int64
	chunksDone    atomic.Int64
	chunksAll     atomic.Int64
	chunksResumed atomic.Int64
	chunksSplit   atomic.Int64
	started       time.Time
	throttle      *throttle
	// chunkQueries counts chunk checksum and row queries (each side), tableChecksums the table
	// checksums run (each side), tablesChecksumEqual the tables their checksum proved equal.
	chunkQueries        atomic.Int64
	tableChecksums      atomic.Int64
	tablesChecksumEqual atomic.Int64
	mariaDB             [2]bool              // per side: the server is MariaDB
	tcPlan              map[*tableRun]string // per table: "" takes a table checksum, else why not
	fb                  *fallbacks           // tables whose checksum did not prove them equal
}

// tableRun is the in-memory progress and findings of one table.
type tableRun struct {
	p          *pair
	rowsDone   atomic.Int64
	candidates map[string][][]byte // identity -> raw key
	final      []rowDiff           // after re-checks
	initial    int64               // candidates when the re-checks started
	result     TableResult
	tc, tcNote string   // table checksum outcome (tcEqual, ...) and note; "" not taken
	selCols    []string // the selection's column subset (nil: every column)
}

// New builds a Verifier from its config. mapper nil means: compile cfg.Selection.
func New(cfg Config, workDir string, mapper Mapper, log *slog.Logger) (*Verifier, error) {
	cfg, err := cfg.withDefaults(workDir)
	if err != nil {
		return nil, err
	}
	if mapper == nil {
		sel, err := selection.Compile(cfg.Selection)
		if err != nil {
			return nil, omserr.Wrap(err, omserr.VerifyConfigInvalid, "the selection of the verify spec is invalid", "fix the named rule")
		}
		mapper = sel
	}
	if log == nil {
		log = slog.Default()
	}
	return &Verifier{cfg: cfg, workDir: workDir, mapper: mapper, log: log, phase: component.StateInit,
		tables: map[string]*tableRun{}, throttle: newThrottle(cfg.RowsPerSecond)}, nil
}

// Init connects to both servers and builds the comparison of every selected table. A missing
// target table, a missing key column or a missing column of the selection's column subset is an
// error here; another column only one side has is a definition difference of the report.
func (v *Verifier) Init(ctx context.Context) error {
	var err error
	if v.src, err = openDB(ctx, v.cfg.Source, "source", v.cfg.Concurrency); err != nil {
		return err
	}
	if v.dst, err = openDB(ctx, v.cfg.Target, "target", v.cfg.Concurrency); err != nil {
		return err
	}
	v.mariaDB = [2]bool{isMariaDB(ctx, v.src), isMariaDB(ctx, v.dst)}
	tables, err := schema.ListTables(ctx, v.src)
	if err != nil {
		return omserr.Wrap(err, omserr.VerifySourceUnreadable, "cannot list the source tables", "grant SELECT on information_schema")
	}
	type match struct {
		src [2]string
		tg  selection.Target
	}
	var matches []match
	srcSchemas, dstSchemas := map[string]bool{}, map[string]bool{}
	for _, st := range tables {
		if tg, ok := v.mapper.Match(st[0], st[1]); ok {
			matches = append(matches, match{st, tg})
			srcSchemas[st[0]], dstSchemas[tg.DB] = true, true
		}
	}
	srcCat, err := schema.LoadCatalog(ctx, v.src, keys(srcSchemas))
	if err != nil {
		return omserr.Wrap(err, omserr.VerifySourceUnreadable, "cannot read the source's table definitions", "grant SELECT on the selected schemas")
	}
	dstCat, err := schema.LoadCatalog(ctx, v.dst, keys(dstSchemas))
	if err != nil {
		return omserr.Wrap(err, omserr.VerifyTargetUnreadable, "cannot read the target's table definitions", "grant SELECT on the target schemas")
	}
	for _, m := range matches {
		srcT, err := tableOf(srcCat, m.src[0], m.src[1])
		if err != nil {
			return err
		}
		dstT, err := tableOf(dstCat, m.tg.DB, m.tg.Table)
		if err != nil {
			return fmt.Errorf("target of %s.%s: %w", m.src[0], m.src[1], err)
		}
		where, err := bindFilter(m.tg.Filter, srcT, dstT)
		if err != nil {
			return err
		}
		cols := m.tg.Columns
		if len(cols) == 0 {
			// Every column both sides have: a column only one side has is a definition
			// difference (compareDefinitions reports it), the rest of the table is still compared.
			cols = sharedColumns(srcT, dstT)
		}
		p, err := newPair(srcT, dstT, cols, where)
		if err != nil {
			return err
		}
		if !p.hasKey() && v.cfg.NoKeyTables == NoKeySkip {
			v.skipped = append(v.skipped, TableResult{Table: p.Name, Target: dstT.DB + "." + dstT.Name, Method: MethodSkipped,
				Note: "no primary key or NOT NULL unique key and no_key_tables=skip: not compared"})
			continue
		}
		v.pairs = append(v.pairs, p)
		v.tables[p.Name] = &tableRun{p: p, candidates: map[string][][]byte{}, selCols: m.tg.Columns}
		v.rowsTotal.Add(srcT.Rows)
	}
	v.compareDefinitions()
	if len(v.pairs) == 0 && len(v.skipped) == 0 {
		return omserr.New(omserr.VerifyNothingSelected, "the selection matches no source table", "check the selection's db and table patterns")
	}
	v.log.Info("full verification initialised", "tables", len(v.pairs), "skipped", len(v.skipped),
		"source", v.cfg.Source.String(), "target", v.cfg.Target.String(), "mode", v.cfg.Mode)
	return nil
}

func openDB(ctx context.Context, c mysqlconn.Config, name string, conc int) (*sql.DB, error) {
	// Checksum and drill-down workers, plus the planner and re-check lookups.
	db, err := c.Open(ctx, sessionOptions(2*conc+2))
	if err != nil {
		return nil, omserr.Wrap(err, omserr.VerifyConnect, "cannot connect to the "+name+" at "+c.Addr(),
			"check host, port, user and password of the "+name+" in the spec")
	}
	return db, nil
}

// Status reports the phase, rows compared and per-table counts. Safe at any time.
func (v *Verifier) Status() component.Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := component.Status{Kind: "full-verify", State: v.phase, UpdatedAt: time.Now(), Error: v.lastErr}
	done, total := v.rowsDone.Load(), v.rowsTotal.Load()
	if total < done {
		total = done
	}
	pr := &component.Progress{RowsDone: done, RowsTotal: total, Tables: map[string]*component.Progress{}}
	if el := time.Since(v.started).Seconds(); !v.started.IsZero() && el > 0 {
		pr.RowsPerSec = float64(done) / el
		if pr.RowsPerSec > 0 && total > done {
			pr.ETASeconds = float64(total-done) / pr.RowsPerSec
		}
	}
	diffs := 0.0
	for name, tr := range v.tables {
		pr.Tables[name] = &component.Progress{RowsDone: tr.rowsDone.Load(), RowsTotal: tr.p.src.Rows}
		diffs += float64(len(tr.candidates))
	}
	st.Progress = pr
	st.Position = fmt.Sprintf("chunks %d/%d", v.chunksDone.Load(), v.chunksAll.Load())
	st.Metrics = map[string]float64{
		"rows_compared": float64(done), "chunks_done": float64(v.chunksDone.Load()),
		"chunks_total": float64(v.chunksAll.Load()), "candidate_rows": diffs,
		"chunks_split": float64(v.chunksSplit.Load()), "chunk_queries": float64(v.chunkQueries.Load()),
		"table_checksums": float64(v.tableChecksums.Load()), "tables_checksum_equal": float64(v.tablesChecksumEqual.Load()),
	}
	if v.result != nil {
		st.Metrics["rows_only_in_source"] = float64(v.result.OnlyInSource)
		st.Metrics["rows_only_in_target"] = float64(v.result.OnlyInTarget)
		st.Metrics["rows_different"] = float64(v.result.Different)
		st.Metrics["tables_schema_different"] = float64(v.result.SchemaDifferent)
	}
	return st
}

// Result is the report of the finished run (nil before).
func (v *Verifier) Result() *Report {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.result
}

// Close releases the connections.
func (v *Verifier) Close() error {
	if v.src != nil {
		v.src.Close()
	}
	if v.dst != nil {
		v.dst.Close()
	}
	return nil
}

func (v *Verifier) setPhase(p string) {
	v.mu.Lock()
	v.phase = p
	v.mu.Unlock()
}

// throttle limits rows per second across workers.
type throttle struct {
	mu    sync.Mutex
	rate  float64
	start time.Time
	rows  float64
}

func newThrottle(rate int) *throttle { return &throttle{rate: float64(rate), start: time.Now()} }

func (t *throttle) wait(ctx context.Context, n int64) error {
	if t.rate <= 0 {
		return nil
	}
	t.mu.Lock()
	t.rows += float64(n)
	due := t.start.Add(time.Duration(t.rows / t.rate * float64(time.Second)))
	t.mu.Unlock()
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bindFilter renders the selection's row filter from its parse tree over the source table's
// columns; the filter runs on both sides, so the target must have them too. nil: all rows.
func bindFilter(f *rowfilter.Filter, src, dst *schema.TableInfo) (string, error) {
	if f == nil {
		return "", nil
	}
	where, err := f.Bind(src.DB+"."+src.Name, src.ColNames())
	if err != nil {
		return "", err
	}
	if _, err := f.Bind(dst.DB+"."+dst.Name, dst.ColNames()); err != nil {
		return "", err
	}
	return where, nil
}

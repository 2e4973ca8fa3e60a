package verify

import (
	"strconv"
	"time"

	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// Defaults of Config.
const (
	DefaultChunkSize     = 10000
	DefaultConcurrency   = 2
	DefaultRecheckRounds = 20 // as OMS: a difference is re-checked up to 20 times
	DefaultRecheckDelay  = 2 * time.Second
	DefaultNoKeyMaxRows  = 1_000_000
	ModeRange            = "range"
	ModeIn               = "in"
	NoKeyMultiset        = "multiset"
	NoKeySkip            = "skip"
	TableChecksumAuto    = "auto"
	TableChecksumAlways  = "always"
	TableChecksumOff     = "off"
	// tableChecksumMinRows: in "auto", a table of at most this many (estimated) rows may
	// always take the table checksum; a larger one only while it is not more than its share of
	// all rows (see tableChecksumPlan).
	tableChecksumMinRows = 1_000_000
)

// Config is the full-verify component's part of the spec.
type Config struct {
	Source    mysqlconn.Config `json:"source"`
	Target    mysqlconn.Config `json:"target"`
	Selection selection.Config `json:"selection"`
	// Concurrency is the number of chunks compared at once; each holds one connection per side.
	Concurrency int `json:"concurrency,omitempty"`
	// RowsPerSecond throttles the source rows compared per second (0: unlimited).
	RowsPerSecond int `json:"rows_per_second,omitempty"`
	// ChunkSize is the number of key values per chunk.
	ChunkSize int `json:"chunk_size,omitempty"`
	// RecheckRounds is how many times a differing row is compared again (nil: 20, 0: never).
	RecheckRounds *int `json:"recheck_rounds,omitempty"`
	// RecheckDelay is the wait before each re-check round, e.g. "2s".
	RecheckDelay component.Duration `json:"recheck_delay,omitempty"`
	// Mode is "range" (checksum per key range on both sides, default) or "in" (every source row
	// is fetched and the target rows are looked up by the source's keys).
	Mode string `json:"mode,omitempty"`
	// OnlyPreviousDifferences re-verifies only the rows (and key-less tables) that differed in
	// the previous run's result in OutputDir.
	OnlyPreviousDifferences bool `json:"only_previous_differences,omitempty"`
	// OutputDir receives report.json, report.txt and per table <db>.<table>.diff/.sql, the names
	// encoded by safepath.Name (shop.orders.diff; Orders~<hash>, %2F for a slash)
	// (default <work_dir>/output).
	OutputDir string `json:"output_dir,omitempty"`
	// NoKeyTables says what to do with tables without a primary key or NOT NULL unique key:
	// "multiset" (default: compare full-row multisets, listing rows when the checksums differ
	// and the table has at most NoKeyMaxRows rows) or "skip".
	NoKeyTables  string `json:"no_key_tables,omitempty"`
	NoKeyMaxRows int64  `json:"no_key_max_rows,omitempty"`
	// TableChecksum is the table-level first pass: for a table mapped whole (no row filter, no
	// column subset, the same columns and types on both sides), CHECKSUM TABLE and the row count
	// on both sides; equal, the table is verified without chunk queries, else it is compared by
	// chunks as usual. "auto" (default): on, except under rows_per_second and for a table too
	// large to be checksummed by one thread while the others wait; "always": every table mapped
	// whole; "off": never.
	TableChecksum string `json:"table_checksum,omitempty"`
}

// sessionOptions: utf8mb4 text, UTC for TIMESTAMP, client-side parameter interpolation (one
// round trip per query); a pool for maxOpen connections.
func sessionOptions(maxOpen int) mysqlconn.Options {
	return mysqlconn.Options{Collation: "utf8mb4_general_ci", Params: map[string]string{"time_zone": mysqlconn.TimeZoneUTC}, MaxOpen: maxOpen}
}

// withDefaults fills defaults and checks values.
func (c Config) withDefaults(workDir string) (Config, error) {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.RecheckRounds == nil {
		n := DefaultRecheckRounds
		c.RecheckRounds = &n
	}
	if *c.RecheckRounds < 0 {
		return c, omserr.New(omserr.VerifyConfigInvalid, "recheck_rounds is negative", "use 0 (no re-check) or more")
	}
	if c.RecheckDelay == 0 {
		c.RecheckDelay = component.Duration(DefaultRecheckDelay)
	}
	if c.Mode == "" {
		c.Mode = ModeRange
	}
	if c.Mode != ModeRange && c.Mode != ModeIn {
		return c, omserr.New(omserr.VerifyConfigInvalid, "mode "+strconv.Quote(c.Mode)+" is unknown", `use "range" or "in"`)
	}
	if c.NoKeyTables == "" {
		c.NoKeyTables = NoKeyMultiset
	}
	if c.NoKeyTables != NoKeyMultiset && c.NoKeyTables != NoKeySkip {
		return c, omserr.New(omserr.VerifyConfigInvalid, "no_key_tables "+strconv.Quote(c.NoKeyTables)+" is unknown", `use "multiset" or "skip"`)
	}
	if c.TableChecksum == "" {
		c.TableChecksum = TableChecksumAuto
	}
	switch c.TableChecksum {
	case TableChecksumAuto, TableChecksumAlways, TableChecksumOff:
	default:
		return c, omserr.New(omserr.VerifyConfigInvalid, "table_checksum "+strconv.Quote(c.TableChecksum)+" is unknown", `use "auto", "always" or "off"`)
	}
	if c.NoKeyMaxRows <= 0 {
		c.NoKeyMaxRows = DefaultNoKeyMaxRows
	}
	c.OutputDir = c.OutputDirIn(workDir)
	if c.Source.Host == "" || c.Target.Host == "" || c.Source.Port == 0 || c.Target.Port == 0 {
		return c, omserr.New(omserr.VerifyConfigInvalid, "source and target need host and port", "set source.host/port and target.host/port")
	}
	for name, cn := range map[string]mysqlconn.Config{"source": c.Source, "target": c.Target} {
		if err := cn.TLS.Check(); err != nil {
			return c, omserr.New(omserr.VerifyConfigInvalid, name+": "+err.Error(), "fix "+name+".tls in the spec")
		}
	}
	if len(c.Selection.Tables) == 0 {
		return c, omserr.New(omserr.VerifyConfigInvalid, "selection has no tables rule", `add e.g. {"tables":[{"db":"shop"}]}`)
	}
	return c, nil
}

// OutputDirIn is where a run in workDir writes its report: OutputDir, else <workDir>/output.
func (c Config) OutputDirIn(workDir string) string {
	if c.OutputDir == "" {
		return workDir + "/output"
	}
	return c.OutputDir
}

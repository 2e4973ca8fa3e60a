package fullimport

import (
	"fmt"
	"runtime"

	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// Write methods.
const (
	WriteLoadData = "load_data" // streamed LOAD DATA LOCAL INFILE (default: measured fastest)
	WriteInsert   = "insert"    // multi-row REPLACE statements
)

// Policies for a target table that already has rows before the first run.
const (
	NonEmptyStop     = "stop"
	NonEmptyContinue = "continue"
)

// Config is the full-import component's spec config.
type Config struct {
	Source    mysqlconn.Config `json:"source"`
	Target    mysqlconn.Config `json:"target"`
	Selection selection.Config `json:"selection"`
	// Concurrency is the number of chunks written at once (the writers, each with one target
	// connection). Default: 2 x NumCPU, at least 4, at most 32: a chunk's stream waits on
	// the source read, the binlog cache and the commit fsync, so one stream per core leaves the
	// target's CPUs idle (measured: 4 streams 20% faster than 2 on 2 cores, 6 no better).
	Concurrency int `json:"concurrency,omitempty"`
	// ReadConcurrency is the number of chunks read from the source at once, ahead of the
	// writers (each uses one source connection). Default: Concurrency.
	ReadConcurrency int `json:"read_concurrency,omitempty"`
	// ReadAheadBytes bounds the memory of chunks read and not yet written (the read-ahead
	// queue; wide rows and BLOBs count by their bytes). Default 128 MiB, at least
	// (Concurrency+1) x 256 KiB.
	ReadAheadBytes int64 `json:"read_ahead_bytes,omitempty"`
	// ChunkRows and ChunkBytes bound a chunk (whichever is reached first). Defaults 100000 rows,
	// 64 MiB (estimated from the table's average row length).
	ChunkRows  int64 `json:"chunk_rows,omitempty"`
	ChunkBytes int64 `json:"chunk_bytes,omitempty"`
	// RowsPerSec and BytesPerSec throttle the read side (0: unlimited).
	RowsPerSec  int64 `json:"rows_per_sec,omitempty"`
	BytesPerSec int64 `json:"bytes_per_sec,omitempty"`
	// DeferIndexes creates non-unique secondary indexes and foreign keys after the copy
	// (INDEX_TRANSFER). Default true.
	DeferIndexes *bool `json:"defer_indexes,omitempty"`
	// NonEmptyTarget is what to do when a selected target table already has rows on the first
	// run: "stop" (default) or "continue".
	NonEmptyTarget string `json:"non_empty_target,omitempty"`
	// WriteMethod is "load_data" (default) or "insert".
	WriteMethod string `json:"write_method,omitempty"`
	// MetaSchema is the target schema holding the resume state. Default "__oms".
	MetaSchema string `json:"meta_schema,omitempty"`
	// SkipSchema skips STRUCT_TRANSFER (tables must exist on the target).
	SkipSchema bool `json:"skip_schema,omitempty"`
}

func (c *Config) setDefaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = min(max(2*runtime.NumCPU(), 4), 32)
	}
	if c.ReadConcurrency <= 0 {
		c.ReadConcurrency = c.Concurrency
	}
	if c.ReadAheadBytes <= 0 {
		c.ReadAheadBytes = defaultReadAheadBytes
	}
	if c.ChunkRows <= 0 {
		c.ChunkRows = 100_000
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 64 << 20
	}
	if c.DeferIndexes == nil {
		t := true
		c.DeferIndexes = &t
	}
	if c.NonEmptyTarget == "" {
		c.NonEmptyTarget = NonEmptyStop
	}
	if c.WriteMethod == "" {
		c.WriteMethod = WriteLoadData
	}
	if c.MetaSchema == "" {
		c.MetaSchema = "__oms"
	}
	for _, cn := range []*mysqlconn.Config{&c.Source, &c.Target} {
		if cn.Host == "" {
			cn.Host = "127.0.0.1"
		}
		if cn.Port == 0 {
			cn.Port = 3306
		}
	}
}

// validate checks a defaulted config and returns its compiled selection.
func (c *Config) validate() (*selection.Selector, error) {
	bad := func(field, msg string) (*selection.Selector, error) {
		return nil, omserr.New(omserr.ConfigFullInvalid, "full-import config: "+field+" "+msg, "fix "+field+" in the spec")
	}
	if c.Source.User == "" {
		return bad("source.user", "is empty")
	}
	if c.Target.User == "" {
		return bad("target.user", "is empty")
	}
	if err := c.Source.TLS.Check(); err != nil {
		return bad("source", err.Error())
	}
	if err := c.Target.TLS.Check(); err != nil {
		return bad("target", err.Error())
	}
	if c.NonEmptyTarget != NonEmptyStop && c.NonEmptyTarget != NonEmptyContinue {
		return bad("non_empty_target", fmt.Sprintf("is %q, want stop or continue", c.NonEmptyTarget))
	}
	if c.WriteMethod != WriteLoadData && c.WriteMethod != WriteInsert {
		return bad("write_method", fmt.Sprintf("is %q, want load_data or insert", c.WriteMethod))
	}
	if min := minReadAhead(c.Concurrency); c.ReadAheadBytes < min {
		return bad("read_ahead_bytes", fmt.Sprintf("is %d, below (concurrency+1) x 256 KiB = %d", c.ReadAheadBytes, min))
	}
	if c.RowsPerSec < 0 || c.BytesPerSec < 0 {
		return bad("rows_per_sec/bytes_per_sec", "is negative")
	}
	sel, err := selection.Compile(c.Selection)
	if err != nil {
		return nil, omserr.Wrap(err, omserr.ConfigFullSelection, "full-import config: selection is invalid", "fix the named rule")
	}
	return sel, nil
}

package incrsync

import (
	"time"

	"github.com/omsdev/oms/internal/binlog"
	"github.com/omsdev/oms/internal/clustertls"
	"github.com/omsdev/oms/internal/component"
	"github.com/omsdev/oms/internal/ddl"
	"github.com/omsdev/oms/internal/mysqlconn"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/selection"
)

// Config is the kind-specific part of an incr-sync component spec.
type Config struct {
	// StoreAddr is host:port of the Store that serves the change log.
	StoreAddr string `json:"store_addr"`
	// ConsumerID names this consumer at the Store (default "incr-<task_id>").
	ConsumerID string `json:"consumer_id,omitempty"`
	// Flavor of GTIDs: "mariadb" (default) or "mysql".
	Flavor string `json:"flavor,omitempty"`

	Target mysqlconn.Config `json:"target"`

	// Selection is the project's object selection (rename, filters, DML kinds).
	Selection selection.Config `json:"selection"`

	// StartGTID is where to start when the target holds no checkpoint for the task yet: the
	// position recorded before the full copy ("" = from the start of what the Store has).
	StartGTID string `json:"start_gtid,omitempty"`
	// StrictAfter is the GTID set at the end of the full copy: transactions contained in it are
	// applied idempotently (INSERT of an existing row replaces it, UPDATE/DELETE of a missing row
	// do not fail); later ones strictly (such a conflict stops the task naming table, key and
	// position). Empty: strict from the start. Set IdempotentAlways to never be strict.
	StrictAfter      string `json:"strict_after,omitempty"`
	IdempotentAlways bool   `json:"idempotent_always,omitempty"`

	// Workers is the number of parallel apply connections (default 4).
	Workers int `json:"workers,omitempty"`
	// MaxBatchRows caps the rows of one target transaction when merging source transactions
	// (default 2000). MaxBatchTxns caps the source transactions merged into one (default 1000).
	MaxBatchRows int `json:"max_batch_rows,omitempty"`
	MaxBatchTxns int `json:"max_batch_txns,omitempty"`
	// AtomicTxns keeps source transaction boundaries and the source's commit order: a target
	// transaction holds one or more CONSECUTIVE whole source transactions (up to the batch
	// limits) and target transactions commit in source order, so a reader on the target only
	// ever sees a state the source went through (sched_ordered.go). Required for two-way sync.
	AtomicTxns bool `json:"atomic_txns,omitempty"`
	// Window caps the source transactions read ahead and not yet applied (default 20000).
	Window int `json:"window,omitempty"`

	// SkipDDL drops every DDL instead of applying it (every class of DDLPolicy "skip").
	SkipDDL bool `json:"skip_ddl,omitempty"`
	// DDLPolicy says per class of DDL ("table", "index", "database", "view", "routine",
	// "trigger", "event", "sequence") whether to "apply", "skip" or "stop"; classes not named
	// keep DefaultDDLPolicy.
	DDLPolicy map[string]string `json:"ddl_policy,omitempty"`
	// SkipDDLGTIDs lists GTIDs of DDL statements to skip (the way to resume after an unsupported
	// DDL stopped the task: the error names the GTID).
	SkipDDLGTIDs []string `json:"skip_ddl_gtids,omitempty"`
	// SkipGTIDs lists source transactions (DDL or DML) never to apply: GTIDs or ranges of one
	// domain and server ("0-1-123", "0-1-120-130", "uuid:120-130"); the operator's
	// `oms project skip` writes it.
	SkipGTIDs []string `json:"skip_gtids,omitempty"`

	// CheckpointSchema is the target schema of oms's own tables (default "__oms").
	CheckpointSchema string `json:"checkpoint_schema,omitempty"`
	// RecordApplied also inserts every applied source GTID into <schema>.incr_applied (primary
	// key task, gtid) in the same transaction: a transaction applied twice fails loudly. For
	// tests and audits; costs a little throughput.
	RecordApplied bool `json:"record_applied,omitempty"`

	// TwoWay makes this task one direction of an active-active pair (twoway.go); nil = one-way.
	TwoWay *TwoWayConfig `json:"two_way,omitempty"`

	// RetryMax is how long retryable target errors are retried before the task fails
	// (default 10m).
	RetryMax component.Duration `json:"retry_max,omitempty"`
}

// targetOptions are the target sessions: UTC, no foreign key checks (the source checked them),
// strict SQL mode, and UPDATE reporting matched rows (clientFoundRows), which the strict mode
// relies on.
func targetOptions(workers int) mysqlconn.Options {
	return mysqlconn.Options{
		ClientFoundRows:  true,
		MaxAllowedPacket: 64 << 20,
		MaxOpen:          workers + 4,
		Params: map[string]string{
			"time_zone":          mysqlconn.TimeZoneUTC,
			"foreign_key_checks": "0",
			"sql_mode":           "'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
		},
	}
}

// SetDefaults fills the defaults (the consumer id from taskID); NewFromConfig calls it, and so
// does whoever needs the defaulted fields before (the CLI's Store opener).
func (c *Config) SetDefaults(taskID string) {
	if c.ConsumerID == "" {
		c.ConsumerID = clustertls.ConsumerID(taskID)
	}
	if c.Flavor == "" {
		c.Flavor = binlog.FlavorMariaDB
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxBatchRows <= 0 {
		c.MaxBatchRows = 2000
	}
	if c.MaxBatchTxns <= 0 {
		c.MaxBatchTxns = 1000
	}
	if c.Window <= 0 {
		c.Window = 20000
	}
	if c.CheckpointSchema == "" {
		c.CheckpointSchema = "__oms"
	}
	if c.RetryMax <= 0 {
		c.RetryMax = component.Duration(10 * time.Minute)
	}
	if c.TwoWay != nil {
		c.AtomicTxns = true // conflicts are detected and decided per source transaction, in order
	}
}

// parsed is what check derives from the config's text fields, so they are parsed once.
type parsed struct {
	sel         *selection.Selector
	start       binlog.GTIDSet // StartGTID
	strictAfter binlog.GTIDSet
	policy      ddl.Policy
	skips       *skipList
}

// check validates a defaulted config and returns its parsed fields; errors are
// INCR_CONFIG_INVALID naming the field.
func (c *Config) check() (parsed, error) {
	bad := func(field, msg string) (parsed, error) {
		return parsed{}, omserr.New(omserr.IncrConfigInvalid, "incr-sync config: "+field+": "+msg, "fix the field in the task's spec")
	}
	if c.StoreAddr == "" {
		return bad("store_addr", "is empty")
	}
	if c.Target.Host == "" || c.Target.Port == 0 || c.Target.User == "" {
		return bad("target", "needs host, port and user")
	}
	if err := c.Target.TLS.Check(); err != nil {
		return bad("target", err.Error())
	}
	var p parsed
	var err error
	if p.start, err = binlog.ParseGTIDSet(c.Flavor, c.StartGTID); err != nil {
		return bad("start_gtid", err.Error())
	}
	if p.strictAfter, err = binlog.ParseGTIDSet(c.Flavor, c.StrictAfter); err != nil {
		return bad("strict_after", err.Error())
	}
	if p.sel, err = selection.Compile(c.Selection); err != nil {
		return bad("selection", err.Error())
	}
	if p.skips, err = newSkipList(c.SkipDDLGTIDs, c.SkipGTIDs); err != nil {
		return bad("skip_gtids", err.Error())
	}
	if p.policy, err = ddl.CompilePolicy(c.DDLPolicy, c.SkipDDL); err != nil {
		return bad("ddl_policy", err.Error())
	}
	if c.TwoWay != nil {
		if err := c.TwoWay.check(); err != nil {
			return parsed{}, err
		}
	}
	if c.Workers > 64 {
		return bad("workers", "at most 64")
	}
	return p, nil
}

// Package changelog defines the unified change record that flows from the Store (log capture) to
// its consumers (Incr-Sync, two-way sync): one transaction at a time, with its source GTID,
// commit time, row images with column names and types, DDL and heartbeats.
//
// It is a plain data package: no I/O and no go-mysql import, so data-plane packages on both sides
// of the network depend on it and on nothing of each other. The wire/segment encoding lives in
// the Store; consumers get these values from the Store's client.
package changelog

import (
	"fmt"
	"time"
)

// Op is the kind of a row change.
type Op uint8

const (
	OpInsert Op = 1
	OpUpdate Op = 2
	OpDelete Op = 3
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "INSERT"
	case OpUpdate:
		return "UPDATE"
	case OpDelete:
		return "DELETE"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// ParseOp reads "INSERT", "UPDATE" or "DELETE" (as in a project's DML filter).
func ParseOp(s string) (Op, error) {
	switch s {
	case "INSERT", "insert":
		return OpInsert, nil
	case "UPDATE", "update":
		return OpUpdate, nil
	case "DELETE", "delete":
		return OpDelete, nil
	}
	return 0, fmt.Errorf("unknown DML type %q: use INSERT, UPDATE or DELETE", s)
}

// Column describes one column of a table as it was at the record's binlog position.
type Column struct {
	Name string `json:"name"`
	// Type is the column type as SHOW CREATE TABLE prints it, e.g. "int(10) unsigned",
	// "decimal(10,2)", "varchar(64)", "datetime(6)", "enum('a','b')".
	Type     string `json:"type"`
	Unsigned bool   `json:"unsigned,omitempty"`
	Nullable bool   `json:"nullable,omitempty"`
	Charset  string `json:"charset,omitempty"` // empty for non-text columns
}

// Table is a table's schema at a position: columns in ordinal order and its keys as column
// indexes. Incr-Sync uses the keys for conflict detection and WHERE clauses.
type Table struct {
	DB         string   `json:"db"`
	Name       string   `json:"name"`
	Columns    []Column `json:"columns"`
	PrimaryKey []int    `json:"pk,omitempty"`
	UniqueKeys [][]int  `json:"uks,omitempty"` // NOT NULL-or-not unique keys other than the PK
}

// Row is one row change. Values follow the column order of Table and use these Go types:
//
//	nil                         SQL NULL
//	int64 / uint64              integer types (uint64 for UNSIGNED), YEAR
//	float32 / float64           FLOAT / DOUBLE
//	string                      DECIMAL (exact text), DATE/DATETIME/TIMESTAMP/TIME (text,
//	                            'YYYY-MM-DD HH:MM:SS[.ffffff]'), JSON (text), ENUM/SET (text labels)
//	[]byte                      CHAR/VARCHAR/TEXT/BINARY/BLOB (raw bytes in the column charset)
//	uint64 for BIT              bit value
//
// Before is set for UPDATE and DELETE, After for INSERT and UPDATE.
type Row struct {
	Table  *Table `json:"table"`
	Op     Op     `json:"op"`
	Before []any  `json:"before,omitempty"`
	After  []any  `json:"after,omitempty"`
}

// DDL is a schema change as executed on the source.
type DDL struct {
	DB        string `json:"db"` // default database of the statement
	Statement string `json:"sql"`
	// Tables are the tables the statement changes as "db.table" ("db." for a whole database),
	// when the Store could tell; empty = unknown (treat as touching DB).
	Tables []string `json:"tables,omitempty"`
	// Session is the source session's context the statement ran in (nil when the binlog did
	// not say): the target runs it in the same context so defaults resolve the same.
	Session *Session `json:"session,omitempty"`
}

// Session is what a binlog Query event records of the session that ran a statement.
type Session struct {
	HasSQLMode bool   `json:"has_sql_mode,omitempty"`
	SQLMode    uint64 `json:"sql_mode,omitempty"` // the server's sql_mode bit set
	// ClientCharset, ConnectionCollation and ServerCollation are collation ids
	// (character_set_client, collation_connection, collation_server); 0 = not logged.
	ClientCharset       uint16 `json:"client_charset,omitempty"`
	ConnectionCollation uint16 `json:"connection_collation,omitempty"`
	ServerCollation     uint16 `json:"server_collation,omitempty"`
	TimeZone            string `json:"time_zone,omitempty"` // "" = not logged (the server's default)
	HasFlags            bool   `json:"has_flags,omitempty"`
	FKChecks            bool   `json:"fk_checks,omitempty"` // foreign_key_checks, when HasFlags
	// HasExplicitDefaults says ExplicitDefaults is known: explicit_defaults_for_timestamp, which
	// decides what a TIMESTAMP column without NULL or DEFAULT becomes (MariaDB logs it).
	HasExplicitDefaults bool `json:"has_explicit_defaults,omitempty"`
	ExplicitDefaults    bool `json:"explicit_defaults,omitempty"`
	// Timestamp is the statement's start time on the source in Unix microseconds (0: not
	// known): what CURRENT_TIMESTAMP defaults and system versioning give existing rows.
	Timestamp int64 `json:"timestamp,omitempty"`
}

// Txn is one source transaction (or a DDL, or a heartbeat), the unit of transfer and of
// checkpoints: a checkpoint always names a whole Txn.
type Txn struct {
	// GTID of the transaction, e.g. "0-1-42" (MariaDB) or "uuid:42" (MySQL).
	GTID string `json:"gtid"`
	// ServerID of the server that originally wrote it.
	ServerID uint32 `json:"server_id"`
	// CommitTime is the source commit timestamp (binlog event header, second precision).
	CommitTime time.Time `json:"commit_time"`
	// File and Pos are the binlog coordinates just after the transaction's end (its XID/COMMIT).
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	// Seq is the Store's own ordinal of the transaction in its log (gap-free, from 1); consumers may
	// use it for progress, but checkpoints are GTID sets so they survive a Store rebuild.
	Seq uint64 `json:"seq"`

	Rows      []Row `json:"rows,omitempty"`
	DDL       *DDL  `json:"ddl,omitempty"`
	Heartbeat bool  `json:"heartbeat,omitempty"`
	// Received is when this process received the transaction (a consumer: from the Store's
	// stream), where its latency in the process starts; not part of the record.
	Received time.Time `json:"-"`
}

// IsDDL reports whether the transaction is a schema change.
func (t *Txn) IsDDL() bool { return t.DDL != nil }

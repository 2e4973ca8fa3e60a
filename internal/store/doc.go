// Package store is OMS's log-capture component (the Store). It connects to a source database as a
// replica (through internal/binlog), decodes its binlog into changelog.Txn records, appends them
// to CRC-checked, fsync'd segment files it owns under its work directory, applies retention, and
// serves the records to consumers (Incr-Sync) over HTTP streaming in large compressed frames.
//
// Consumers use Dial/Reader (client.go); the wire protocol and the segment format are described
// in docs/store.md.
package store

// Package incrsync is the Incr-Sync component: it reads change records (changelog.Txn) from a
// Store over the network, starting at its checkpoint, applies the project's object selection
// (database/table filter, rename mapping, DML kinds, row filter, column subset) and writes the
// changes to a MySQL/MariaDB target, exactly once and in parallel.
//
// It talks to two things: a Store (through the small TxnSource interface; the CLI's
// component_incr_sync.go adapts internal/store's client) and the target database
// (database/sql). It owns the checkpoint schema on the target (`__oms` by default): tables
// incr_checkpoint, incr_fence and, with record_applied, incr_applied.
//
// Pipeline (house rule 12), each stage a goroutine of one errgroup:
//
//	read      Store -> TxnSource.Next -> selection/mapping (mapping.go) -> scheduler.add
//	schedule  conflict keys (PK and every UK, table-qualified) -> dependency graph (sched.go)
//	apply     N workers: take a batch of ready transactions (merging when behind), compact per
//	          key, write multi-row statements plus the worker's checkpoint row in ONE target
//	          transaction guarded by the task's fencing epoch (apply.go, checkpoint.go)
//
// Exactly once: every target transaction writes the worker's checkpoint row, which holds the
// global low watermark (a GTID set: every source transaction in it is applied) and the GTIDs
// above the watermark this worker has applied. A restart resumes the Store from the highest
// watermark and skips the listed GTIDs, so nothing is skipped or applied twice. Checkpoints only
// name whole source transactions.
//
// With atomic_txns (two-way sync too) batches are runs of consecutive source transactions and
// commit in source order, so a reader on the target only sees states the source went through
// (sched_ordered.go).
//
// DDL is a barrier: it waits for everything before it, runs alone, and everything after it waits
// for it (ddl.go). Tables without a primary or unique key are applied row by row in order,
// matching the full before-image with LIMIT 1.
package incrsync

// Package metrics is the one home of oms's metric names and of a node's monitoring plumbing: the
// names every exported series uses (oms_<component>_<what>_<unit>, labels project, task, region,
// host), the mapping from a component's Status figures to series, the flattening of a Prometheus
// gather into points (for InfluxDB and the in-memory window), and the recent window the console
// draws its charts from when no time-series database is configured.
//
// It imports no oms package: data-plane components, the supervisor and the console all use it.
package metrics

// Label names.
const (
	LabelProject  = "project"
	LabelTask     = "task"
	LabelRegion   = "region"
	LabelHost     = "host"
	LabelTable    = "table" // db.table of a DML/DDL count
	LabelOp       = "op"    // insert, update, delete, ddl
	LabelClass    = "class" // retryable, fatal
	LabelRule     = "rule"
	LabelSink     = "sink"
	LabelKind     = "kind"     // component kind on oms_component_* series; conflict kind on oms_incr_sync_conflicts_total
	LabelDecision = "decision" // keep_target, take_source, stop (two-way conflicts)
	LabelHop      = "hop"      // a step of a transaction's way from the source to the target (Hop* values)
)

// Hop label values of oms_store_hop_seconds and oms_incr_sync_hop_seconds: the time a transaction
// spends in each step, so a lag can be broken down by where it goes.
const (
	HopDurable = "durable" // Store: read from the source's binlog -> its segment write is fsync'd
	HopSent    = "sent"    // Store: durable -> written and flushed to a consumer's stream
	HopRead    = "read"    // Incr-Sync: received from the Store -> mapped and added to the scheduler
	HopWait    = "wait"    // Incr-Sync: scheduled -> taken by a worker (dependencies, busy workers)
	HopApply   = "apply"   // Incr-Sync: taken -> its batch committed on the target
)

// Op label values of the per-table change counters.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
	OpDDL    = "ddl"
)

// Error classes.
const (
	ClassRetryable = "retryable"
	ClassFatal     = "fatal"
)

// Store (binlog capture).
const (
	StoreRowsTotal                = "oms_store_rows_total"
	StoreBytesTotal               = "oms_store_bytes_total"
	StoreTxnsTotal                = "oms_store_txns_total"
	StoreLagSeconds               = "oms_store_lag_seconds"
	StoreDiskBytes                = "oms_store_disk_bytes"
	StoreRetentionHeadroomSeconds = "oms_store_retention_headroom_seconds"
	StoreConsumerStreams          = "oms_store_consumer_streams"
	StoreSentBytesTotal           = "oms_store_sent_bytes_total"
	StoreFilteredRowsTotal        = "oms_store_filtered_rows_total"
	StoreRetentionForcedTotal     = "oms_store_retention_forced_total"
	StoreEchoDroppedTotal         = "oms_store_echo_dropped_total" // two-way: transactions applied by the opposite direction, dropped
	StoreWriteSeconds             = "oms_store_write_seconds"      // histogram per group write of the log (write + fsync)
	StoreHopSeconds               = "oms_store_hop_seconds"        // histogram {hop}: durable, sent
)

// Incr-Sync (apply).
const (
	IncrLagSeconds           = "oms_incr_sync_lag_seconds" // end-to-end, from the Store's heartbeat when idle
	IncrCheckpointAgeSeconds = "oms_incr_sync_checkpoint_age_seconds"
	IncrRowsTotal            = "oms_incr_sync_rows_total"
	IncrReceivedBytesTotal   = "oms_incr_sync_received_bytes_total" // from the Store, as sent (compressed): what crosses the WAN
	IncrReadBytesTotal       = "oms_incr_sync_read_bytes_total"     // change records decoded from the stream
	IncrTxnsTotal            = "oms_incr_sync_txns_total"
	IncrCommitsTotal         = "oms_incr_sync_commits_total"
	IncrOrderYieldsTotal     = "oms_incr_sync_commit_order_yields_total" // atomic_txns: groups rolled back for the head group
	IncrQueueDepthTxns       = "oms_incr_sync_queue_depth_txns"
	IncrApplyLatencySeconds  = "oms_incr_sync_apply_latency_seconds" // histogram per target commit
	IncrErrorsTotal          = "oms_incr_sync_errors_total"          // {class}
	IncrChangesTotal         = "oms_incr_sync_changes_total"         // {table, op}: applied DML rows and DDL statements
	IncrConflictsTotal       = "oms_incr_sync_conflicts_total"       // {kind, decision}: two-way conflicts
	IncrHopSeconds           = "oms_incr_sync_hop_seconds"           // histogram {hop}: read, wait, apply per source transaction
)

// Full import and verification.
const (
	FullImportRowsTotal    = "oms_full_import_rows_total"
	FullImportBytesTotal   = "oms_full_import_bytes_total"
	FullImportChunksDone   = "oms_full_import_chunks_done"
	FullImportChunksTotal  = "oms_full_import_chunks"
	FullImportFailedTables = "oms_full_import_failed_objects"
	VerifyRowsTotal        = "oms_full_verify_rows_total"
	VerifyDifferencesRows  = "oms_full_verify_differences_rows"
	VerifyChunksDone       = "oms_full_verify_chunks_done"
)

// Every component (labels task plus the node's).
const (
	ComponentUp       = "oms_component_up" // 1 while its status server answers
	ComponentRestarts = "oms_component_restarts"
)

// Host and node.
const (
	HostCPUPercent        = "oms_host_cpu_percent"
	HostMemoryUsedBytes   = "oms_host_memory_used_bytes"
	HostMemoryTotalBytes  = "oms_host_memory_total_bytes"
	HostDiskUsedBytes     = "oms_host_disk_used_bytes"
	HostDiskTotalBytes    = "oms_host_disk_total_bytes"
	TSDBPointsTotal       = "oms_tsdb_points_written_total"
	TSDBDroppedTotal      = "oms_tsdb_points_dropped_total"
	TSDBWriteErrorsTotal  = "oms_tsdb_write_errors_total"
	TSDBBufferedPoints    = "oms_tsdb_buffered_points"
	AuditWriteFailures    = "oms_audit_write_failures_total"
	AuditSinkRecordsTotal = "oms_audit_sink_records_total"
	AuditSinkFailures     = "oms_audit_sink_failures_total"
	AuditSinkBacklog      = "oms_audit_sink_backlog_records"
	AlertFiring           = "oms_alert_firing"
	AlertNotifications    = "oms_alert_notifications_total"
)

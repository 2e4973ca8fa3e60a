package metrics

import "strings"

// Series is how one figure of a component's Status is exported.
type Series struct {
	Name    string
	Counter bool // else a gauge
	Help    string
}

// statusSeries maps, per component kind, a Status.Metrics key to its series. Keys not listed
// are exported as gauges named oms_<kind>_<key> (see StatusSeries), so no figure is lost.
var statusSeries = map[string]map[string]Series{
	"store": {
		"rows_total":         {StoreRowsTotal, true, "row changes captured from the source binlog"},
		"bytes_total":        {StoreBytesTotal, true, "bytes of captured changes written to segments"},
		"txns_total":         {StoreTxnsTotal, true, "source transactions captured"},
		"segment_disk_bytes": {StoreDiskBytes, false, "disk used by the Store's segments"},
		"retention_headroom_seconds": {StoreRetentionHeadroomSeconds, false,
			"time left before the oldest consumer's position reaches the hard retention maximum"},
		"consumer_streams":       {StoreConsumerStreams, false, "consumers streaming from the Store"},
		"sent_bytes_total":       {StoreSentBytesTotal, true, "bytes sent to consumers"},
		"filtered_rows_total":    {StoreFilteredRowsTotal, true, "rows consumers' selections kept from being sent"},
		"retention_forced_total": {StoreRetentionForcedTotal, true, "segments removed past the hard maximum before consumers read them"},
		"echo_dropped_total":     {StoreEchoDroppedTotal, true, "two-way sync: transactions the opposite direction applied (echoes), captured without their changes"},
	},
	"incr-sync": {
		"applied_rows_total":   {IncrRowsTotal, true, "rows applied to the target"},
		"received_bytes_total": {IncrReceivedBytesTotal, true, "bytes received from the Store, as sent (compressed)"},
		"read_bytes_total":     {IncrReadBytesTotal, true, "bytes of change records read from the Store's stream"},
		"applied_txns_total":   {IncrTxnsTotal, true, "source transactions applied to the target"},
		"target_commits_total": {IncrCommitsTotal, true, "target transactions committed"},
		"commit_order_yields_total": {IncrOrderYieldsTotal, true,
			"atomic_txns: target transactions rolled back while waiting for their commit turn, so the head one could take their locks"},
		"inflight_txns":          {IncrQueueDepthTxns, false, "transactions read and not yet applied"},
		"checkpoint_age_seconds": {IncrCheckpointAgeSeconds, false, "age of the newest source commit covered by the checkpoint"},
	},
	"full-import": {
		"rows_total":     {FullImportRowsTotal, true, "rows copied"},
		"bytes_total":    {FullImportBytesTotal, true, "bytes copied"},
		"chunks_done":    {FullImportChunksDone, false, "chunks copied"},
		"chunks_total":   {FullImportChunksTotal, false, "chunks planned"},
		"objects_failed": {FullImportFailedTables, false, "tables that failed or were refused"},
	},
	"full-verify": {
		"rows_compared":  {VerifyRowsTotal, true, "rows compared"},
		"chunks_done":    {VerifyChunksDone, false, "chunks compared"},
		"candidate_rows": {VerifyDifferencesRows, false, "rows that differ (candidates until re-checked, then the result)"},
	},
}

// skipStatus are Status.Metrics keys that are derived rates or timestamps: Prometheus and
// InfluxDB compute rates from the counters.
var skipStatus = map[string]bool{"rows_per_sec": true, "txns_per_sec": true, "eta_seconds": true, "source_time": true, "captured_commit_time": true}

// StatusSeries returns how key of a kind's Status.Metrics is exported; ok is false for a figure
// that is not exported (a rate derived from a counter).
func StatusSeries(kind, key string) (Series, bool) {
	if s, ok := statusSeries[kind][key]; ok {
		return s, true
	}
	if skipStatus[key] {
		return Series{}, false
	}
	return Series{Name: Prefix(kind) + "_" + sanitize(key), Help: kind + " status figure " + key}, true
}

// LagSeries is the series of a component's Status.LagSeconds.
func LagSeries(kind string) Series {
	if kind == "incr-sync" {
		return Series{Name: IncrLagSeconds, Help: "end-to-end lag: now minus the source commit time of what is applied (the Store's heartbeat when idle)"}
	}
	return Series{Name: Prefix(kind) + "_lag_seconds", Help: "now minus the source commit time of what is processed"}
}

// Prefix is oms_<kind> with the kind's dashes as underscores.
func Prefix(kind string) string { return "oms_" + sanitize(kind) }

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

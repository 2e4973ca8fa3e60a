#!/bin/bash
# incr_apply.sh - apply speed of oms Incr-Sync vs MariaDB native parallel replication, both
# applying the SAME binlog backlog to identical targets, in the same run.
#
#   bench/incr_apply.sh
#   DURATION=20 WORKLOADS=oltp_insert bench/incr_apply.sh          # quick debug run
#   OMS_ATOMIC=1 bench/incr_apply.sh      # oms keeps source transaction boundaries and commit order too
#   MONITOR=1 bench/incr_apply.sh         # with monitoring on: while incr-sync applies, a node's
#                                         # monitoring path (`oms metrics-relay`) scrapes its /metrics
#                                         # every second (10x a node's rate) into a real influxd
#   OMS_BENCH_TLS=1 bench/incr_apply.sh   # also with the Store stream, acks and status on cluster
#                                         # mutual TLS: each workload runs twice, plain then TLS
#                                         # (a second Store, on TLS, captures the same source), and
#                                         # the TLS cost is printed as a ratio to the plain run
#   TABLES=8 ROWS=250000 DURATION=60 THREADS=8 NATIVE_THREADS=4 OMS_WORKERS=4 bench/incr_apply.sh
#
# Instances (baselines' lib.sh, durable settings: sync_binlog=1, innodb_flush_log_at_trx_commit=1,
# binlog on, log_slave_updates on), all under $BENCH_ROOT (default /tmp/omsbench-incr, wiped at
# start):
#   SRC  (13326) source, sysbench prepare TABLES x ROWS
#   REPL (13328) native replica of SRC (GTID auto-position)
#   TGT  (13329) first a replica of SRC too; once caught up STOP SLAVE; RESET SLAVE ALL, so it is a
#                standalone target holding exactly the same rows (its own binlog stays on)
# The oms Store (`oms component store`) is started at the source's GTID position right after the
# prepare, BEFORE any workload, so it captures the backlog as it is written (like production).
#
# Per workload in WORKLOADS:
#   1. REPL: STOP SLAVE; slave_parallel_threads=NATIVE_THREADS, optimistic; START SLAVE IO_THREAD
#      (the IO thread keeps fetching, nothing is applied).
#   2. sysbench WORKLOAD, THREADS threads, DURATION s on SRC. Recorded: last source GTID g1,
#      transactions (GTID seq difference), rows changed (source Handler_write+update+delete).
#   3. Wait until REPL's IO thread has g1 and the Store's /status position covers g1.
#   4. native: START SLAVE SQL_THREAD on REPL, timed until MASTER_GTID_WAIT(g1).
#   5. oms: `oms component incr-sync` against TGT reading from the Store, timed from process start
#      until its /status position covers g1, then SIGTERM. The first workload starts at the GTID
#      where the Store started (start_gtid); later ones resume from the task's checkpoint in TGT
#      (same task_id).
#   Printed per workload: seconds, rows/s and trx/s of both, ratio oms/native, and oms (and native)
#   rows/s vs the source's live rate during sysbench (rows / DURATION): > 1 means it keeps up.
# Finally CHECKSUM TABLE sbtest.sbtestN on REPL and TGT must match (the script fails otherwise).
# One line per workload is appended to bench/results/incr_apply.tsv; logs (sysbench, store,
# incr-sync component logs, final statuses) stay under $BENCH_ROOT and $RESULTS_DIR/incr_logs.
#
# Fairness notes: both appliers run one after the other (never concurrently) on the same 2-core
# machine; before each the source's (and for oms the replica's) dirty pages are flushed so
# neither pays for background flushing of the other's writes. The native time starts at
# START SLAVE SQL_THREAD (relay log already local); the oms time starts at process start
# (includes connecting, checkpoint setup, reading from the Store over TCP).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-incr}
export RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
. "$HERE/baselines.sh"
. "$HERE/omslib.sh"

SRC=${SRC:-13326}
REPL=${REPL:-13328}
TGT=${TGT:-13329}
TABLES=${TABLES:-8}
ROWS=${ROWS:-250000}
DURATION=${DURATION:-60}
THREADS=${THREADS:-8}
WORKLOADS=${WORKLOADS:-"oltp_write_only oltp_insert"}
NATIVE_THREADS=${NATIVE_THREADS:-4}   # slave_parallel_threads of the native replica
OMS_WORKERS=${OMS_WORKERS:-4}         # incr-sync "workers"
OMS_ATOMIC=${OMS_ATOMIC:-0}           # 1: incr-sync "atomic_txns" (whole source txns committed in
                                      # source order, like the native replica; default merges
                                      # source txns and commits in any order that keeps each key's)
APPLY_TIMEOUT=${APPLY_TIMEOUT:-3600}  # s, per applier and workload
MONITOR=${MONITOR:-0}                 # 1: scrape incr-sync into InfluxDB while it applies (see top)
INFLUX_PORT=${INFLUX_PORT:-13386}
KEEP=${KEEP:-0}                       # KEEP=1 leaves the instances running at exit
TASK=bench
SWORK=$BENCH_ROOT/store-work
IWORK=$BENCH_ROOT/incr-work
LOGS=$RESULTS_DIR/incr_logs

STORE_PID= STORE_TLS_PID= INCR_PID= RELAY_PID= INFLUX_PID=
on_exit "$SRC" "$REPL" "$TGT"   # store, incr-sync, relay, influxd and the instances stop at the end

rows_changed() { q "$1" "SELECT SUM(variable_value) FROM information_schema.global_status
    WHERE variable_name IN ('HANDLER_WRITE','HANDLER_UPDATE','HANDLER_DELETE')"; }
io_pos() { mc "$1" -e "SHOW SLAVE STATUS\G" | awk '/Gtid_IO_Pos:/{print $2}'; }
# OMS_BENCH_TLS=1: a second pair (Store in $SWORK_TLS, Incr-Sync in $IWORK_TLS, the same task, so
# it resumes from the checkpoint the plain run left in TGT) with the Store stream, acks and status
# ports on mutual TLS with cluster certificates (bench/tlsgen), as a supervisor runs them;
# statuses polled with a node certificate. A work dir holding a file .tls is polled over TLS.
TLS_STORE=""; TLS_INCR=""
SWORK_TLS=$BENCH_ROOT/store-work-tls
IWORK_TLS=$BENCH_ROOT/incr-work-tls
MODES=plain
tls_setup() {
    [ "${OMS_BENCH_TLS:-0}" = 1 ] || return 0
    MODES="plain tls"
    (cd "$ROOT" && go run ./bench/tlsgen "$BENCH_ROOT/tls" node:127.0.0.1 "task:$TASK-store" "task:$TASK")
    local S=$BENCH_ROOT/tls/task-$TASK-store I=$BENCH_ROOT/tls/task-$TASK N=$BENCH_ROOT/tls/node-127.0.0.1
    TLS_STORE=",\"tls\":{\"cert\":\"$S/cert.pem\",\"key\":\"$S/key.pem\",\"ca\":\"$S/ca.pem\"}"
    TLS_INCR=",\"tls\":{\"cert\":\"$I/cert.pem\",\"key\":\"$I/key.pem\",\"ca\":\"$I/ca.pem\"}"
    CURL_TLS=(--cacert "$N/ca.pem" --cert "$N/cert.pem" --key "$N/key.pem")
}
pid_cpu() { awk '{printf "%.1f", ($14+$15)/'"$CLK_TCK"'}' "/proc/$1/stat" 2>/dev/null || echo 0; }
set_durability() {  # set_durability SB FLUSH PORT...
    local sb=$1 fl=$2 p; shift 2
    for p in "$@"; do q "$p" "SET GLOBAL sync_binlog=$sb, GLOBAL innodb_flush_log_at_trx_commit=$fl"; done
}

# --- setup ------------------------------------------------------------------------------------
mdb_wipe
mkdir -p "$BENCH_ROOT" "$LOGS"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain -- internal cmd 2>/dev/null | wc -l)
log "building oms (rev $REV, $DIRTY modified Go paths in the work tree)"
(cd "$ROOT" && go build -o "$OMS" ./cmd/oms)

mdb_start "$SRC" "$REPL" "$TGT"
# Prepare and the initial catch-up are not measured: relaxed durability to get there faster.
set_durability 0 2 "$SRC" "$REPL" "$TGT"
q "$SRC" "SET GLOBAL binlog_row_metadata=FULL"   # the Store refuses a source without it
prepare_sbtest "$SRC" "$TABLES" "$ROWS" > /dev/null
q "$REPL" "SET GLOBAL slave_parallel_threads=4"
q "$TGT" "SET GLOBAL slave_parallel_threads=4; SET GLOBAL gtid_slave_pos='';
          CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC, MASTER_USER='$MDB_USER',
            MASTER_PASSWORD='$MDB_PASS', MASTER_USE_GTID=slave_pos; START SLAVE;"
setup_replica "$SRC" "$REPL"
setup_replica "$SRC" "$TGT"   # already configured and running above: just waits for catch-up
q "$TGT" "STOP SLAVE; RESET SLAVE ALL"
set_durability 1 1 "$SRC" "$REPL" "$TGT"
G_START=$(binlog_gtid "$SRC")
[ "$(q "$TGT" "SELECT @@gtid_current_pos")" = "$G_START" ] || log "note: TGT gtid_current_pos $(q "$TGT" "SELECT @@gtid_current_pos") vs source $G_START"
log "TGT is standalone with the source's data at $G_START"

if [ "$MONITOR" = 1 ]; then
    command -v influxd >/dev/null || die "MONITOR=1 needs influxd (Debian package influxdb)"
    mkdir -p "$BENCH_ROOT/influx"
    cat > "$BENCH_ROOT/influx/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 1))"
[meta]
  dir = "$BENCH_ROOT/influx/meta"
[data]
  dir = "$BENCH_ROOT/influx/data"
  wal-dir = "$BENCH_ROOT/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
CONF
    influxd -config "$BENCH_ROOT/influx/influxdb.conf" > "$BENCH_ROOT/influx/influxd.log" 2>&1 &
    INFLUX_PID=$!
    for _ in $(seq 1 300); do curl -s "http://127.0.0.1:$INFLUX_PORT/ping" >/dev/null && break; sleep 0.1; done
    log "influxd up on $INFLUX_PORT (monitoring on)"
fi

# --- store ------------------------------------------------------------------------------------
tls_setup
# start_store DIR TLS_SPEC: a Store capturing from G_START; sets STARTED_PID and STARTED_ADDR.
start_store() {
    local dir=$1 tls=$2
    mkdir -p "$dir"
    if [ -n "$tls" ]; then touch "$dir/.tls"; fi
    cat > "$dir/spec.json" <<SPEC
{"kind":"store","task_id":"$TASK-store","epoch":1,"status_addr":"127.0.0.1:0","work_dir":"$dir"$tls,
 "config":{"source":{"host":"127.0.0.1","port":$SRC,"user":"$MDB_USER","password":"$MDB_PASS"},
           "start":{"gtid_set":"$G_START"},"listen":"127.0.0.1:0"}}
SPEC
    "$OMS" component store --spec "$dir/spec.json" 2> "$dir/component.log" &
    STARTED_PID=$!
    for _ in $(seq 1 3000); do [ -f "$dir/store.addr" ] && [ -f "$dir/status.addr" ] && break
        kill -0 "$STARTED_PID" 2>/dev/null || { tail -20 "$dir/component.log"; die "store exited"; }; sleep 0.02; done
    [ -f "$dir/store.addr" ] || { tail -20 "$dir/component.log"; die "store did not write store.addr"; }
    STARTED_ADDR=$(cat "$dir/store.addr")
    for _ in $(seq 1 500); do [ "$(jget "$(status_of "$dir")" state)" = RUNNING ] && break; sleep 0.02; done
    log "store ($dir) up at $STARTED_ADDR from $G_START (status $(jget "$(status_of "$dir")" state))"
}
# incr_spec DIR STORE_ADDR TLS_SPEC: the Incr-Sync's spec (the same task in both modes).
incr_spec() {
    local dir=$1 addr=$2 tls=$3
    mkdir -p "$dir"
    if [ -n "$tls" ]; then touch "$dir/.tls"; fi
    cat > "$dir/spec.json" <<SPEC
{"kind":"incr-sync","task_id":"$TASK","epoch":1,"status_addr":"127.0.0.1:0","work_dir":"$dir"$tls,
 "config":{"store_addr":"$addr",
           "target":{"host":"127.0.0.1","port":$TGT,"user":"$MDB_USER","password":"$MDB_PASS"},
           "selection":{"tables":[{"db":"sbtest"}]},
           "start_gtid":"$G_START","workers":$OMS_WORKERS$([ "$OMS_ATOMIC" = 1 ] && echo ',"atomic_txns":true')}}
SPEC
}
start_store "$SWORK" ""
STORE_PID=$STARTED_PID
incr_spec "$IWORK" "$STARTED_ADDR" ""
if [ "${OMS_BENCH_TLS:-0}" = 1 ]; then
    start_store "$SWORK_TLS" "$TLS_STORE"
    STORE_TLS_PID=$STARTED_PID
    incr_spec "$IWORK_TLS" "$STARTED_ADDR" "$TLS_INCR"
fi

# --- per workload -----------------------------------------------------------------------------
declare -a TABLE_LINES=()
declare -A OMS_RPS_OF=() RATIO_OF=()
one_workload() {
    local wl=$1 mode=${2:-plain} sw=$SWORK iw=$IWORK spid=$STORE_PID
    if [ "$mode" = tls ]; then sw=$SWORK_TLS; iw=$IWORK_TLS; spid=$STORE_TLS_PID; fi
    wait_gtid "$REPL" "$(binlog_gtid "$SRC")"
    flush_dirty "$SRC"; flush_dirty "$REPL"; flush_dirty "$TGT"
    q "$REPL" "STOP SLAVE; SET GLOBAL slave_parallel_threads=$NATIVE_THREADS;
               SET GLOBAL slave_parallel_mode='optimistic'; START SLAVE IO_THREAD"

    local g0 r0 g1 r1 slog=$LOGS/sysbench_$wl.log
    g0=$(binlog_gtid "$SRC"); r0=$(rows_changed "$SRC")
    log "$wl: sysbench $THREADS threads x $DURATION s on the source (from $g0)"
    # shellcheck disable=SC2046
    sysbench "$wl" $(sysbench_common "$SRC") --tables="$TABLES" --table-size="$ROWS" \
        --threads="$THREADS" --time="$DURATION" --report-interval=10 run > "$slog" 2>&1 \
        || { tail -20 "$slog"; die "sysbench $wl failed"; }
    g1=$(binlog_gtid "$SRC"); r1=$(rows_changed "$SRC")
    local trx=$(( $(gtid_seq "$g1") - $(gtid_seq "$g0") )) rows=$((r1 - r0))
    local src_tps; src_tps=$(awk '/transactions:/{gsub(/[(]/,"",$3); print $3}' "$slog")
    log "$wl: backlog $trx transactions, $rows rows, last GTID $g1"

    local i pos
    for i in $(seq 1 1200); do [ "$(io_pos "$REPL")" = "$g1" ] && break; sleep 0.5; done
    [ "$(io_pos "$REPL")" = "$g1" ] || die "REPL IO thread did not reach $g1"
    for i in $(seq 1 1200); do
        kill -0 "$spid" 2>/dev/null || { tail -20 "$sw/component.log"; die "store exited"; }
        pos=$(jget "$(status_of "$sw")" position)
        covers "$pos" "$g1" && break; sleep 0.5
    done
    covers "$pos" "$g1" || { tail -20 "$sw/component.log"; die "store position $pos does not cover $g1"; }
    log "$wl: REPL IO thread and store ($mode) have $g1"

    # --- native ---
    flush_dirty "$SRC"
    local t0 t1 n_secs
    res_begin "$REPL"
    t0=$(now)
    q "$REPL" "START SLAVE SQL_THREAD"
    wait_gtid "$REPL" "$g1" "$APPLY_TIMEOUT"
    t1=$(now); n_secs=$(echo "$t1 - $t0" | bc)
    local n_res; n_res=$(res_end "$REPL")
    q "$REPL" "START SLAVE" 2>/dev/null || true
    log "$wl: native ($NATIVE_THREADS parallel threads) applied in $n_secs s ($n_res)"

    # --- oms ---
    flush_dirty "$REPL"
    local ilog=$iw/component_$wl.log st state o_secs o_cpu
    rm -f "$iw/status.addr"
    res_begin "$TGT"
    t0=$(now)
    "$OMS" component incr-sync --spec "$iw/spec.json" 2> "$ilog" &
    INCR_PID=$!
    while :; do
        if ! kill -0 "$INCR_PID" 2>/dev/null; then
            tail -30 "$ilog"; wait "$INCR_PID" 2>/dev/null || true; INCR_PID=; die "incr-sync exited during $wl"
        fi
        if [ -f "$iw/status.addr" ]; then
            if [ "$MONITOR" = 1 ] && [ -z "$RELAY_PID" ]; then
                "$OMS" metrics-relay --scrape "$(cat "$iw/status.addr")" --tsdb-url "127.0.0.1:$INFLUX_PORT" --interval 1s 2> "$iw/relay_$wl.log" &
                RELAY_PID=$!
            fi
            st=$(status_of "$iw" || true)
            pos=$(jget "$st" position); state=$(jget "$st" state)
            covers "$pos" "$g1" && break
            [ "$state" = FAILED ] && { echo "$st"; tail -30 "$ilog"; die "incr-sync FAILED during $wl"; }
        fi
        [ "$(echo "$(now) - $t0 > $APPLY_TIMEOUT" | bc)" = 1 ] && { echo "$st"; die "incr-sync did not reach $g1 in $APPLY_TIMEOUT s"; }
        sleep 0.05
    done
    t1=$(now); o_secs=$(echo "$t1 - $t0" | bc)
    local o_res; o_res=$(res_end "$TGT")
    o_cpu=$(pid_cpu "$INCR_PID")
    st=$(status_of "$iw")
    echo "$st" > "$LOGS/incr_status_${wl}_$mode.json"
    kill "$INCR_PID"; wait "$INCR_PID" 2>/dev/null || true; INCR_PID=
    if [ -n "$RELAY_PID" ]; then kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true; RELAY_PID=; fi
    cp "$ilog" "$LOGS/" 2>/dev/null || true
    local a_rows a_txns commits
    a_rows=$(jget "$st" applied_rows_total | awk '{printf "%d", $1}')
    a_txns=$(jget "$st" applied_txns_total | awk '{printf "%d", $1}')
    commits=$(jget "$st" target_commits_total | awk '{printf "%d", $1}')
    log "$wl: oms ($OMS_WORKERS workers, $mode) applied in $o_secs s; position $pos; cpu ${o_cpu}s;" \
        "applied_txns_total=$a_txns applied_rows_total=$a_rows target_commits_total=$commits ($o_res)"

    local n_rps n_tps o_rps o_tps ratio live o_live n_live
    n_rps=$(echo "$rows / $n_secs" | bc); n_tps=$(echo "$trx / $n_secs" | bc)
    o_rps=$(echo "$rows / $o_secs" | bc); o_tps=$(echo "$trx / $o_secs" | bc)
    ratio=$(echo "scale=2; $n_secs / $o_secs" | bc)
    live=$(echo "$rows / $DURATION" | bc)
    o_live=$(echo "scale=2; $o_rps / $live" | bc); n_live=$(echo "scale=2; $n_rps / $live" | bc)
    OMS_RPS_OF[$wl/$mode]=$o_rps; RATIO_OF[$wl/$mode]=$ratio
    TABLE_LINES+=("$(printf '%-16s %8s %9s | %8.1f %9s %7s | %8.1f %9s %7s | %6sx | %9s %6sx %6sx' \
        "$wl$([ "$mode" = tls ] && echo '+tls')" "$trx" "$rows" "$n_secs" "$n_rps" "$n_tps" "$o_secs" "$o_rps" "$o_tps" "$ratio" "$live" "$n_live" "$o_live")")
    record incr_apply.tsv "bench=oms_vs_native" "workload=$wl" "tls=$([ "$mode" = tls ] && echo 1 || echo 0)" "rev=$REV" "tables=$TABLES" "rows_per_table=$ROWS" \
        "threads=$THREADS" "duration=$DURATION" "src_tps=$src_tps" "trx=$trx" "rows=$rows" "src_rows_s=$live" \
        "native_threads=$NATIVE_THREADS" "native_s=$n_secs" "native_rows_s=$n_rps" "native_tps=$n_tps" \
        "oms_workers=$OMS_WORKERS" "oms_atomic_txns=$OMS_ATOMIC" "monitor=$MONITOR" "oms_s=$o_secs" "oms_rows_s=$o_rps" "oms_tps=$o_tps" "ratio_oms_native=$ratio" \
        "oms_vs_live=$o_live" "native_vs_live=$n_live" "oms_applied_txns=$a_txns" "oms_applied_rows=$a_rows" \
        "oms_target_commits=$commits" "oms_cpu_s=$o_cpu" \
        $(for kv in $n_res; do echo "native_$kv"; done) $(for kv in $o_res; do echo "oms_$kv"; done)
}

for wl in $WORKLOADS; do for mode in $MODES; do one_workload "$wl" "$mode"; done; done

# --- correctness ------------------------------------------------------------------------------
wait_gtid "$REPL" "$(binlog_gtid "$SRC")"
MISMATCH=0
CHECK_LINES=()
for t in $(q "$REPL" "SELECT table_name FROM information_schema.tables WHERE table_schema='sbtest' ORDER BY table_name"); do
    a=$(q "$REPL" "CHECKSUM TABLE sbtest.$t" | cut -f2)
    b=$(q "$TGT" "CHECKSUM TABLE sbtest.$t" | cut -f2)
    if [ "$a" = "$b" ]; then CHECK_LINES+=("sbtest.$t match ($a)")
    else CHECK_LINES+=("sbtest.$t MISMATCH repl=$a tgt=$b"); MISMATCH=$((MISMATCH+1)); fi
done

echo
echo "incr apply: $TABLES x $ROWS rows, sysbench $THREADS threads x $DURATION s; native slave_parallel_threads=$NATIVE_THREADS optimistic, oms workers=$OMS_WORKERS atomic_txns=$OMS_ATOMIC monitor=$MONITOR; oms rev $REV"
printf '%-16s %8s %9s | %8s %9s %7s | %8s %9s %7s | %7s | %9s %7s %7s\n' \
    "workload" "trx" "rows" "native_s" "rows/s" "trx/s" "oms_s" "rows/s" "trx/s" "oms/nat" "src_rows/s" "nat/src" "oms/src"
for l in "${TABLE_LINES[@]}"; do echo "$l"; done
echo "(oms/src, nat/src: applier rows/s vs the source's live rate during sysbench; >1 = keeps up)"
if [ "${OMS_BENCH_TLS:-0}" = 1 ]; then
    echo "TLS cost (Store stream, acks and status on mutual TLS vs plain; same run, each its own backlog; load $(cut -d' ' -f1-3 /proc/loadavg)):"
    for wl in $WORKLOADS; do
        r=$(echo "scale=3; ${OMS_RPS_OF[$wl/tls]} / ${OMS_RPS_OF[$wl/plain]}" | bc)
        n=$(echo "scale=3; ${RATIO_OF[$wl/tls]} / ${RATIO_OF[$wl/plain]}" | bc)
        printf '  %-16s oms rows/s tls/plain %6sx   (oms/native) tls/plain %6sx\n' "$wl" "$r" "$n"
        record incr_apply.tsv "bench=tls_cost" "workload=$wl" "rev=$REV" "oms_rows_s_plain=${OMS_RPS_OF[$wl/plain]}" \
            "oms_rows_s_tls=${OMS_RPS_OF[$wl/tls]}" "ratio_rows_s=$r" "ratio_oms_native=$n" "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    done
fi
echo "checksum REPL vs TGT:"
for l in "${CHECK_LINES[@]}"; do echo "  $l"; done
record incr_apply.tsv "bench=oms_vs_native_checksum" "rev=$REV" "tables_checked=${#CHECK_LINES[@]}" "mismatches=$MISMATCH"
[ "$MISMATCH" = 0 ] || die "$MISMATCH table(s) differ between the native replica and the oms target"
log "incr_apply done; results in $RESULTS_DIR/incr_apply.tsv"

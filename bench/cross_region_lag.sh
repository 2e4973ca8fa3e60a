#!/bin/bash
# cross_region_lag.sh - lag of oms and of a native MariaDB replica across a WAN link, same run
# (issue 20).
#
#   bench/cross_region_lag.sh                        RTTS="50 200" ms, 500 tx/s, 60 s each
#   RATE=300 DURATION=30 RTTS=50 bench/cross_region_lag.sh
#
# Two "regions" on this machine: region A (127.0.0.1) has the source SRC and the oms Store;
# region B (127.0.0.2) has the oms target TGT with Incr-Sync and the native replica REPL. The
# only links between them go through latency proxies (bench/latproxy, internal/testenv/latency)
# that add RTT ms per round trip: Incr-Sync -> Store, and REPL's IO thread -> SRC.
# Per RTT: sysbench oltp_write_only on SRC at RATE tx/s (THREADS threads) for DURATION s while
# bench/lagprobe writes a heartbeat row every 50 ms and polls both targets every 10 ms: the lag
# of a heartbeat is the time from its commit on SRC until it is visible on the target.
# Prints p50/p99/max for oms and native and the difference (target: oms p99 <= native p99 +
# 50 ms, never above 1 s). Finally CHECKSUM TABLE of every table must match on SRC, TGT, REPL.
# With TRACE=1 (default) the Store and Incr-Sync write a transaction trace (OMS_TXN_TRACE,
# internal/metrics) and lagprobe prints where the oms lag of the heartbeats went, hop by hop.
# Durable settings on every instance (sync_binlog=1, innodb_flush_log_at_trx_commit=1).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-lag}
export RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
. "$HERE/baselines.sh"
. "$HERE/omslib.sh"

SRC=${SRC:-13356}
TGT=${TGT:-13357}
REPL=${REPL:-13358}
TABLES=${TABLES:-8}
ROWS=${ROWS:-10000}
RATE=${RATE:-500}
THREADS=${THREADS:-8}
DURATION=${DURATION:-60}
RTTS=${RTTS:-"50 200"}
WORKERS=${WORKERS:-4}
TRACE=${TRACE:-1}
trace_env() {  # trace_env FILE: the environment that makes a component write its trace to FILE
    if [ "$TRACE" = 1 ]; then echo "OMS_TXN_TRACE=$1"; else echo "OMS_TXN_TRACE="; fi
}
on_exit "$SRC" "$TGT" "$REPL"

mdb_wipe
mkdir -p "$BENCH_ROOT"
build_oms
(cd "$ROOT" && go build -o "$BENCH_ROOT/latproxy" ./bench/latproxy && go build -o "$BENCH_ROOT/lagprobe" ./bench/lagprobe)
mdb_start "$SRC" "$TGT" "$REPL"
q "$SRC" "SET GLOBAL binlog_row_metadata=FULL"
for p in "$SRC" "$TGT" "$REPL"; do q "$p" "SET GLOBAL sync_binlog=0, GLOBAL innodb_flush_log_at_trx_commit=2"; done
prepare_sbtest "$SRC" "$TABLES" "$ROWS" > /dev/null
q "$SRC" "CREATE DATABASE IF NOT EXISTS bench_hb;
          CREATE TABLE IF NOT EXISTS bench_hb.hb (id INT PRIMARY KEY, seq BIGINT, ts DATETIME(6))"
setup_replica "$SRC" "$TGT"
q "$TGT" "STOP SLAVE; RESET SLAVE ALL"
setup_replica "$SRC" "$REPL"
for p in "$SRC" "$TGT" "$REPL"; do q "$p" "SET GLOBAL sync_binlog=1, GLOBAL innodb_flush_log_at_trx_commit=1"; done
q "$REPL" "STOP SLAVE; SET GLOBAL slave_parallel_threads=4, GLOBAL slave_parallel_mode='optimistic'"
G0=$(binlog_gtid "$SRC")
log "TGT and REPL hold the source's data at $G0"

SRC_JSON="{\"host\":\"127.0.0.1\",\"port\":$SRC,\"user\":\"$MDB_USER\",\"password\":\"$MDB_PASS\"}"
TGT_JSON="{\"host\":\"127.0.0.1\",\"port\":$TGT,\"user\":\"$MDB_USER\",\"password\":\"$MDB_PASS\"}"
export "$(trace_env "$BENCH_ROOT/store-trace.txt")"
start_component store "$BENCH_ROOT/store" lag-store \
    "{\"source\":$SRC_JSON,\"start\":{\"gtid_set\":\"$G0\"},\"listen\":\"127.0.0.1:0\"}"
export OMS_TXN_TRACE=
STORE_ADDR=$(cat "$BENCH_ROOT/store/store.addr")

PROXY_PIDS=() INCR_PID=
start_proxy() {  # start_proxy RTT_MS TARGET NAME -> address in $BENCH_ROOT/NAME.addr
    rm -f "$BENCH_ROOT/$3.addr"
    "$BENCH_ROOT/latproxy" -listen 127.0.0.2:0 -target "$2" -rtt "$1ms" -addr-file "$BENCH_ROOT/$3.addr" > /dev/null &
    PROXY_PIDS+=($!)
    local i; for i in $(seq 1 500); do [ -s "$BENCH_ROOT/$3.addr" ] && return 0; sleep 0.01; done
    die "latency proxy $3 did not start"
}
stop_links() {
    q "$REPL" "STOP SLAVE" || true
    if [ -n "$INCR_PID" ]; then kill "$INCR_PID"; wait "$INCR_PID" 2>/dev/null || true; INCR_PID=; fi
    local p; for p in "${PROXY_PIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
    PROXY_PIDS=()
}

declare -a LINES=()
for RTT in $RTTS; do
    start_proxy "$RTT" "$STORE_ADDR" store-link
    start_proxy "$RTT" "127.0.0.1:$SRC" repl-link
    RP=$(cut -d: -f2 "$BENCH_ROOT/repl-link.addr")
    q "$REPL" "CHANGE MASTER TO MASTER_HOST='127.0.0.2', MASTER_PORT=$RP, MASTER_USER='$MDB_USER',
               MASTER_PASSWORD='$MDB_PASS', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE"
    export "$(trace_env "$BENCH_ROOT/incr-trace_$RTT.txt")"
    start_component incr-sync "$BENCH_ROOT/incr" lag \
        "{\"store_addr\":\"$(cat "$BENCH_ROOT/store-link.addr")\",\"target\":$TGT_JSON,\"selection\":{\"tables\":[{\"db\":\"sbtest\"},{\"db\":\"bench_hb\"}]},\"start_gtid\":\"$G0\",\"workers\":$WORKERS}"
    INCR_PID=$COMP_PID
    export OMS_TXN_TRACE=
    TRACE_ARGS=()
    [ "$TRACE" = 1 ] && TRACE_ARGS=(-trace "$BENCH_ROOT/store-trace.txt" -trace "$BENCH_ROOT/incr-trace_$RTT.txt" -trace-target oms)
    G=$(binlog_gtid "$SRC")
    wait_gtid "$REPL" "$G" 300; wait_position "$BENCH_ROOT/incr" "$G" 300
    log "RTT $RTT ms: both caught up at $G; sysbench oltp_write_only at $RATE tx/s for $DURATION s"
    # shellcheck disable=SC2046
    sysbench oltp_write_only $(sysbench_common "$SRC") --tables="$TABLES" --table-size="$ROWS" \
        --threads="$THREADS" --rate="$RATE" --time="$DURATION" run > "$BENCH_ROOT/sysbench_$RTT.log" 2>&1 &
    SB_PID=$!
    "$BENCH_ROOT/lagprobe" -source "$MDB_USER:$MDB_PASS@tcp(127.0.0.1:$SRC)/" \
        -target "oms=$MDB_USER:$MDB_PASS@tcp(127.0.0.1:$TGT)/" -target "native=$MDB_USER:$MDB_PASS@tcp(127.0.0.1:$REPL)/" \
        -every 50ms -poll 10ms -duration "${DURATION}s" "${TRACE_ARGS[@]}" > "$BENCH_ROOT/lag_$RTT.txt"
    wait "$SB_PID" || { tail -20 "$BENCH_ROOT/sysbench_$RTT.log"; die "sysbench failed"; }
    LOAD=$(cat /proc/loadavg)
    TPS=$(awk '/transactions:/{gsub(/[(]/,"",$3); print $3}' "$BENCH_ROOT/sysbench_$RTT.log")
    cat "$BENCH_ROOT/lag_$RTT.txt"
    f() { awk -v n="$1" -v k="$2" '$1==n {for (i=2;i<=NF;i++) {split($i,a,"="); if (a[1]==k) print a[2]}}' "$BENCH_ROOT/lag_$RTT.txt"; }
    LINES+=("$(printf '%5s %8s | %8s %8s %8s | %8s %8s %8s | %9s' "$RTT" "$TPS" \
        "$(f oms p50_ms)" "$(f oms p99_ms)" "$(f oms max_ms)" "$(f native p50_ms)" "$(f native p99_ms)" "$(f native max_ms)" \
        "$(echo "$(f oms p99_ms) - $(f native p99_ms)" | bc)")  loadavg $LOAD")
    record cross_region_lag.tsv "rtt_ms=$RTT" "rate=$RATE" "src_tps=$TPS" "duration=$DURATION" \
        $(for k in p50_ms p99_ms max_ms missing; do echo "oms_$k=$(f oms $k)" "native_$k=$(f native $k)"; done) "loadavg=${LOAD// /,}"
    G=$(binlog_gtid "$SRC")
    wait_gtid "$REPL" "$G" 600; wait_position "$BENCH_ROOT/incr" "$G" 600
    stop_links
done

MISMATCH=0
for t in $(q "$SRC" "SELECT CONCAT(table_schema,'.',table_name) FROM information_schema.tables WHERE table_schema IN ('sbtest','bench_hb') ORDER BY 1"); do
    a=$(q "$SRC" "CHECKSUM TABLE $t" | cut -f2); b=$(q "$TGT" "CHECKSUM TABLE $t" | cut -f2); c=$(q "$REPL" "CHECKSUM TABLE $t" | cut -f2)
    [ "$a" = "$b" ] && [ "$a" = "$c" ] || { log "$t differs: source $a oms $b native $c"; MISMATCH=$((MISMATCH+1)); }
done

echo
echo "cross-region lag: sysbench oltp_write_only at $RATE tx/s ($THREADS threads, $TABLES x $ROWS rows) for $DURATION s per RTT;"
echo "heartbeat every 50 ms; oms Incr-Sync $WORKERS workers; native slave_parallel_threads=4 optimistic"
printf '%5s %8s | %8s %8s %8s | %8s %8s %8s | %9s\n' "RTT" "src tx/s" "oms p50" "p99" "max" "nat p50" "p99" "max" "p99 diff"
for l in "${LINES[@]}"; do echo "$l"; done
echo "(ms; target: oms p99 <= native p99 + 50 ms, never above 1000 ms)"
[ "$MISMATCH" = 0 ] || die "$MISMATCH table(s) differ"
echo "CHECKSUM TABLE: every table matches on source, oms target and native replica"

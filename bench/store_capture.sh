#!/bin/bash
# store_capture.sh - Store capture speed vs mariadb-binlog on the same binlog backlog.
#
#   bench/store_capture.sh
#   DURATION=30 THREADS=8 bench/store_capture.sh
#   OMS_BENCH_TLS=1 bench/store_capture.sh     # also the Store with cluster TLS as a supervisor
#                                              # starts it (consumer and status ports on mutual
#                                              # TLS): the same backlog is captured plain, TLS,
#                                              # plain, TLS (the first capture warms caches) and
#                                              # the TLS cost printed as the ratio of the best
#                                              # times
#
# 1. A MariaDB source (baselines' lib.sh instance on $SRC, durable settings), sysbench prepare,
#    RESET MASTER, then sysbench oltp_write_only for DURATION s: the backlog (>= 500k row events
#    with the defaults on this machine).
# 2. mariadb-binlog --read-from-remote-server --verbose decodes the whole backlog to /dev/null.
# 3. `oms component store` captures the same backlog from the first binlog file into fresh
#    segments (fsync'd), timed from process start until its /status position covers the
#    source's last GTID.
# Prints row events/s and MB/s (binlog bytes / s) for both and the ratio; appends a line to
# bench/results/store_capture.tsv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-store}
export RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
. "$HERE/baselines.sh"

SRC=${SRC:-13316}
TABLES=${TABLES:-4}
ROWS=${ROWS:-100000}
DURATION=${DURATION:-90}
THREADS=${THREADS:-8}
WORK=$BENCH_ROOT/store-work
KEEP=${KEEP:-0}  # KEEP=1 leaves the source running; SKIP_BACKLOG=1 then reuses its backlog

on_exit "$SRC"   # the store process and the source stop at the end, also on Ctrl-C

log "building oms"
(cd "$ROOT" && go build -o "$BENCH_ROOT/oms" ./cmd/oms)

mdb_start "$SRC"
q "$SRC" "SET GLOBAL binlog_row_metadata=FULL"   # the Store refuses a source without it
if [ "${SKIP_BACKLOG:-0}" != 1 ]; then
    prepare_sbtest "$SRC" "$TABLES" "$ROWS" > /dev/null
    q "$SRC" "RESET MASTER"
    # The backlog is produced with relaxed durability (faster on this shared 2-core machine); what is
    # measured afterwards only reads it.
    q "$SRC" "SET GLOBAL sync_binlog=0, GLOBAL innodb_flush_log_at_trx_commit=2"
    log "sysbench oltp_write_only $THREADS threads x $DURATION s"
    # shellcheck disable=SC2046
    sysbench oltp_write_only $(sysbench_common "$SRC") --tables="$TABLES" --table-size="$ROWS" \
        --threads="$THREADS" --time="$DURATION" run > "$RESULTS_DIR/store_sysbench.log" 2>&1
fi
q "$SRC" "SET GLOBAL sync_binlog=1, GLOBAL innodb_flush_log_at_trx_commit=1"
LAST=$(binlog_gtid "$SRC")
FIRST_FILE=$(mc "$SRC" -N -B -e "SHOW BINARY LOGS" | head -1 | cut -f1)
BINLOG_BYTES=$(mc "$SRC" -N -B -e "SHOW BINARY LOGS" | awk '{s+=$2} END{print s}')
log "backlog: last GTID $LAST, $BINLOG_BYTES binlog bytes from $FIRST_FILE"

# --- mariadb-binlog -------------------------------------------------------------------------
t0=$(now)
mariadb-binlog --read-from-remote-server -h127.0.0.1 -P"$SRC" -uroot --verbose --to-last-log "$FIRST_FILE" > /dev/null
t1=$(now)
MB_SECS=$(echo "$t1 - $t0" | bc)
log "mariadb-binlog: $MB_SECS s"

# --- oms store ------------------------------------------------------------------------------
# OMS_BENCH_TLS=1: a second capture with mutual TLS on the status and consumer ports (bench/tlsgen
# certificates), the status polled with a node certificate, as the supervisor does.
MODES=plain
if [ "${OMS_BENCH_TLS:-0}" = 1 ]; then
    MODES="plain tls plain tls"
    (cd "$ROOT" && go run ./bench/tlsgen "$BENCH_ROOT/store-tls" node:127.0.0.1 task:bench)
fi
declare -A SECS_OF=()
# capture MODE: the Store captures the whole backlog into fresh segments; prints and records it.
capture() {
    local mode=$1 tls_spec="" curl_tls=() scheme=http
    if [ "$mode" = tls ]; then
        local T=$BENCH_ROOT/store-tls/task-bench N=$BENCH_ROOT/store-tls/node-127.0.0.1
        tls_spec=",\"tls\":{\"cert\":\"$T/cert.pem\",\"key\":\"$T/key.pem\",\"ca\":\"$T/ca.pem\"}"
        curl_tls=(--cacert "$N/ca.pem" --cert "$N/cert.pem" --key "$N/key.pem"); scheme=https
    fi
    rm -rf "$WORK"; mkdir -p "$WORK"
    cat > "$WORK/spec.json" <<SPEC
{"kind":"store","task_id":"bench","epoch":1,"status_addr":"127.0.0.1:0","work_dir":"$WORK"$tls_spec,
 "config":{"source":{"host":"127.0.0.1","port":$SRC,"user":"root","password":""},
           "start":{"file":"$FIRST_FILE","pos":4},"listen":"127.0.0.1:0"}}
SPEC
    status() { curl -s "${curl_tls[@]}" "$scheme://$(cat "$WORK/status.addr")/status"; }
    local t0 t1 pos
    t0=$(now)
    "$BENCH_ROOT/oms" component store --spec "$WORK/spec.json" 2> "$WORK/component.log" &
    STORE_PID=$!
    for _ in $(seq 1 6000); do [ -f "$WORK/status.addr" ] && break; sleep 0.01; done
    while :; do
        kill -0 "$STORE_PID" 2>/dev/null || { tail -20 "$WORK/component.log"; die "store exited"; }
        pos=$(status | sed -n 's/.*"position":"\([^"]*\)".*/\1/p' || true)
        [ "$pos" = "$LAST" ] && break
        sleep 0.02
    done
    t1=$(now)
    OMS_SECS=$(echo "$t1 - $t0" | bc)
    ST=$(status)
    ROW_EVENTS=$(echo "$ST" | sed -n 's/.*"rows_total":\([0-9.e+]*\).*/\1/p' | awk '{printf "%d", $1}')
    TXNS=$(echo "$ST" | sed -n 's/.*"txns_total":\([0-9.e+]*\).*/\1/p' | awk '{printf "%d", $1}')
    SEG_BYTES=$(du -sb "$WORK/segments" | cut -f1)
    CPU=$(awk '{print ($14+$15)/'"$(getconf CLK_TCK)"'}' /proc/$STORE_PID/stat)
    kill "$STORE_PID"; wait "$STORE_PID" 2>/dev/null || true; STORE_PID=

    OMS_RPS=$(echo "$ROW_EVENTS / $OMS_SECS" | bc)
    MB_RPS=$(echo "$ROW_EVENTS / $MB_SECS" | bc)
    OMS_MBS=$(echo "scale=1; $BINLOG_BYTES / 1048576 / $OMS_SECS" | bc)
    MB_MBS=$(echo "scale=1; $BINLOG_BYTES / 1048576 / $MB_SECS" | bc)
    RATIO=$(echo "scale=2; $MB_SECS / $OMS_SECS" | bc)
    if [ -z "${SECS_OF[$mode]:-}" ] || [ "$(echo "$OMS_SECS < ${SECS_OF[$mode]}" | bc)" = 1 ]; then SECS_OF[$mode]=$OMS_SECS; fi

    printf '\n%-40s %10s %14s %10s\n' "tool" "seconds" "row events/s" "MB/s"
    printf '%-40s %10.2f %14s %10s\n' "mariadb-binlog --verbose > /dev/null" "$MB_SECS" "$MB_RPS" "$MB_MBS"
    printf '%-40s %10.2f %14s %10s\n' "oms component store ($mode, fsync'd)" "$OMS_SECS" "$OMS_RPS" "$OMS_MBS"
    echo "backlog: $TXNS transactions, $ROW_EVENTS row events, $BINLOG_BYTES binlog bytes; segments $SEG_BYTES bytes; store CPU ${CPU}s"
    echo "speed ratio oms ($mode)/mariadb-binlog: ${RATIO}x"
    record store_capture.tsv "tls=$([ "$mode" = tls ] && echo 1 || echo 0)" "txns=$TXNS" "row_events=$ROW_EVENTS" "binlog_bytes=$BINLOG_BYTES" \
        "mariadb_binlog_s=$MB_SECS" "oms_s=$OMS_SECS" "oms_rows_s=$OMS_RPS" "mariadb_binlog_rows_s=$MB_RPS" \
        "ratio=$RATIO" "segment_bytes=$SEG_BYTES" "store_cpu_s=$CPU"
}
for mode in $MODES; do capture "$mode"; done
if [ "${OMS_BENCH_TLS:-0}" = 1 ]; then
    R=$(echo "scale=3; ${SECS_OF[plain]} / ${SECS_OF[tls]}" | bc)
    echo "TLS cost: capture speed tls/plain ${R}x (best of two each, same backlog, same run; load $(cut -d' ' -f1-3 /proc/loadavg))"
    record store_capture.tsv "bench=tls_cost" "plain_s=${SECS_OF[plain]}" "tls_s=${SECS_OF[tls]}" "ratio=$R" "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
fi

#!/bin/bash
# bidir.sh - active-active (two-way) sync between two regions on one machine, compared with
# one-way sync on the same machine in the same run. Each Store -> Incr-Sync stream goes through
# a latency proxy (the WAN). Four phases (bench/bidirload), each RATE txn/s per writing region or
# as fast as the writers go ("max"), DURATION of writing, then until both regions are equal:
#   one-way  RATE and max: writers on A only, a plain A -> B pipeline
#   two-way  RATE and max: writers on both sides (disjoint keys plus CONFLICT on keys both
#            write), a two-way pair (echo marker, atomic transactions, lww on ver, A first on ties)
# Per phase and direction: end-to-end lag p50/p99 (probe rows), rows/s applied, source txn/s,
# conflicts found; then the two-way/one-way rows/s ratio per direction at RATE and at max. Both
# regions must end with the same rows (the script fails otherwise). The load average is printed
# before and after (a shared machine's figures depend on it).
#
#   bench/bidir.sh                                  30 s per phase, 200 txn/s per region, 5% shared keys, 30 ms
#   DURATION=10s RATE=100 bench/bidir.sh            a short smoke run
#   DELAY=100ms CONFLICT=0.05 WRITERS=8 bench/bidir.sh
#
# Instances: the baselines' lib.sh (durable settings, binlog ROW, GTID strict), ports A=24416,
# B=24417 under $BENCH_ROOT (default /tmp/omsbench-bidir, wiped at start, stopped at the end).
# Component logs stay under $BENCH_ROOT/work/{oneway,twoway}.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-bidir}
export RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/results}
. "$HERE/baselines.sh"

A=${A:-24416}
B=${B:-24417}
OMS=$BENCH_ROOT/oms
mdb_wipe
mkdir -p "$BENCH_ROOT" "$RESULTS_DIR"
log "building oms"
(cd "$HERE/.." && go build -o "$OMS" ./cmd/oms)
on_exit "$A" "$B"   # the instances stop at the end (KEEP=1 keeps them); bidirload stops its components itself
mdb_start "$A" "$B"
for p in "$A" "$B"; do q "$p" "SET GLOBAL binlog_row_metadata=FULL" > /dev/null; done
echo "load average before: $(cat /proc/loadavg)  cores: $(nproc)" | tee "$RESULTS_DIR/bidir.txt"
(cd "$HERE/.." && go run ./bench/bidirload -oms "$OMS" -a "$A" -b "$B" -user "$MDB_USER" -password "${MDB_PASS:-}" \
    -dir "$BENCH_ROOT/work" -duration "${DURATION:-30s}" -rate "${RATE:-200}" -conflict "${CONFLICT:-0.05}" \
    -delay "${DELAY:-30ms}" -writers "${WRITERS:-4}") | tee -a "$RESULTS_DIR/bidir.txt"
echo "load average after: $(cat /proc/loadavg)" | tee -a "$RESULTS_DIR/bidir.txt"

#!/bin/bash
# wire_bytes.sh - bytes the Store sends across regions per row change, against the source's
# binlog bytes for the same changes: all tables selected, and 1 of 8 (issue 20).
#
#   bench/wire_bytes.sh                       8 x 10,000 rows, oltp_write_only at 200 tx/s for 60 s
#   DURATION=20 RATE=100 bench/wire_bytes.sh  a short run
#   CATCHUP=1 bench/wire_bytes.sh             consumers start after the workload (large frames)
#
# Two MariaDB instances (baselines' lib.sh): SRC (binlog ROW, binlog_row_metadata=FULL) and TGT,
# a copy of SRC after the prepare. Two Stores capture SRC from the same GTID (one per consumer,
# so each one's sent_bytes_total is that consumer's): Incr-Sync "all" selects sbtest.* into TGT,
# Incr-Sync "one" selects sbtest.sbtest1 only, renamed to TGT's sbtest_one. Both run while
# sysbench oltp_write_only runs at RATE tx/s (a live stream: small frames), unless CATCHUP=1.
# Binlog bytes: the source's binlog files from a FLUSH BINARY LOGS before the workload.
# Printed: binlog bytes per row change; per consumer the bytes sent (frames: header + zstd body),
# bytes per row change, the ratio to the binlog bytes (target <= 30% for all tables, about 1/8 of
# that for 1 of 8) and the Store's record bytes (before compression). Then CHECKSUM TABLE of
# every table on SRC and TGT (and sbtest1 against sbtest_one.sbtest1) must match.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-wire}
export RESULTS_DIR=${RESULTS_DIR:-$HERE/results}
. "$HERE/baselines.sh"
. "$HERE/omslib.sh"

SRC=${SRC:-13346}
TGT=${TGT:-13347}
TABLES=8
ROWS=${ROWS:-10000}
DURATION=${DURATION:-60}
RATE=${RATE:-200}
THREADS=${THREADS:-4}
CATCHUP=${CATCHUP:-0}
on_exit "$SRC" "$TGT"

mdb_wipe
mkdir -p "$BENCH_ROOT"
build_oms
mdb_start "$SRC" "$TGT"
q "$SRC" "SET GLOBAL binlog_row_metadata=FULL"
q "$SRC" "SET GLOBAL sync_binlog=0, GLOBAL innodb_flush_log_at_trx_commit=2"  # prepare only
prepare_sbtest "$SRC" "$TABLES" "$ROWS" > /dev/null
setup_replica "$SRC" "$TGT"
q "$TGT" "STOP SLAVE; RESET SLAVE ALL;
          CREATE DATABASE sbtest_one; CREATE TABLE sbtest_one.sbtest1 LIKE sbtest.sbtest1;
          INSERT INTO sbtest_one.sbtest1 SELECT * FROM sbtest.sbtest1"
q "$SRC" "SET GLOBAL sync_binlog=1, GLOBAL innodb_flush_log_at_trx_commit=1"
q "$SRC" "FLUSH BINARY LOGS"
G0=$(binlog_gtid "$SRC")
FILE0=$(q "$SRC" "SHOW MASTER STATUS" | cut -f1)
POS0=$(q "$SRC" "SHOW MASTER STATUS" | cut -f2)
log "source at $G0 ($FILE0:$POS0)"

SRC_JSON="{\"host\":\"127.0.0.1\",\"port\":$SRC,\"user\":\"$MDB_USER\",\"password\":\"$MDB_PASS\"}"
TGT_JSON="{\"host\":\"127.0.0.1\",\"port\":$TGT,\"user\":\"$MDB_USER\",\"password\":\"$MDB_PASS\"}"
declare -A SELECTION=(
    [all]='{"tables":[{"db":"sbtest"}]}'
    [one]='{"tables":[{"db":"sbtest","table":"sbtest1","rename_db":"sbtest_one"}]}'
)
for c in all one; do
    start_component store "$BENCH_ROOT/store-$c" "wire-$c-store" \
        "{\"source\":$SRC_JSON,\"start\":{\"gtid_set\":\"$G0\"},\"listen\":\"127.0.0.1:0\"}"
done
start_incr() {
    local c
    for c in all one; do
        start_component incr-sync "$BENCH_ROOT/incr-$c" "wire-$c" \
            "{\"store_addr\":\"$(cat "$BENCH_ROOT/store-$c/store.addr")\",\"target\":$TGT_JSON,\"selection\":${SELECTION[$c]},\"start_gtid\":\"$G0\"}"
    done
}
[ "$CATCHUP" = 1 ] || start_incr

log "sysbench oltp_write_only at $RATE tx/s, $THREADS threads, $DURATION s"
# shellcheck disable=SC2046
sysbench oltp_write_only $(sysbench_common "$SRC") --tables="$TABLES" --table-size="$ROWS" \
    --threads="$THREADS" --rate="$RATE" --time="$DURATION" run > "$BENCH_ROOT/sysbench.log" 2>&1 \
    || { tail -20 "$BENCH_ROOT/sysbench.log"; die "sysbench failed"; }
LOAD=$(cat /proc/loadavg)
G1=$(binlog_gtid "$SRC")
[ "$CATCHUP" = 1 ] && start_incr
for c in all one; do wait_position "$BENCH_ROOT/incr-$c" "$G1"; done
log "both consumers applied up to $G1"

# binlog bytes since FILE0:POS0, over rotations
BINLOG_BYTES=$(mc "$SRC" -N -B -e "SHOW BINARY LOGS" | awk -v f="$FILE0" -v p="$POS0" '
    $1 == f {on = 1; s += $2 - p; next} on {s += $2} END {print s}')
declare -A SENT RECS ROWS_SENT
for c in all one; do
    st=$(status_of "$BENCH_ROOT/store-$c")
    SENT[$c]=$(jget "$st" sent_bytes_total | awk '{printf "%d", $1}')
    RECS[$c]=$(jget "$st" bytes_total | awk '{printf "%d", $1}')
    CHANGES=$(jget "$st" rows_total | awk '{printf "%d", $1}')
    ROWS_SENT[$c]=$(( CHANGES - $(jget "$st" filtered_rows_total | awk '{printf "%d", $1}') ))
done
TXNS=$(( $(gtid_seq "$G1") - $(gtid_seq "$G0") ))

# correctness
MISMATCH=0
for t in $(q "$SRC" "SELECT table_name FROM information_schema.tables WHERE table_schema='sbtest' ORDER BY table_name"); do
    a=$(q "$SRC" "CHECKSUM TABLE sbtest.$t" | cut -f2); b=$(q "$TGT" "CHECKSUM TABLE sbtest.$t" | cut -f2)
    [ "$a" = "$b" ] || { log "sbtest.$t differs: source $a target $b"; MISMATCH=$((MISMATCH+1)); }
done
a=$(q "$SRC" "CHECKSUM TABLE sbtest.sbtest1" | cut -f2); b=$(q "$TGT" "CHECKSUM TABLE sbtest_one.sbtest1" | cut -f2)
[ "$a" = "$b" ] || { log "sbtest_one.sbtest1 differs: source $a target $b"; MISMATCH=$((MISMATCH+1)); }

pct() { echo "scale=1; 100 * $1 / $2" | bc; }
per() { echo "scale=1; $1 / $2" | bc; }
echo
echo "wire bytes: $TXNS transactions, $CHANGES row changes (sysbench oltp_write_only $RATE tx/s x $DURATION s, $TABLES x $ROWS rows; $([ "$CATCHUP" = 1 ] && echo "consumers caught up afterwards" || echo "live stream"))"
echo "loadavg during the run: $LOAD"
printf '%-26s %12s %10s %10s %14s\n' "" "bytes" "B/change" "of binlog" "store records"
printf '%-26s %12s %10s %10s %14s\n' "source binlog" "$BINLOG_BYTES" "$(per "$BINLOG_BYTES" "$CHANGES")" "100%" "-"
printf '%-26s %12s %10s %9s%% %14s\n' "oms, all 8 tables" "${SENT[all]}" "$(per "${SENT[all]}" "$CHANGES")" "$(pct "${SENT[all]}" "$BINLOG_BYTES")" "${RECS[all]}"
printf '%-26s %12s %10s %9s%% %14s\n' "oms, 1 of 8 tables" "${SENT[one]}" "$(per "${SENT[one]}" "$CHANGES")" "$(pct "${SENT[one]}" "$BINLOG_BYTES")" "${RECS[one]}"
echo "1 of 8 / all 8: $(pct "${SENT[one]}" "${SENT[all]}")% of the bytes for $(pct "${ROWS_SENT[one]}" "${ROWS_SENT[all]}")% of the rows (target about 12.5%)"
echo "(B/change: per row change of the whole source; compression: all $(pct "${SENT[all]}" "${RECS[all]}")% of the record bytes)"
record wire_bytes.tsv "catchup=$CATCHUP" "rate=$RATE" "duration=$DURATION" "txns=$TXNS" "changes=$CHANGES" \
    "binlog_bytes=$BINLOG_BYTES" "sent_all=${SENT[all]}" "sent_one=${SENT[one]}" "records_all=${RECS[all]}" \
    "rows_sent_one=${ROWS_SENT[one]}" "mismatches=$MISMATCH" "loadavg=${LOAD// /,}"
[ "$MISMATCH" = 0 ] || die "$MISMATCH table(s) differ"
echo "CHECKSUM TABLE: every table matches"

#!/bin/bash
# full_import.sh - oms full import vs mydumper+myloader vs the LOAD DATA write ceiling, same run.
#
#   bench/full_import.sh                       8 x 250,000 sysbench rows, 3 rounds
#   ROWS=2500000 RUNS=1 bench/full_import.sh   the large data set
#   METHODS="oms_load oms_insert" bench/full_import.sh
#   ROWS=2500000 RUNS=1 METHODS="mydumper_t4 oms_load loaddata_p4" bench/full_import.sh
#   KEEP=1 bench/full_import.sh               leave the two instances running (the next run reuses them)
#
# Instances are started like the baselines (../shared/baselines/lib.sh: durable settings,
# innodb_flush_log_at_trx_commit=1, sync_binlog=1, binlog ROW on both sides, 1G buffer pool),
# on their own ports and directory so they do not disturb other benchmarks.
# Methods (each timed from start to the last row committed on the target, schema included):
#   loaddata_p2  plain LOAD DATA LOCAL INFILE of ready TSV, 2 streams, into pre-created tables
#                (the write ceiling; the export to TSV is not timed)
#   loaddata_p4  the same with 4 streams
#   mydumper_t4  mydumper -t 4 to local files, then myloader -t 4 -e (binlog on at the target)
#   oms_load     oms component full-import (write_method load_data, defaults otherwise)
#   oms_insert   same with write_method insert (multi-row REPLACE), to compare the methods
# For oms the peak RSS of the full-import process (getrusage of the child, /usr/bin/time) is
# printed and must stay <= 512 MiB, with its CPU seconds (cpu_oms) and where its stages spent their time (read = source
# reads and encoding, blocked = readers waiting for queue bytes, write = LOAD DATA, starved =
# writers waiting for the readers).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench_fullimport}
export RESULTS_DIR=${RESULTS_DIR:-$BENCH_ROOT/results}
. "$HERE/baselines.sh"

SRC=${SRC:-24316}
DST=${DST:-24317}
TABLES=${TABLES:-8}
ROWS=${ROWS:-250000}
RUNS=${RUNS:-3}
METHODS=${METHODS:-"loaddata_p2 loaddata_p4 mydumper_t4 oms_load oms_insert"}
RSS_LIMIT_KB=$((512 * 1024))
OMS=$BENCH_ROOT/oms
EXPORT=$BENCH_ROOT/export  # lib.sh makes it the secure_file_priv directory
DUMPDIR=$BENCH_ROOT/dump
LOGS=$RESULTS_DIR/logs; mkdir -p "$LOGS"
TSV=$RESULTS_DIR/full_import.tsv
on_exit "$SRC" "$DST"   # both instances stop at the end, also on Ctrl-C (KEEP=1 leaves them)

log "building oms"
(cd "$HERE/.." && go build -o "$OMS" ./cmd/oms)

mdb_start "$SRC" "$DST"
# prepare_sbtest keeps an existing sbtest; drop it when it is another data set
if [ "$(q "$SRC" "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='sbtest'")" != "$TABLES" ] ||
   [ "$(q "$SRC" "SELECT COUNT(*) FROM sbtest.sbtest1" 2>/dev/null)" != "$ROWS" ]; then
    q "$SRC" "DROP DATABASE IF EXISTS sbtest" > /dev/null
fi
prepare_sbtest "$SRC" "$TABLES" "$ROWS" > /dev/null
analyze_schema "$SRC" sbtest
TBLS=$(q "$SRC" "SELECT table_name FROM information_schema.tables WHERE table_schema='sbtest' ORDER BY table_name")
NROWS=$(schema_rows "$SRC" sbtest)
DATA_BYTES=$(schema_data_bytes "$SRC" sbtest)
log "source: $NROWS rows, data_length=$DATA_BYTES"
SRC_SUM=$(q "$SRC" "CHECKSUM TABLE $(printf 'sbtest.%s,' $TBLS | sed 's/,$//')" | cut -f2 | paste -sd,)

reset_target() {
    q "$DST" "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS __oms; RESET MASTER" > /dev/null
    flush_dirty "$DST"
}

check_target() {  # same rows as the source: CHECKSUM TABLE of every table must match
    local sum; sum=$(q "$DST" "CHECKSUM TABLE $(printf 'sbtest.%s,' $TBLS | sed 's/,$//')" | cut -f2 | paste -sd,)
    [ "$sum" = "$SRC_SUM" ] || die "$1: target checksums $sum differ from source $SRC_SUM"
}

run_par() { printf '%s\n' $TBLS | xargs -P "$1" -I{} bash -c "$2"; }
CLI="mariadb -h127.0.0.1 -u$MDB_USER ${MDB_PASS:+-p$MDB_PASS}"

m_loaddata() {  # $1 = streams
    # the export is reused while it holds the source's current rows (stamp: source checksums)
    if [ "$(cat "$EXPORT/source.sum" 2>/dev/null)" != "$SRC_SUM" ]; then
        rm -f "$EXPORT"/*.tsv "$EXPORT/source.sum"
        run_par 2 "$CLI -P$SRC -N -B -e \"SELECT * FROM sbtest.{} INTO OUTFILE '$EXPORT/{}.tsv'\""
        echo "$SRC_SUM" > "$EXPORT/source.sum"
    fi
    q "$DST" "CREATE DATABASE sbtest"
    local t
    for t in $TBLS; do mc "$SRC" -N -B -r -e "SHOW CREATE TABLE sbtest.$t" | cut -f2- | mc "$DST" sbtest; done
    T0=$(now); res_begin "$SRC" "$DST"
    run_par "$1" "$CLI -P$DST --local-infile=1 sbtest -e \"LOAD DATA LOCAL INFILE '$EXPORT/{}.tsv' INTO TABLE {}\""
}

m_mydumper() {
    rm -rf "$DUMPDIR"
    T0=$(now); res_begin "$SRC" "$DST"
    mydumper -h 127.0.0.1 -P "$SRC" -u "$MDB_USER" ${MDB_PASS:+-p "$MDB_PASS"} -B sbtest -t 4 \
        --trx-consistency-only -o "$DUMPDIR" -v 2 > "$LOGS/mydumper.log" 2>&1
    myloader -h 127.0.0.1 -P "$DST" -u "$MDB_USER" ${MDB_PASS:+-p "$MDB_PASS"} -d "$DUMPDIR" -t 4 -e -v 2 \
        > "$LOGS/myloader.log" 2>&1
}

m_oms() {  # $1 = write method
    local work=$BENCH_ROOT/oms-work spec=$BENCH_ROOT/oms-spec.json
    rm -rf "$work"; mkdir -p "$work"
    cat > "$spec" <<JSON
{"kind":"full-import","task_id":"bench-$RUN-$1","epoch":1,"work_dir":"$work",
 "config":{"source":{"host":"127.0.0.1","port":$SRC,"user":"$MDB_USER","password":"$MDB_PASS"},
           "target":{"host":"127.0.0.1","port":$DST,"user":"$MDB_USER","password":"$MDB_PASS"},
           "selection":{"tables":[{"db":"sbtest"}]},"write_method":"$1"${OMS_EXTRA:+,$OMS_EXTRA}}}
JSON
    chmod 600 "$spec"
    T0=$(now); res_begin "$SRC" "$DST"
    /usr/bin/time -o "$BENCH_ROOT/oms.rss" -f "%M %U %S" "$OMS" component full-import --spec "$spec" > "$LOGS/oms_$1.log" 2>&1 ||
        { tail -5 "$LOGS/oms_$1.log"; die "oms failed"; }
    local kb usr sys; read -r kb usr sys < <(tail -1 "$BENCH_ROOT/oms.rss")
    EXTRA="rss_kb=$kb cpu_oms=$(echo "$usr + $sys" | bc) $(grep -o '"read_ahead_peak_bytes":[0-9]*\|"read_busy_s":[0-9.]*\|"read_blocked_s":[0-9.]*\|"write_busy_s":[0-9.]*\|"write_starved_s":[0-9.]*' \
        "$LOGS/oms_$1.log" | tr -d '"' | tr : = | paste -sd' ')"
    RSS[$1]="${RSS[$1]:-} $((kb / 1024))"
    [ "$kb" -le "$RSS_LIMIT_KB" ] || log "oms $1: peak RSS $((kb / 1024)) MiB is above the 512 MiB bound"
}

declare -A SECS RSS
run_method() {
    local m=$1 secs res
    EXTRA=
    reset_target
    case $m in
        loaddata_p2) m_loaddata 2 ;;
        loaddata_p4) m_loaddata 4 ;;
        mydumper_t4) m_mydumper ;;
        oms_load)    m_oms load_data ;;
        oms_insert)  m_oms insert ;;
        *) die "unknown method $m" ;;
    esac
    secs=$(echo "$(now) - $T0" | bc); res=$(res_end "$SRC" "$DST")
    check_target "$m"
    log "$m: $secs s  ($res${EXTRA:+ $EXTRA})"
    # shellcheck disable=SC2086
    record full_import.tsv "method=$m" "dataset=${TABLES}x$ROWS" "run=$RUN" "rows=$NROWS" "secs=$secs" $res $EXTRA
    SECS[$m]="${SECS[$m]:-} $secs"
}

for RUN in $(seq 1 "$RUNS"); do
    for m in $METHODS; do run_method "$m"; done
done

median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "full copy ${TABLES}x$ROWS ($NROWS rows, $((DATA_BYTES / 1048576)) MiB data), $RUNS round(s), median seconds:"
for m in $METHODS; do
    printf '  %-12s %8.2f s   runs:%s\n' "$m" "$(median "${SECS[$m]}")" "${SECS[$m]}"
done
for m in load_data insert; do
    [ -n "${RSS[$m]:-}" ] || continue
    max=$(printf '%s\n' ${RSS[$m]} | sort -g | tail -1)
    printf '  peak RSS of oms (%s): %d MiB (runs:%s)  (bound <= 512 MiB: %s)\n' "$m" "$max" "${RSS[$m]}" \
        "$([ "$max" -le 512 ] && echo ok || echo EXCEEDED)"
done
ratio() {  # ratio LABEL NUM_METHOD DEN_METHOD FORMAT: printed when both ran
    [ -n "${SECS[$2]:-}" ] && [ -n "${SECS[$3]:-}" ] || return 0
    printf "  %-24s = $4\n" "$1" "$(echo "$(median "${SECS[$2]}") / $(median "${SECS[$3]}")" | bc -l)"
}
ratio "mydumper+myloader / oms" mydumper_t4 oms_load '%.2fx  (target >= 2.00x)'
ratio "oms / LOAD DATA, 2 streams" oms_load loaddata_p2 '%.2f'
ratio "oms / LOAD DATA, 4 streams" oms_load loaddata_p4 '%.2f   (target <= 1.00)'
ratio "oms insert / oms load" oms_insert oms_load '%.2f'

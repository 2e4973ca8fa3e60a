#!/bin/bash
# verify.sh - full verification: oms vs pt-table-checksum vs CHECKSUM TABLE, same data, same run.
#
#   bench/verify.sh                         # 8 x 250,000 sysbench rows, 3 runs of each tool
#   ROWS=2500000 RUNS=1 bench/verify.sh     # the big data set
#   KEEP=1 bench/verify.sh                  # leave the instances running (next run reuses them)
#
# Two MariaDB instances: SRC with sysbench data and DST, a replica of SRC (pt-table-checksum
# needs one: its checksums replicate statement-based and the replica recomputes them). DST holds
# the same rows as SRC, so it is also the "identical target" oms and CHECKSUM TABLE compare with.
#
# Timed, per run (wall clock, the replica in sync before each):
#   pt_checksum      pt-table-checksum on SRC, replica found via a DSN table (default chunking);
#                    includes waiting for the replica and its diff check
#   checksum_table   CHECKSUM TABLE of all tables on both sides at the same time (table-level only)
#   oms              `oms component full-verify --spec` as a process: connect, plan, chunk
#                    checksums on both sides, report (row-level: would list every differing row)
# Prints the medians and the ratios. Then a correctness check: 3 rows changed on DST (the
# replica, directly) must be reported by oms with their keys, and are put back.
set -euo pipefail

BENCH_ROOT=${BENCH_ROOT:-/tmp/omsbench-verify}
SRC=${SRC:-23306}
DST=${DST:-23308}
TABLES=${TABLES:-8}
ROWS=${ROWS:-250000}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-2}
CHUNK=${CHUNK:-10000}
BP_SIZE=${BP_SIZE:-1G}
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$BENCH_ROOT/work
mkdir -p "$WORK"

now() { date +%s.%N; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "FATAL: $*"; exit 1; }
mc() { local port=$1; shift; mariadb -h127.0.0.1 -P"$port" -uroot "$@"; }
q() { local port=$1; shift; mc "$port" -N -B -e "$*"; }

mdb_start() {
    local port=$1 dir=$BENCH_ROOT/$1
    if [ -f "$dir/mariadbd.pid" ] && kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null; then return 0; fi
    local fresh=0
    if [ ! -d "$dir/data/mysql" ]; then
        mkdir -p "$dir"/data "$dir"/binlog "$dir"/tmp
        cat > "$dir/my.cnf" <<EOF
[mariadbd]
user = root
port = $port
bind-address = 127.0.0.1
socket = $dir/mysql.sock
datadir = $dir/data
tmpdir = $dir/tmp
pid-file = $dir/mariadbd.pid
log-error = $dir/error.log
skip-name-resolve
max_connections = 500
max_allowed_packet = 256M
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = $BP_SIZE
innodb_log_file_size = 512M
innodb_flush_log_at_trx_commit = 1
sync_binlog = 1
innodb_flush_method = O_DIRECT
server_id = $port
log_bin = $dir/binlog/mysql-bin
binlog_format = ROW
binlog_row_image = FULL
gtid_strict_mode = ON
log_slave_updates = ON
relay_log = $dir/binlog/relay-bin
relay_log_recovery = ON
report_host = 127.0.0.1
report_port = $port
EOF
        mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=normal \
            --skip-test-db > "$dir/install.log" 2>&1 || { cat "$dir/install.log"; die "install-db $port"; }
        fresh=1
    fi
    setsid mariadbd --defaults-file="$dir/my.cnf" < /dev/null > "$dir/stdout.log" 2>&1 &
    local i
    for i in $(seq 1 120); do
        mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1 && break
        sleep 0.5
    done
    if [ $fresh = 1 ]; then
        mariadb --socket="$dir/mysql.sock" -uroot -e "SET sql_log_bin=0;
            CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
            GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
            DELETE FROM mysql.global_priv WHERE User=''; FLUSH PRIVILEGES; RESET MASTER;"
    fi
    log "instance $port up"
}
mdb_stop() {
    local port=$1 pid
    [ -f "$BENCH_ROOT/$port/mariadbd.pid" ] || return 0
    pid=$(cat "$BENCH_ROOT/$port/mariadbd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 240); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    log "instance $port stopped"
}
wait_gtid() {  # wait_gtid PORT GTID
    local r i
    for i in $(seq 1 1800); do
        r=$(q "$1" "SELECT MASTER_GTID_WAIT('$2', 2)")
        [ "$r" = 0 ] && return 0
    done
    die "replica $1 did not reach $2"
}
sync_replica() { wait_gtid "$DST" "$(q "$SRC" "SELECT @@gtid_binlog_pos")"; }

# --- instances and data --------------------------------------------------------------------
mdb_start "$SRC"
mdb_start "$DST"
# the instances (unless KEEP=1) and any oms process stop at the end, also on Ctrl-C or TERM
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || { mdb_stop "$SRC"; mdb_stop "$DST"; }
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ntab=$(q "$SRC" "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='sbtest'")
nrows=$(q "$SRC" "SELECT COALESCE(SUM(table_rows),0) FROM information_schema.tables WHERE table_schema='sbtest'" )
if [ "$ntab" != "$TABLES" ] || [ "$(q "$SRC" "SELECT COUNT(*) FROM sbtest.sbtest1" 2>/dev/null || echo 0)" != "$ROWS" ]; then
    log "preparing sysbench $TABLES x $ROWS on $SRC"
    q "$SRC" "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
    sysbench oltp_common --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$SRC" --mysql-user=root \
        --mysql-db=sbtest --tables="$TABLES" --table-size="$ROWS" --threads=2 prepare > "$WORK/prepare.log" 2>&1 \
        || { tail "$WORK/prepare.log"; die "sysbench prepare"; }
fi
if [ -z "$(mc "$DST" -e 'SHOW SLAVE STATUS\G' | awk '/Master_Host:/{print $2}')" ]; then
    q "$DST" "SET GLOBAL gtid_slave_pos=''; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$SRC,
              MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos; START SLAVE;"
else
    q "$DST" "START SLAVE"
fi
sync_replica
q "$SRC" "ANALYZE TABLE $(q "$SRC" "SELECT GROUP_CONCAT(CONCAT('sbtest.',table_name)) FROM information_schema.tables WHERE table_schema='sbtest'")" > /dev/null
NROWS=$((TABLES * ROWS))
log "data: $NROWS rows in $TABLES tables; source $SRC, replica/target $DST"

# --- the three methods ---------------------------------------------------------------------
q "$SRC" "CREATE DATABASE IF NOT EXISTS percona;
          CREATE TABLE IF NOT EXISTS percona.dsns (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, dsn VARCHAR(255));
          DELETE FROM percona.dsns; INSERT INTO percona.dsns (dsn) VALUES ('h=127.0.0.1,P=$DST,u=root');"
m_pt_checksum() {
    pt-table-checksum h=127.0.0.1,P="$SRC",u=root --databases=sbtest \
        --recursion-method="dsn=h=127.0.0.1,P=$SRC,u=root,D=percona,t=dsns" \
        --no-check-binlog-format > "$WORK/pt.log" 2>&1 || { cat "$WORK/pt.log" >&2; die "pt-table-checksum failed"; }
}
TBL_LIST=$(q "$SRC" "SELECT GROUP_CONCAT(CONCAT('sbtest.',table_name) ORDER BY table_name) FROM information_schema.tables WHERE table_schema='sbtest'")
m_checksum_table() {
    q "$SRC" "CHECKSUM TABLE $TBL_LIST" > "$WORK/ct_src.out" & local p1=$!
    q "$DST" "CHECKSUM TABLE $TBL_LIST" > "$WORK/ct_dst.out" & local p2=$!
    wait $p1; wait $p2
    cmp -s "$WORK/ct_src.out" "$WORK/ct_dst.out" || log "CHECKSUM TABLE: tables differ"
}
log "building oms"
(cd "$REPO" && go build -o "$WORK/oms" ./cmd/oms)
cat > "$WORK/spec.json" <<EOF
{"kind": "full-verify", "task_id": "bench-verify", "epoch": 1, "work_dir": "$WORK/oms-work",
 "config": {"source": {"host": "127.0.0.1", "port": $SRC, "user": "root"},
            "target": {"host": "127.0.0.1", "port": $DST, "user": "root"},
            "selection": {"tables": [{"db": "sbtest"}]},
            "concurrency": $CONCURRENCY, "chunk_size": $CHUNK, "output_dir": "$WORK/oms-out"}}
EOF
m_oms() {
    rm -rf "$WORK/oms-work"
    "$WORK/oms" component full-verify --spec "$WORK/spec.json" 2> "$WORK/oms.log" || { cat "$WORK/oms.log" >&2; die "oms failed"; }
}

declare -A T
for run in $(seq 1 "$RUNS"); do
    for m in pt_checksum checksum_table oms; do
        sync_replica
        t0=$(now)
        "m_$m"
        secs=$(echo "$(now) - $t0" | bc)
        T[$m]="${T[$m]:-} $secs"
        log "run $run $m: $secs s"
    done
done
grep -q '"equal": true' "$WORK/oms-out/report.json" || { cat "$WORK/oms-out/report.txt"; die "oms found differences on identical data"; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
pt=$(echo "${T[pt_checksum]}" | median)
ct=$(echo "${T[checksum_table]}" | median)
om=$(echo "${T[oms]}" | median)
echo
echo "full verification, sysbench ${TABLES} x ${ROWS} ($NROWS rows), source vs identical target, median of $RUNS runs"
printf "%-34s %10s %14s   %s\n" method seconds rows/s "all runs (s)"
printf "%-34s %10.2f %14.0f  %s\n" "pt-table-checksum (replica)" "$pt" "$(echo "$NROWS / $pt" | bc)" "${T[pt_checksum]}"
printf "%-34s %10.2f %14.0f  %s\n" "CHECKSUM TABLE, both sides" "$ct" "$(echo "$NROWS / $ct" | bc)" "${T[checksum_table]}"
printf "%-34s %10.2f %14.0f  %s\n" "oms full-verify (row-level)" "$om" "$(echo "$NROWS / $om" | bc)" "${T[oms]}"
echo "ratio pt-table-checksum / oms:  $(echo "scale=2; $pt / $om" | bc)x   (target >= 4x)"
echo "ratio CHECKSUM TABLE / oms:     $(echo "scale=2; $ct / $om" | bc)x"

# --- correctness: row-level result -----------------------------------------------------------
q "$DST" "SET sql_log_bin=0; UPDATE sbtest.sbtest3 SET c = CONCAT(c, 'x') WHERE id = 777;
          DELETE FROM sbtest.sbtest5 WHERE id = 12345; UPDATE sbtest.sbtest8 SET k = k + 1 WHERE id = $ROWS;"
sed -i 's/"output_dir"/"recheck_rounds": 1, "recheck_delay": "100ms", "output_dir"/' "$WORK/spec.json"
t0=$(now); m_oms; secs=$(echo "$(now) - $t0" | bc)
echo
echo "with 3 rows changed on the target ($secs s):"
cat "$WORK/oms-out/report.txt" | grep -v ' 0  *0  *0  *$' || true
for f in "$WORK"/oms-out/*.diff; do grep -v '^#' "$f"; done | grep -v '^  '
# put the rows back
for f in "$WORK"/oms-out/*.sql; do mc "$DST" --init-command="SET sql_log_bin=0" < "$f"; done
sed -i 's/"recheck_rounds": 1, "recheck_delay": "100ms", //' "$WORK/spec.json"

#!/usr/bin/env bash
# The main job on one machine, runnable on a fresh Debian machine as root (make demo installs what
# it needs): three throwaway local MariaDB instances (MetaDB, source, target), a one-region
# config.yaml that is checked and bootstraps the MetaDB (twice: the second run changes nothing),
# two `oms node` processes on that MetaDB (127.0.0.2 and 127.0.0.3), a sysbench-like db `shop` on
# the source under a live writer, and a project source -> target created with the CLI: schema,
# full copy, incremental sync and verification, its progress shown while it runs, the verification
# result and a row-level source/target comparison at the end.
#
# Everything lives under $DEMO_DIR and is stopped on exit (KEEP=1 leaves it all running).
# Exit code 0 only when the project ran every step, verification found no differences and the
# final row-level check matches. No password appears on a command line: they are in files
# (mode 600) or in the environment of the one process that needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
OMS=${OMS:-./bin/oms}
OMS=$(cd "$(dirname "$OMS")" && pwd)/$(basename "$OMS")
DEMO_DIR=${DEMO_DIR:-/tmp/oms-demo}
TABLES=${TABLES:-4}          # shop.sbtest1..N
ROWS=${ROWS:-20000}          # rows per table
WRITE_PAUSE=${WRITE_PAUSE:-0.1} # seconds between writer transactions (about 10 a second)
TIMEOUT=${TIMEOUT:-300}      # seconds the project may take to catch up and verify
IPS=(127.0.0.2 127.0.0.3)

say() { printf '\n== %s\n' "$*"; }
die() { printf '\nDEMO FAILED: %s\n' "$*" >&2; exit 1; }
# secret prints a random password (never passed on a command line: written to files / env).
secret() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# free_port prints a random TCP port nothing listens on (on any of 127.0.0.1-3).
free_port() {
  local p ip busy
  while :; do
    p=$(( 20000 + RANDOM % 30000 )); busy=0
    for ip in 127.0.0.1 "${IPS[@]}"; do
      if (exec 3<>"/dev/tcp/$ip/$p") 2>/dev/null; then busy=1; break; fi
    done
    [ "$busy" = 0 ] && { echo "$p"; return; }
  done
}
# http_ok HOST PORT PATH: an HTTP GET answered 200 (bash only; curl may be missing).
# tcp_ok: the port accepts connections (CM and supervisor speak mutual TLS only; the console's
# /oms/health answers for the node).
tcp_ok() { { exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1; exec 3>&- 3<&-; }
http_ok() {
  local line
  { exec 3<>"/dev/tcp/$1/$2"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&3
  read -r -t 5 line <&3 || line=
  exec 3>&- 3<&-
  [[ $line == "HTTP/"*" 200"* ]]
}
elapsed() { printf '%3ds' "$SECONDS"; }

rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR"; chmod 700 "$DEMO_DIR"
META=$DEMO_DIR/meta SRC=$DEMO_DIR/source DST=$DEMO_DIR/target
NODE_PIDS=() WRITER_PID=
declare -A CONSOLE_PORT

# component_pids: live `oms component` processes whose spec lies under $DEMO_DIR (the supervisor
# starts each in its own process group, and they outlive their node by design).
component_pids() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q "^[^ ]*oms component .* $DEMO_DIR/" && echo "$pid"
  done
  return 0
}
stop_mariadb() { # DIR
  [ -f "$1/mariadbd.pid" ] || return 0
  kill "$(cat "$1/mariadbd.pid")" 2>/dev/null || true
  for _ in $(seq 1 300); do [ -f "$1/mariadbd.pid" ] || break; sleep 0.1; done
}
cleanup() {
  local rc=$?
  if [ -n "$WRITER_PID" ]; then touch "$DEMO_DIR/writer.stop"; sleep 0.5; kill "$WRITER_PID" 2>/dev/null || true; fi
  if [ "$rc" != 0 ]; then
    for ip in "${IPS[@]}"; do
      [ -f "$DEMO_DIR/node-$ip.log" ] && { echo "--- last lines of $DEMO_DIR/node-$ip.log"; tail -n 15 "$DEMO_DIR/node-$ip.log"; }
    done >&2
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    cat > "$DEMO_DIR/stop.sh" <<STOP
#!/usr/bin/env bash
# Stops what scripts/demo.sh left running with KEEP=1: the nodes, their components, the MariaDBs.
for pid in ${NODE_PIDS[*]}; do kill -TERM -- "-\$pid" 2>/dev/null; done; sleep 3
for f in $DEMO_DIR/node-*/run/*/pid; do [ -f "\$f" ] && kill -TERM -- "-\$(cut -d' ' -f1 "\$f")" 2>/dev/null; done; sleep 1
for f in $DEMO_DIR/*/mariadbd.pid; do [ -f "\$f" ] && kill "\$(cat "\$f")"; done; exit 0
STOP
    chmod +x "$DEMO_DIR/stop.sh"
    say "KEEP=1: everything is still running under $DEMO_DIR (nodes: pids ${NODE_PIDS[*]:-none}, console http://${IPS[0]}:${CONSOLE_PORT[${IPS[0]}]:-?}, user admin, password in $DEMO_DIR/admin.password); stop it with $DEMO_DIR/stop.sh"
    return
  fi
  local pid
  for pid in "${NODE_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${NODE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for pid in "${NODE_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for pid in $(component_pids); do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do [ -z "$(component_pids)" ] && break; sleep 0.1; done
  for pid in $(component_pids); do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
  for d in "$SRC" "$DST" "$META"; do stop_mariadb "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_mariadb DIR PORT SERVER_ID [extra mariadbd flags]: a throwaway instance with its own
# datadir, root over the socket without a password.
start_mariadb() {
  local dir=$1 port=$2 sid=$3; shift 3
  mkdir -p "$dir/data" "$dir/tmp" "$dir/binlog"
  mariadb-install-db --no-defaults --user=root --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --auth-root-authentication-method=normal --skip-test-db > "$dir/install.log" 2>&1
  setsid mariadbd --no-defaults --user=root --datadir="$dir/data" --tmpdir="$dir/tmp" --port="$port" \
    --bind-address=127.0.0.1 --socket="$dir/mysql.sock" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --skip-name-resolve --server-id="$sid" \
    --innodb-buffer-pool-size=128M --innodb-log-file-size=32M --innodb-flush-log-at-trx-commit=2 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --max-connections=500 --max-allowed-packet=256M --performance-schema=OFF "$@" \
    < /dev/null > "$dir/stdout.log" 2>&1 &
  for _ in $(seq 1 300); do mariadb-admin --socket="$dir/mysql.sock" -uroot ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -n 20 "$dir/error.log" >&2; die "mariadbd in $dir did not start"
}
# Source and target as the tests run them (internal/testenv): ROW binlog with full images and
# metadata, GTID strict mode, distinct server ids.
BINLOG_FLAGS=(--binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL
  --gtid-strict-mode=ON --gtid-domain-id=0 --log-slave-updates=ON --max-binlog-size=256M --sync-binlog=0)
# sql DIR: the mariadb client on an instance's socket as root (SQL on stdin or with -e).
sql() { local dir=$1; shift; mariadb --socket="$dir/mysql.sock" -uroot "$@"; }

META_PORT=${PORT:-$(free_port)}
say "starting a local MariaDB as the MetaDB on 127.0.0.1:$META_PORT"
start_mariadb "$META" "$META_PORT" 1
META_PW=$(secret)
sql "$META" <<SQL
CREATE USER 'oms_meta_user'@'127.0.0.1' IDENTIFIED BY '$META_PW';
GRANT ALL ON *.* TO 'oms_meta_user'@'127.0.0.1';
SQL

say "config.yaml (region cn-hangzhou, prefix oms, nodes ${IPS[*]})"
( umask 077; cat > "$DEMO_DIR/config.yaml" <<YAML
oms_meta_host: 127.0.0.1
oms_meta_port: $META_PORT
oms_meta_user: oms_meta_user
oms_meta_password: "$META_PW"
drc_rm_db: oms_rm
drc_cm_db: oms_cm
drc_cm_heartbeat_db: oms_cm_hb
cm_url: http://127.0.0.1:8088
cm_location: 1
cm_region: cn-hangzhou
cm_region_cn: cn-hangzhou
cm_is_default: true
cm_nodes:
$(for ip in "${IPS[@]}"; do echo " - $ip"; done)
YAML
)
"$OMS" version
"$OMS" config check -c "$DEMO_DIR/config.yaml"
echo "(the cm_url warning is expected here: both nodes run on this one machine)"
"$OMS" config show -c "$DEMO_DIR/config.yaml"

say "oms metadb init (first run creates the databases)"
"$OMS" metadb init -c "$DEMO_DIR/config.yaml"
say "oms metadb init (second run: nothing changes)"
"$OMS" metadb init -c "$DEMO_DIR/config.yaml"

say "MetaDB contents"
sql "$META" -e "
  SELECT table_schema AS db, GROUP_CONCAT(table_name ORDER BY table_name) AS tables
  FROM information_schema.tables WHERE table_schema LIKE 'oms\\_%' GROUP BY table_schema;"

say "the guide's own sample file, as written (masked passwords are reported, every other key checked)"
"$OMS" config check -c internal/config/testdata/seed-hangzhou.yaml || echo "(exit code $?: as expected for masked passwords)"

SRC_PORT=$(free_port); DST_PORT=$(free_port)
while [ "$DST_PORT" = "$SRC_PORT" ] || [ "$DST_PORT" = "$META_PORT" ]; do DST_PORT=$(free_port); done
say "starting the source MariaDB on 127.0.0.1:$SRC_PORT and the target on 127.0.0.1:$DST_PORT"
start_mariadb "$SRC" "$SRC_PORT" 11 --log-bin="$SRC/binlog/mysql-bin" --relay-log="$SRC/binlog/relay-bin" "${BINLOG_FLAGS[@]}"
start_mariadb "$DST" "$DST_PORT" 12 --log-bin="$DST/binlog/mysql-bin" --relay-log="$DST/binlog/relay-bin" "${BINLOG_FLAGS[@]}"
SRC_PW=$(secret); DST_PW=$(secret)
sql "$SRC" <<SQL
SET sql_log_bin=0;
CREATE USER 'oms_src'@'127.0.0.1' IDENTIFIED BY '$SRC_PW';
GRANT ALL ON *.* TO 'oms_src'@'127.0.0.1';
SQL
sql "$DST" <<SQL
SET sql_log_bin=0;
CREATE USER 'oms_dst'@'127.0.0.1' IDENTIFIED BY '$DST_PW';
GRANT ALL ON *.* TO 'oms_dst'@'127.0.0.1';
SQL
sql "$SRC" -N -e "SELECT CONCAT('source: ', @@version, ', log_bin=', @@log_bin, ', binlog_format=', @@binlog_format,
  ', binlog_row_image=', @@binlog_row_image, ', binlog_row_metadata=', @@binlog_row_metadata, ', gtid_strict_mode=', @@gtid_strict_mode)"

say "seeding the source: shop.sbtest1..$TABLES, $ROWS rows each (sysbench-like)"
{
  echo "CREATE DATABASE shop; USE shop;"
  for i in $(seq 1 "$TABLES"); do
    cat <<SQL
CREATE TABLE shop.sbtest$i (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_$i (k)) ENGINE=InnoDB;
INSERT INTO shop.sbtest$i (id, k, c, pad)
  SELECT seq, FLOOR(1 + RAND($i * 1000003 + seq) * $ROWS),
         LEFT(CONCAT_WS('-', MD5(seq), MD5(seq + $i), MD5(seq * 7 + $i), MD5(seq * 13)), 119),
         LEFT(CONCAT_WS('-', MD5(seq * 3 + $i), MD5(seq * 5)), 59)
  FROM seq_1_to_$ROWS;
SQL
  done
} | sql "$SRC"
for i in $(seq 1 "$TABLES"); do
  [ "$i" = 1 ] || echo "UNION ALL"; echo "SELECT 'shop.sbtest$i' AS table_name, COUNT(*) AS row_count FROM shop.sbtest$i"
done | sql "$SRC" -t

say "starting two oms nodes (${IPS[*]}) on the one MetaDB"
ADMIN_PW=$(secret)
( umask 077; echo "$ADMIN_PW" > "$DEMO_DIR/admin.password" )
for ip in "${IPS[@]}"; do
  cp=$(free_port); cmp=$(free_port); sp=$(free_port)
  CONSOLE_PORT[$ip]=$cp
  OMS_ADMIN_PASSWORD=$ADMIN_PW setsid "$OMS" node -c "$DEMO_DIR/config.yaml" --host-ip "$ip" \
    --data-dir "$DEMO_DIR/node-$ip" --console-port "$cp" --cm-port "$cmp" --supervisor-port "$sp" \
    < /dev/null >> "$DEMO_DIR/node-$ip.log" 2>&1 &
  pid=$!; NODE_PIDS+=("$pid")
  ok=0
  for _ in $(seq 1 240); do
    kill -0 "$pid" 2>/dev/null || die "node $ip exited during start (log: $DEMO_DIR/node-$ip.log)"
    if http_ok "$ip" "$cp" /oms/health && tcp_ok "$ip" "$cmp" && tcp_ok "$ip" "$sp"; then ok=1; break; fi
    sleep 0.25
  done
  [ "$ok" = 1 ] || die "node $ip not healthy within 60s"
  echo "node $ip healthy: console http://$ip:$cp/oms/health, CM https://$ip:$cmp (mutual TLS), supervisor https://$ip:$sp (mutual TLS) (pid $pid, log $DEMO_DIR/node-$ip.log)"
done

CONSOLE_URL="http://${IPS[0]}:${CONSOLE_PORT[${IPS[0]}]}/"
say "web console: $CONSOLE_URL (also http://${IPS[1]}:${CONSOLE_PORT[${IPS[1]}]}/)"
echo "log in as admin; the password is in $DEMO_DIR/admin.password (cat it); run with KEEP=1 to keep it up after the demo"

# cli: the oms CLI against the first node; the password is in its environment only.
cli() { OMS_SERVER="http://${IPS[0]}:${CONSOLE_PORT[${IPS[0]}]}" OMS_USER=admin OMS_PASSWORD=$ADMIN_PW "$OMS" "$@"; }

for _ in $(seq 1 80); do
  [ "$(cli host list 2>/dev/null | grep -c ' ONLINE ')" -ge 2 ] && break; sleep 0.25
done
say "oms host list"
cli host list

# The live writer: one mariadb client reading a stream of sysbench-like write transactions
# (update k, update c, delete + re-insert a row) on random rows, until writer.stop appears.
say "starting a live writer on the source (about $(awk "BEGIN{printf \"%d\", 1/$WRITE_PAUSE}") transactions a second)"
bash -c '
  n=0
  while [ ! -e "$1/writer.stop" ]; do
    t=$(( RANDOM % $2 + 1 )); id=$(( (RANDOM * 32768 + RANDOM) % ($3 * 2) + 1 )); id2=$(( (RANDOM * 32768 + RANDOM) % $3 + 1 ))
    echo "BEGIN; UPDATE shop.sbtest$t SET k = k + 1 WHERE id = $id; UPDATE shop.sbtest$t SET c = CONCAT(\"upd-\", $n, \"-\", RAND()) WHERE id = $id2;"
    echo "DELETE FROM shop.sbtest$t WHERE id = $id; INSERT INTO shop.sbtest$t (id, k, c, pad) VALUES ($id, $RANDOM, \"ins-$n\", \"pad\"); COMMIT;"
    n=$((n + 1)); echo "$n" > "$1/writer.count"
    sleep "$4"
  done' writer "$DEMO_DIR" "$TABLES" "$ROWS" "$WRITE_PAUSE" \
  | sql "$SRC" --force > "$DEMO_DIR/writer.log" 2>&1 &
WRITER_PID=$!
sleep 1
echo "writer has sent $(cat "$DEMO_DIR/writer.count" 2>/dev/null || echo 0) transactions so far"

say "project.yaml and oms project create"
( umask 077; cat > "$DEMO_DIR/project.yaml" <<YAML
name: demo-shop
source: {name: demo-src, host: 127.0.0.1, port: $SRC_PORT, userName: oms_src, password: "$SRC_PW"}
sink: {name: demo-dst, host: 127.0.0.1, port: $DST_PORT, userName: oms_dst, password: "$DST_PW"}
transferMapping:
  tables:
    - {db: shop, table: "sbtest*"}
enableFullVerify: true
start: true
YAML
)
sed -E 's/(password: )"[^"]*"/\1"***"/' "$DEMO_DIR/project.yaml"
out=$(cli project create -f "$DEMO_DIR/project.yaml") || die "oms project create: $out"
echo "$out"
PID=$(awk '{print $1; exit}' <<<"$out")
[ -n "$PID" ] || die "no project id in: $out"

# step_field SHOW STEP COLUMN: a column (2 status, 3 progress, 4 detail) of a step in `project show`.
step_field() { awk -F '  +' -v s="$2" -v c="$3" '$1 == s {print $c; exit}' <<<"$1"; }
# progress_line SHOW: one line with the project state and each step's status, progress, detail.
progress_line() {
  local state; state=$(awk 'NR==1 {print $NF}' <<<"$1")
  printf '[%s] %-8s ' "$(elapsed)" "$state"
  awk -F '  +' '/^STEP/ {on=1; next} on && NF == 0 {exit}
    on { name=$1; sub(/^TRANSFER_/, "", name); sub(/_TRANSFER$/, "", name); d=""
         if (match($4, /^[0-9]+\/[0-9]+ rows/)) d=substr($4, RSTART, RLENGTH)
         else if (match($4, /^lag [0-9.]+s/)) d=substr($4, RSTART, RLENGTH)
         else if ($2 == "FINISHED" && match($4, /^[0-9]+ differences/)) d=substr($4, RSTART, RLENGTH)
         else if ($2 == "RUNNING" && match($4, / on [0-9.]+$/)) d="on" substr($4, RSTART + 3)
         st=$2; if (st == "FINISHED") st="done"; else if (st == "PENDING") st="-"; else if (st == "MONITORING") st="monitoring"; else st=tolower(st)
         printf " %s:%s%s%s", name, st, (st == "running" ? " " $3 : ""), (d != "" ? " (" d ")" : "") }' <<<"$1"
  [ -n "$WRITER_PID" ] && printf '  | writer: %s txns sent' "$(cat "$DEMO_DIR/writer.count" 2>/dev/null || echo 0)"
  echo
}
# wait_step STEP STATUS WHAT: poll `oms project show` every 2 s, printing progress, until STEP has
# STATUS; dies when the project fails or $TIMEOUT passes.
SHOW=
wait_step() {
  local last=
  while :; do
    SHOW=$(cli project show "$PID" 2>&1) || { echo "$SHOW"; die "oms project show failed"; }
    line=$(progress_line "$SHOW")
    key=${line#*] }; key=${key%%  | writer*}
    [ "$key" != "$last" ] && echo "$line"
    last=$key
    if [ "$(awk 'NR==1 {print $NF}' <<<"$SHOW")" = FAILED ]; then echo "$SHOW"; die "project $PID failed"; fi
    [ "$(step_field "$SHOW" "$1" 2)" = "$2" ] && return 0
    [ "$SECONDS" -lt "$((T0 + TIMEOUT))" ] || { echo "$SHOW"; die "timed out waiting for $3"; }
    sleep 2
  done
}
T0=$SECONDS
say "progress (oms project show $PID every 2 s; printed when something changes)"
wait_step INCR_TRANSFER MONITORING "the incremental transfer to catch up"
echo "incremental transfer caught up after $((SECONDS - T0))s; writer has sent $(cat "$DEMO_DIR/writer.count") transactions"
sleep 3
touch "$DEMO_DIR/writer.stop"; wait "$WRITER_PID" || true; WRITER_PID=
echo "writer stopped after $(cat "$DEMO_DIR/writer.count") transactions ($(grep -c ERROR "$DEMO_DIR/writer.log" || true) errors)"
wait_step FULL_VERIFIER FINISHED "the full verification"
echo "full verification finished after $((SECONDS - T0))s"

say "oms project show $PID"
echo "$SHOW"
say "oms component list"
cli component list
say "oms host list"
cli host list

say "verification result"
verdict=$(step_field "$SHOW" FULL_VERIFIER 4)
echo "FULL_VERIFIER: $verdict"
diffs=$(grep -oE '^[0-9]+ differences' <<<"$verdict" | awk '{print $1}')
[ -n "$diffs" ] || die "no differences count in the verifier's result"

say "row-level check: COUNT(*) and SUM(CRC32(CONCAT_WS('#', id, k, c, pad))) per table"
digest() { # DIR TABLE
  sql "$1" -N -e "SELECT CONCAT(COUNT(*), ' rows, crc ', COALESCE(SUM(CRC32(CONCAT_WS('#', id, k, c, pad))), 0)) FROM shop.$2"
}
# The writer is stopped: wait (up to 60 s) for Incr-Sync to apply the last transactions.
for _ in $(seq 1 60); do
  same=1
  for i in $(seq 1 "$TABLES"); do [ "$(digest "$SRC" "sbtest$i")" = "$(digest "$DST" "sbtest$i")" ] || { same=0; break; }; done
  [ "$same" = 1 ] && break; sleep 1
done
printf '%-8s  %-30s  %-30s  %s\n' TABLE SOURCE TARGET MATCH
for i in $(seq 1 "$TABLES"); do
  a=$(digest "$SRC" "sbtest$i"); b=$(digest "$DST" "sbtest$i")
  printf '%-8s  %-30s  %-30s  %s\n' "sbtest$i" "$a" "$b" "$([ "$a" = "$b" ] && echo yes || echo NO)"
done

[ "$diffs" = 0 ] || die "verification found $diffs differences"
[ "$same" = 1 ] || die "source and target differ at row level"
say "demo finished in ${SECONDS}s: project $PID migrated shop ($TABLES tables) under live writes, 0 differences, source == target"
echo "web console: $CONSOLE_URL  user admin, password in $DEMO_DIR/admin.password$([ "${KEEP:-0}" = 1 ] || echo ' (stopped now: run with KEEP=1 to keep it)')"

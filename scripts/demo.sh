#!/usr/bin/env bash
# The main job, runnable on a fresh Debian machine as root (make demo installs what it needs):
# start a local MariaDB as the MetaDB, write a config.yaml for one region, check it, and
# bootstrap the MetaDB twice (the second run changes nothing). Everything lives under
# $DEMO_DIR and is stopped at the end (set KEEP=1 to leave the MetaDB running).
set -euo pipefail
cd "$(dirname "$0")/.."
OMS=${OMS:-./bin/oms}
DEMO_DIR=${DEMO_DIR:-/tmp/oms-demo}
PORT=${PORT:-$(( 20000 + RANDOM % 20000 ))}

say() { printf '\n== %s\n' "$*"; }

rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR/meta/data"
META=$DEMO_DIR/meta
cleanup() {
  if [ "${KEEP:-0}" != 1 ] && [ -f "$META/mariadbd.pid" ]; then
    kill "$(cat "$META/mariadbd.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do [ -f "$META/mariadbd.pid" ] || break; sleep 0.1; done
  fi
}
trap cleanup EXIT

say "starting a local MariaDB as the MetaDB on 127.0.0.1:$PORT"
mariadb-install-db --no-defaults --user=root --datadir="$META/data" \
  --auth-root-authentication-method=normal --skip-test-db > "$META/install.log" 2>&1
setsid mariadbd --no-defaults --user=root --datadir="$META/data" --port="$PORT" \
  --bind-address=127.0.0.1 --socket="$META/mysql.sock" --pid-file="$META/mariadbd.pid" \
  --log-error="$META/error.log" --skip-name-resolve < /dev/null > /dev/null 2>&1 &
for _ in $(seq 1 200); do mariadb-admin --socket="$META/mysql.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.1; done
mariadb --socket="$META/mysql.sock" -uroot -e "
  CREATE USER 'oms_meta_user'@'127.0.0.1' IDENTIFIED BY 'demo-meta-pass';
  GRANT ALL ON *.* TO 'oms_meta_user'@'127.0.0.1';"

say "config.yaml (region cn-hangzhou, prefix oms)"
cat > "$DEMO_DIR/config.yaml" <<YAML
oms_meta_host: 127.0.0.1
oms_meta_port: $PORT
oms_meta_user: oms_meta_user
oms_meta_password: "demo-meta-pass"
drc_rm_db: oms_rm
drc_cm_db: oms_cm
drc_cm_heartbeat_db: oms_cm_hb
cm_url: http://127.0.0.1:8088
cm_location: 1
cm_region: cn-hangzhou
cm_region_cn: cn-hangzhou
cm_is_default: true
cm_nodes:
 - 127.0.0.1
YAML
"$OMS" version
"$OMS" config check -c "$DEMO_DIR/config.yaml"
"$OMS" config show -c "$DEMO_DIR/config.yaml"

say "oms metadb init (first run creates the databases)"
"$OMS" metadb init -c "$DEMO_DIR/config.yaml"
say "oms metadb init (second run: nothing changes)"
"$OMS" metadb init -c "$DEMO_DIR/config.yaml"

say "MetaDB contents"
mariadb --socket="$META/mysql.sock" -uroot -e "
  SELECT table_schema AS db, GROUP_CONCAT(table_name ORDER BY table_name) AS tables
  FROM information_schema.tables WHERE table_schema LIKE 'oms\\_%' GROUP BY table_schema;"

say "the guide's own sample file, as written (masked passwords are reported, every other key checked)"
"$OMS" config check -c internal/config/testdata/seed-hangzhou.yaml || echo "(exit code $?: as expected for masked passwords)"
say "demo finished"

# omslib.sh - oms component helpers of the benchmarks; source it after baselines.sh, with ROOT
# (the checkout) and BENCH_ROOT set.
#
#   build_oms                          go build ./cmd/oms to $OMS
#   seq0 SET                           sequence number of domain 0 in a MariaDB GTID set
#   covers SET GTID                    whether SET reaches GTID (domain 0)
#   jget JSON KEY                      a component status field, or metrics.KEY ("" if absent)
#   status_of DIR                      /status of the component whose work dir is DIR (over
#                                      mutual TLS with CURL_TLS when DIR holds a file .tls)
#   start_component KIND DIR TASK CONFIG_JSON
#                                      `oms component KIND` in the background (its pid: COMP_PID),
#                                      returns once it serves its status (a store: and consumers)
#   wait_position DIR GTID [TIMEOUT_S] until the component's position covers GTID; dies when it
#                                      fails, exits or times out
OMS=${OMS:-$BENCH_ROOT/oms}
CURL_TLS=()  # a node certificate's curl options (incr_apply.sh's OMS_BENCH_TLS=1 sets them)

build_oms() {
    local rev; rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    log "building oms (rev $rev)"
    (cd "$ROOT" && go build -o "$OMS" ./cmd/oms)
}
seq0() { echo "$1" | tr -d ' \n' | tr ',' '\n' | awk -F- '$1=="0"{print $3}'; }
covers() { local a; a=$(seq0 "$1"); [ -n "$a" ] && [ "$a" -ge "$(seq0 "$2")" ]; }
jget() {
    echo "$1" | jq -r --arg k "$2" '(.[$k] // .metrics[$k] // empty) | tostring' 2>/dev/null || true; }
status_of() {
    if [ -f "$1/.tls" ]; then curl -s --max-time 5 "${CURL_TLS[@]}" "https://$(cat "$1/status.addr")/status"
    else curl -s --max-time 5 "http://$(cat "$1/status.addr")/status"; fi
}

start_component() {
    local kind=$1 dir=$2 task=$3 config=$4 i
    mkdir -p "$dir"; rm -f "$dir/status.addr" "$dir/store.addr"
    printf '{"kind":"%s","task_id":"%s","epoch":1,"status_addr":"127.0.0.1:0","work_dir":"%s","config":%s}\n' \
        "$kind" "$task" "$dir" "$config" > "$dir/spec.json"
    chmod 600 "$dir/spec.json"
    "$OMS" component "$kind" --spec "$dir/spec.json" 2>> "$dir/component.log" &
    COMP_PID=$!
    for i in $(seq 1 3000); do
        if [ -f "$dir/status.addr" ] && { [ "$kind" != store ] || [ -f "$dir/store.addr" ]; }; then return 0; fi
        kill -0 "$COMP_PID" 2>/dev/null || { tail -20 "$dir/component.log"; die "$kind ($dir) exited"; }
        sleep 0.02
    done
    die "$kind ($dir) did not start in 60 s"
}

wait_position() {
    local dir=$1 gtid=$2 limit=${3:-600} t0 st pos
    t0=$(date +%s)
    while :; do
        st=$(status_of "$dir" || true)
        pos=$(jget "$st" position)
        covers "$pos" "$gtid" && return 0
        [ "$(jget "$st" state)" = FAILED ] && { echo "$st" >&2; tail -20 "$dir/component.log"; die "component in $dir FAILED"; }
        [ $(( $(date +%s) - t0 )) -lt "$limit" ] || { echo "$st" >&2; die "component in $dir did not reach $gtid in $limit s"; }
        sleep 0.1
    done
}

# baselines.sh - sourced by the bench scripts after they set BENCH_ROOT and RESULTS_DIR: loads
# the baselines' lib.sh (instances started the same way as the baseline results), found next to
# the checkout (../shared/baselines) or at BASELINES.
BASELINES=${BASELINES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/baselines}
[ -f "$BASELINES/lib.sh" ] || BASELINES=/work/shared/baselines
[ -f "$BASELINES/lib.sh" ] || { echo "bench: no lib.sh in $BASELINES; set BASELINES to the shared/baselines directory" >&2; exit 1; }
. "$BASELINES/lib.sh"

# on_exit PORT...: when the script ends - finished, failed, Ctrl-C or SIGTERM - stop the
# background processes it started (oms components, proxies, load generators) and the MariaDB
# instances on PORT... (KEEP=1 leaves the instances running). Call it before starting anything.
# A foreground command (sysbench run) finishes before bash runs the trap; Ctrl-C reaches it too.
on_exit() {
    BENCH_STOP_PORTS="$*"
    trap bench_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
bench_exit() {
    local rc=$? pid f instances=" "
    trap - EXIT INT TERM
    # instances are background jobs too (mdb_start): they are left to mdb_stop, or to KEEP=1
    for f in "$BENCH_ROOT"/*/mariadbd.pid; do [ -f "$f" ] && instances+="$(cat "$f") "; done
    for pid in $(jobs -p); do
        case $instances in *" $pid "*) continue ;; esac
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ] && [ -n "${BENCH_STOP_PORTS:-}" ]; then
        # shellcheck disable=SC2086
        mdb_stop $BENCH_STOP_PORTS || true
    fi
    exit "$rc"
}

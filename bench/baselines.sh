# baselines.sh - sourced by the bench scripts after they set BENCH_ROOT and RESULTS_DIR: loads
# the baselines' lib.sh (instances started the same way as the baseline results), found next to
# the checkout (../shared/baselines) or at BASELINES.
BASELINES=${BASELINES:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/baselines}
[ -f "$BASELINES/lib.sh" ] || BASELINES=/work/shared/baselines
[ -f "$BASELINES/lib.sh" ] || { echo "bench: no lib.sh in $BASELINES; set BASELINES to the shared/baselines directory" >&2; exit 1; }
. "$BASELINES/lib.sh"

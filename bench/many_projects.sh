#!/bin/bash
# many_projects.sh - many small projects on a few nodes (issue 20):
#
#   bench/many_projects.sh                # 60 projects, 3 nodes of one region
#   PROJECTS=20 bench/many_projects.sh    # fewer
#
# Starts its own MetaDB, source and target MariaDB and three `oms node` processes (the real
# binary, through the test/e2e harness: TestBenchManyProjects, skipped by `make test`), creates
# PROJECTS projects of one small table each (full import, then incremental sync), and prints:
#   placement     running components per node, most/least (target <= 1.5)
#   idle CPU      of each node and its components over 10 s without writes (node, Stores, Incr-Syncs)
#   MetaDB        queries/s while idle, and the most frequent statements (its general log)
#   failover      seconds until every component of the most loaded node, killed with -9
#                 together with its children, runs on another node (target <= 30 s)
#   correctness   CHECKSUM TABLE equal for every table after writes before and after the kill
# Everything it starts is stopped at the end, also when interrupted (the test's cleanups, and
# the test binary's children die with it).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMS_BENCH_MANY_PROJECTS=1 PROJECTS=${PROJECTS:-60}
LOG=${LOG:-/tmp/oms-many-projects.log}
echo "full output: $LOG"
go test -count=1 -timeout 30m -run '^TestBenchManyProjects$' -v ./test/e2e 2>&1 | tee "$LOG" | grep -E '^(placement|idle CPU|MetaDB|node |correctness)|many_projects_bench_test|^(--- |FAIL|ok|PASS)'

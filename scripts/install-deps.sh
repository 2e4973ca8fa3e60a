#!/usr/bin/env bash
# Installs what oms's tests, benchmarks and demo need on Debian 12, only when missing.
# Needs root (apt-get). Set OMS_BENCH_DEPS=1 to add the baseline tools used by bench/,
# OMS_DEPLOY_DEPS=1 for the deployment, monitoring and console tests (openssh-server, haproxy,
# influxdb, prometheus with promtool, chromium for the console's browser test).
set -euo pipefail
need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
if [ "${OMS_BENCH_DEPS:-0}" = 1 ]; then
  command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
  command -v mydumper >/dev/null 2>&1 || need+=(mydumper)
  command -v pt-table-checksum >/dev/null 2>&1 || need+=(percona-toolkit)
fi
if [ "${OMS_DEPLOY_DEPS:-0}" = 1 ]; then
  # deployment tests: sshd in network namespaces, haproxy as region VIP, influxd for tsdb checks;
  # monitoring tests: a real Prometheus scraping nodes, promtool checking the shipped rules
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  command -v influxd >/dev/null 2>&1 || need+=(influxdb)
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  # the console's browser test (test/e2e/console_browser_test.go) drives a headless Chromium
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { echo "Go is required: install Go 1.26 (https://go.dev/dl) and put it on PATH" >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2; exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps the package from starting a system-wide server: tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

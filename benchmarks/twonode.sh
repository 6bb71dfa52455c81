#!/usr/bin/env bash
# Benchmark 2 through a two-node Ray cluster on this machine: a head and a second raylet
# (one CPU each, started with cluster/start-head.sh and start-worker.sh) inside a network
# namespace that has only loopback, then benchmarks/scaling.py --address against it.
# 2 workers land one per node. Needs root (ip netns). Arguments go to scaling.py.
#
#   bash benchmarks/twonode.sh --models dcgan,vae --rounds 2
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ns=gpbench$$
base=$(mktemp -d /tmp/gpb2n-XXXX)  # short: Ray's socket paths are limited
export RAY=$PWD/$(dirname "$PY")/ray RAY_AUTH_TOKEN_PATH=$base/token GP_NODE_IP=127.0.0.1 GP_NUM_CPUS=1
export RAY_worker_niceness=0  # as gp submit's local Ray: training workers are not background work
port=6390

cleanup() {
  for node in head worker; do
    [ -d "$base/$node" ] && bash cluster/stop-node.sh "$base/$node" >/dev/null 2>&1 || true
  done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$base"
}
trap cleanup EXIT

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
GP_TEMP_DIR=$base/head GP_PORT_BASE=21000 GP_RAY_PORT=$port GP_DASHBOARD_HOST=127.0.0.1 GP_DASHBOARD_PORT=21010 \
  GP_WORKER_PORTS=21100-21199 ip netns exec "$ns" bash cluster/start-head.sh >"$base/head.log" 2>&1
GP_TEMP_DIR=$base/worker GP_PORT_BASE=22000 GP_WORKER_PORTS=22100-22199 \
  ip netns exec "$ns" bash cluster/start-worker.sh "127.0.0.1:$port" >"$base/worker.log" 2>&1
RAY_AUTH_MODE=token GP_STORAGE_PATH=$base/results \
  ip netns exec "$ns" "$PY" benchmarks/scaling.py --address "127.0.0.1:$port" "$@"

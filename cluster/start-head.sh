#!/usr/bin/env bash
# Start the Ray head node of a gp cluster by hand (GCS, dashboard with the Jobs API).
#
#   cluster/start-head.sh [extra 'ray start' options]
#
# Token authentication is on: the token is read from RAY_AUTH_TOKEN_PATH (default
# ~/.ray/auth_token) and created there, readable by its owner only, if missing. Copy the
# same file to every worker node and to every machine that submits jobs.
#
# Settings (environment, defaults in brackets):
#   GP_NODE_IP        address of this node as others reach it [first of 'hostname -I']
#   GP_RAY_PORT       GCS port, for 'start-worker.sh HEAD_IP:PORT' [6379]
#   GP_DASHBOARD_HOST dashboard and Jobs API interface [0.0.0.0]
#   GP_DASHBOARD_PORT Jobs API port: gp submit --address http://HEAD:PORT [8265]
#   GP_NUM_CPUS       CPUs this node offers to Ray [all]
#   GP_TEMP_DIR       Ray's session folder; one per node on a shared machine [/tmp/ray]
#   GP_PORT_BASE      give every other port of this node as GP_PORT_BASE+0..6 (needed when
#                     several nodes share a machine) [Ray's defaults]
#   GP_WORKER_PORTS   MIN-MAX ports for Ray worker processes [10002-19999]
#   GP_TRACKING_ENV   the nodes' own MLflow account, a file only its owner can read
#                     (KEY=VALUE: MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)
#                     [/etc/gp/tracking.env]; jobs carry no credentials
#   RAY               the ray executable [ray on PATH]; its folder goes first on PATH, so
#                     jobs run with the same Python (install gp in that environment)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster/common.sh
source "$here/common.sh"

gp_token
gp_tracking_env
args=(--head --port="${GP_RAY_PORT:-6379}" --node-ip-address="$(gp_node_ip)"
      --dashboard-host="${GP_DASHBOARD_HOST:-0.0.0.0}" --dashboard-port="${GP_DASHBOARD_PORT:-8265}")
if [ -n "${GP_PORT_BASE:-}" ]; then
  args+=(--ray-client-server-port=$((GP_PORT_BASE + 6)))
fi
exec "$RAY" start "${args[@]}" $(gp_node_args) "$@"

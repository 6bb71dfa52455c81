#!/usr/bin/env bash
# Join a worker node to a running gp cluster by hand.
#
#   cluster/start-worker.sh HEAD_IP:GCS_PORT [extra 'ray start' options]
#
# The node needs the cluster's token (RAY_AUTH_TOKEN_PATH, default ~/.ray/auth_token, or
# RAY_AUTH_TOKEN), gp installed in the same Python environment as the head, and the
# storage path that jobs use (GP_STORAGE_PATH: NFS or object storage) shared by every node.
# Settings as in start-head.sh: GP_NODE_IP, GP_NUM_CPUS, GP_TEMP_DIR, GP_PORT_BASE,
# GP_WORKER_PORTS, GP_TRACKING_ENV, RAY.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cluster/common.sh
source "$here/common.sh"

if [ $# -lt 1 ]; then
  echo "usage: $0 HEAD_IP:GCS_PORT [ray start options]" >&2
  exit 2
fi
address=$1
shift
if [ -z "${RAY_AUTH_TOKEN:-}" ] && [ ! -s "$RAY_AUTH_TOKEN_PATH" ]; then
  echo "error: no cluster token at $RAY_AUTH_TOKEN_PATH; copy the head's token there (mode 600)" >&2
  exit 2
fi
[ -n "${RAY_AUTH_TOKEN:-}" ] || chmod 600 "$RAY_AUTH_TOKEN_PATH"
gp_tracking_env
exec "$RAY" start --address="$address" --node-ip-address="$(gp_node_ip)" $(gp_node_args) "$@"

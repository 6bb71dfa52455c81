# Shared by start-head.sh and start-worker.sh (sourced, not run).

RAY=${RAY:-ray}
if ! command -v "$RAY" >/dev/null; then
  echo "error: '$RAY' not found; activate gp's environment or set RAY=/path/to/ray" >&2
  exit 2
fi
PATH="$(cd "$(dirname "$(command -v "$RAY")")" && pwd):$PATH"
export PATH
export RAY_AUTH_MODE=token
export RAY_AUTH_TOKEN_PATH=${RAY_AUTH_TOKEN_PATH:-$HOME/.ray/auth_token}

# The cluster token: created (owner-only) if missing, tightened to 0600 if it exists.
gp_token() {
  if [ -n "${RAY_AUTH_TOKEN:-}" ]; then
    return
  fi
  if [ ! -s "$RAY_AUTH_TOKEN_PATH" ]; then
    (umask 077 && mkdir -p "$(dirname "$RAY_AUTH_TOKEN_PATH")" \
      && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RAY_AUTH_TOKEN_PATH")
    echo "created the cluster token $RAY_AUTH_TOKEN_PATH (copy it to every node and client)" >&2
  fi
  chmod 600 "$RAY_AUTH_TOKEN_PATH"
}

gp_node_ip() {
  if [ -n "${GP_NODE_IP:-}" ]; then
    echo "$GP_NODE_IP"
  else
    hostname -I | awk '{print $1}'
  fi
}

# Options every node takes: CPUs, session folder, ports, no usage stats.
gp_node_args() {
  local a=(--disable-usage-stats --temp-dir="${GP_TEMP_DIR:-/tmp/ray}")
  if [ -n "${GP_NUM_CPUS:-}" ]; then
    a+=(--num-cpus="$GP_NUM_CPUS")
  fi
  if [ -n "${GP_WORKER_PORTS:-}" ]; then
    a+=(--min-worker-port="${GP_WORKER_PORTS%-*}" --max-worker-port="${GP_WORKER_PORTS#*-}")
  fi
  if [ -n "${GP_PORT_BASE:-}" ]; then
    local b=$GP_PORT_BASE
    a+=(--node-manager-port=$b --object-manager-port=$((b + 1))
        --dashboard-agent-listen-port=$((b + 2)) --dashboard-agent-grpc-port=$((b + 3))
        --metrics-export-port=$((b + 4)) --runtime-env-agent-port=$((b + 5)))
  fi
  echo "${a[@]}"
}

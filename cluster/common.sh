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

# The nodes' own MLflow account, for the jobs' drivers and workers to log with (jobs carry
# no credentials): KEY=VALUE lines from GP_TRACKING_ENV [/etc/gp/tracking.env], a file
# only its owner may read (the admin's, mode 600). Exported into the environment of
# 'ray start', which the raylet, each job's driver and every worker inherit; the file is
# read, never sourced, and only MLFLOW_TRACKING_{USERNAME,PASSWORD,TOKEN,URI} are taken.
gp_tracking_env() {
  local file=${GP_TRACKING_ENV:-/etc/gp/tracking.env} key value
  if [ ! -e "$file" ]; then
    if [ -n "${GP_TRACKING_ENV:-}" ]; then
      echo "error: GP_TRACKING_ENV=$file does not exist" >&2
      exit 2
    fi
    echo "note: no $file: jobs on this node log to MLflow without an account (see docs/cluster.md)" >&2
    return
  fi
  if [ ! -r "$file" ]; then
    echo "error: cannot read $file (the nodes' MLflow account); start the node as its owner" >&2
    exit 2
  fi
  if [ $(( 0$(stat -c %a "$file") & 077 )) -ne 0 ]; then
    echo "error: $file holds a password but others may read it; chmod 600 $file" >&2
    exit 2
  fi
  while IFS='=' read -r key value || [ -n "$key" ]; do
    case "$key" in
      MLFLOW_TRACKING_USERNAME|MLFLOW_TRACKING_PASSWORD|MLFLOW_TRACKING_TOKEN|MLFLOW_TRACKING_URI)
        [ -z "$value" ] || export "$key=$value" ;;
    esac
  done <"$file"
}

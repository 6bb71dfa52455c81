#!/usr/bin/env bash
# gp's shared MLflow tracking server: a database backend, artifacts proxied through the
# server (workers upload over HTTP, no shared filesystem) and basic authentication.
#
#   MLFLOW_AUTH_ADMIN_PASSWORD=... cluster/mlflow-server.sh     (runs in the foreground)
#
# Settings (environment, defaults in brackets):
#   GP_MLFLOW_DIR        state folder: databases, artifacts, secret key [/var/lib/gp-mlflow]
#   GP_MLFLOW_HOST       interface to listen on [0.0.0.0]
#   GP_MLFLOW_PORT       port [5000]
#   GP_MLFLOW_DB         tracking store [sqlite:///$GP_MLFLOW_DIR/mlflow.db]; a team server
#                        should use PostgreSQL or MySQL: postgresql://user:pw@db/mlflow
#   GP_MLFLOW_AUTH_DB    users and permissions [sqlite:///$GP_MLFLOW_DIR/auth.db]
#   GP_MLFLOW_ARTIFACTS  where the server stores artifacts [$GP_MLFLOW_DIR/artifacts];
#                        s3://bucket/prefix works too (credentials on the server only)
#   GP_MLFLOW_WORKERS    server processes [2]
#   GP_MLFLOW_ALLOWED_HOSTS  the Host headers to accept, instead of the default
#                        (localhost and private addresses): every name clients use,
#                        e.g. mlflow.example.com,10.0.0.10:5000 (see mlflow server --help)
#   MLFLOW_AUTH_ADMIN_PASSWORD  the admin password: required on the first start only
#   MLFLOW_FLASK_SERVER_SECRET_KEY  [generated once into $GP_MLFLOW_DIR/secret_key]
#   MLFLOW              the mlflow executable [mlflow on PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MLFLOW=${MLFLOW:-mlflow}
dir=${GP_MLFLOW_DIR:-/var/lib/gp-mlflow}
umask 077
mkdir -p "$dir/artifacts"
dir=$(cd "$dir" && pwd)
db=${GP_MLFLOW_DB:-sqlite:///$dir/mlflow.db}
auth_db=${GP_MLFLOW_AUTH_DB:-sqlite:///$dir/auth.db}

if [ -z "${MLFLOW_FLASK_SERVER_SECRET_KEY:-}" ]; then
  [ -s "$dir/secret_key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secret_key"
  MLFLOW_FLASK_SERVER_SECRET_KEY=$(cat "$dir/secret_key")
  export MLFLOW_FLASK_SERVER_SECRET_KEY
fi
sed "s|@DATABASE_URI@|$auth_db|" "$here/mlflow-auth.ini" >"$dir/auth.ini"
export MLFLOW_AUTH_CONFIG_PATH="$dir/auth.ini"
# gp needs no server-side jobs (GenAI evaluation); they start several more processes.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}

args=(--app-name basic-auth --backend-store-uri "$db"
      --serve-artifacts --artifacts-destination "${GP_MLFLOW_ARTIFACTS:-$dir/artifacts}"
      --host "${GP_MLFLOW_HOST:-0.0.0.0}" --port "${GP_MLFLOW_PORT:-5000}"
      --workers "${GP_MLFLOW_WORKERS:-2}")
if [ -n "${GP_MLFLOW_ALLOWED_HOSTS:-}" ]; then
  args+=(--allowed-hosts "$GP_MLFLOW_ALLOWED_HOSTS")
fi
exec "$MLFLOW" server "${args[@]}" "$@"

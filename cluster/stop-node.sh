#!/usr/bin/env bash
# Stop the Ray node started with a given session folder, by process id.
#
#   cluster/stop-node.sh TEMP_DIR        (the GP_TEMP_DIR the node was started with)
#
# 'ray stop' kills every Ray process on the machine, whoever started it; this stops only
# the processes whose command line names TEMP_DIR (raylet, GCS, dashboard, agents; 'ray
# start' hands them to PID 1) and their descendants (the node's Ray workers): SIGTERM,
# then SIGKILL for whatever is left after GP_STOP_GRACE_S seconds [10].
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 TEMP_DIR" >&2
  exit 2
fi
dir=$(cd "$1" 2>/dev/null && pwd || echo "$1")

# Processes naming the folder (not this script), then their descendants: in 'pids'.
pids=()
for f in /proc/[0-9]*/cmdline; do
  pid=${f#/proc/}
  pid=${pid%/cmdline}
  [ "$pid" = "$$" ] && continue
  cmd=$(tr '\0' ' ' <"$f" 2>/dev/null || true)
  case "$cmd" in *"$dir"*) pids+=("$pid") ;; esac
done
i=0
while [ $i -lt ${#pids[@]} ]; do
  for child in $(ps -o pid= --ppid "${pids[$i]}" 2>/dev/null || true); do
    case " ${pids[*]} " in *" $child "*) ;; *) pids+=("$child") ;; esac
  done
  i=$((i + 1))
done
if [ ${#pids[@]} -eq 0 ]; then
  echo "no process names $dir"
  exit 0
fi

alive() {
  local p
  for p in "$@"; do
    [ -r "/proc/$p/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && echo "$p"
  done
  return 0
}
kill -TERM "${pids[@]}" 2>/dev/null || true
for _ in $(seq $((${GP_STOP_GRACE_S:-10} * 10))); do
  [ -z "$(alive "${pids[@]}")" ] && break
  sleep 0.1
done
left=$(alive "${pids[@]}")
if [ -n "$left" ]; then
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
fi
echo "stopped ${#pids[@]} processes of the node in $dir"

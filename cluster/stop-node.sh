#!/usr/bin/env bash
# Stop the Ray node started with a given session folder, by process id.
#
#   cluster/stop-node.sh TEMP_DIR        (the GP_TEMP_DIR the node was started with)
#
# 'ray stop' kills every Ray process on the machine, whoever started it; this stops only
# the node's own processes: those Ray started with an option that puts them in TEMP_DIR
# (raylet, GCS, dashboard, monitors: --temp_dir=, --session-dir=, --log_dir=, ...), those
# whose output goes to a file in it (the head's ray.util.client.server), and their
# descendants (agents, the node's Ray workers). A process that merely names the folder (an
# editor, 'tail', a shell or 'timeout' around this script) is left alone. SIGTERM, then
# SIGKILL for whatever is left after GP_STOP_GRACE_S seconds [10].
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 TEMP_DIR" >&2
  exit 2
fi
dir=$(cd "$1" 2>/dev/null && pwd || echo "${1%/}")
real=$(cd "$dir" 2>/dev/null && pwd -P || echo "$dir")  # open files show the real path

# Does process $1 belong to the node? (its options or its output put it in $dir)
of_node() {
  local arg fd
  while IFS= read -r -d '' arg; do
    case "$arg" in
      --temp[-_]dir="$dir" | --temp[-_]dir="$dir"/* | --session[-_]dir="$dir"/* | --log[-_]dir="$dir"/* | \
      --logs[-_]dir="$dir"/* | --stdout[-_]filepath="$dir"/* | --stderr[-_]filepath="$dir"/*) return 0 ;;
    esac
  done 2>/dev/null <"/proc/$1/cmdline" || true
  for fd in 1 2; do
    case "$(readlink "/proc/$1/fd/$fd" 2>/dev/null || true)" in "$real"/*) return 0 ;; esac
  done
  return 1
}

# This script and the processes around it (a shell, 'timeout') are never the node's.
mine=" "
p=$$
while [ -n "$p" ] && [ "$p" != 0 ]; do
  mine+="$p "
  p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)
done

pids=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  case "$mine" in *" $pid "*) continue ;; esac
  if of_node "$pid"; then pids+=("$pid"); fi
done
i=0
while [ $i -lt ${#pids[@]} ]; do
  for child in $(ps -o pid= --ppid "${pids[$i]}" 2>/dev/null || true); do
    case " ${pids[*]} $mine" in *" $child "*) ;; *) pids+=("$child") ;; esac
  done
  i=$((i + 1))
done
if [ ${#pids[@]} -eq 0 ]; then
  echo "no process of a node in $dir"
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

#!/usr/bin/env bash
# Counts a perf event per operation on each side of the hot paths: the server (`taskwire serve`)
# and the bench's SDK clients and workers. `perf stat` counts only inside each figure's measured
# window (the bench's `--perf-control`), so the drain's own pre-submits and every connection's
# setup stay out. Instructions (the default event) hardly move with the machine's load, where a
# throughput figure moves 2x: compare two builds by their instructions per task.
#
#   Benchmarks/count-per-op.sh [path/to/taskwire]
#   EVENT=instructions:u TASKS=20000 FIGURES="drain rpc" Benchmarks/count-per-op.sh
#   EVENT=task-clock Benchmarks/count-per-op.sh      # CPU ms per op, where a VM has no counters
#
# EVENT is any perf event (`Benchmarks/count-allocations.sh` passes a uprobe on malloc); FIGURES
# picks from: single batch drain rpc (all four by default).
set -euo pipefail
bin=${1:-.build/release/taskwire}
event=${EVENT:-instructions:u}
tasks=${TASKS:-20000}
tasks=$(((tasks + 399) / 400 * 400)) # the drain submits in batches of 100 from 4 clients
wanted=${FIGURES:-single batch drain rpc}

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 --durability full --log-level warning \
  >/dev/null &
server=$!
until [ -s "$work/data/address" ]; do
  kill -0 "$server" || exit 1
  sleep 0.1 # a poll on the server's address file
done

# key, figure label, then bench arguments
figures=(
  "single|submit single 16x64|--only submit --submit-modes single --submit-clients 16"
  "batch|submit batch100 16|--only submit --submit-modes batch --submit-clients 16"
  "drain|drain 16 workers|--only drain --drain-workers 16"
  "rpc|rpc health 16x64|--only rpc"
)
unit=""
[ "$event" = task-clock ] && unit=" (CPU µs)"
printf '%s per operation%s\n%-20s %14s %14s\n' "$event" "$unit" figure server/op client/op
for figure in "${figures[@]}"; do
  key=${figure%%|*}
  rest=${figure#*|}
  label=${rest%%|*}
  case " $wanted " in *" $key "*) ;; *) continue ;; esac
  read -r -a args <<<"${rest#*|}"
  for side in s c; do mkfifo "$work/$side.ctl" "$work/$side.ack"; done
  perf stat -e "$event" -x, -o "$work/s.txt" --delay=-1 \
    --control "fifo:$work/s.ctl,$work/s.ack" -p "$server" 2>/dev/null &
  sperf=$!
  perf stat -e "$event" -x, -o "$work/c.txt" --delay=-1 \
    --control "fifo:$work/c.ctl,$work/c.ack" -- \
    "$bin" bench --data-dir "$work/data" --runs 1 --tasks "$tasks" "${args[@]}" \
    --perf-control "$work/s.ctl,$work/s.ack" --perf-control "$work/c.ctl,$work/c.ack" \
    2> >(grep -v '^Events [a-z]*abled$' >&2) >/dev/null
  kill -INT "$sperf"
  wait "$sperf" || true
  count() {
    local value
    # task-clock comes in msec: printed in µs per op.
    value=$(awk -F, -v e="$event" '$3 == e { print ($2 == "msec" ? $1 * 1000 : $1) }' "$1")
    case $value in
      '' | '<not'*) echo "perf cannot count $event here (try EVENT=task-clock)" >&2; exit 1 ;;
    esac
    echo "$value"
  }
  printf '%-20s %14.1f %14.1f\n' "$label" \
    "$(echo "$(count "$work/s.txt") / $tasks" | bc -l)" \
    "$(echo "$(count "$work/c.txt") / $tasks" | bc -l)"
  rm -f "$work"/*.ctl "$work"/*.ack "$work"/*.txt
done

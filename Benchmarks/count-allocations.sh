#!/usr/bin/env bash
# Counts malloc calls per operation on each side of the hot paths: the server (`taskwire serve`)
# and the bench's SDK clients and workers. A uprobe on glibc's malloc counts every call; `perf
# stat` counts only inside each figure's measured window (the bench's `--perf-control`), so the
# drain's own pre-submits and every connection's setup stay out. Needs root and perf with
# uprobes. The probe slows both processes several times over, so groups and bursts are larger
# than in an unprobed run: read the counts as the hot path's allocations, not its speed.
#
#   Benchmarks/count-allocations.sh [path/to/taskwire]      (TASKS=20000 by default)
set -euo pipefail
bin=${1:-.build/release/taskwire}
tasks=${TASKS:-20000}
tasks=$(((tasks + 399) / 400 * 400)) # the drain submits in batches of 100 from 4 clients
libc=$(ldd "$bin" | awk '/libc\.so\.6/ { print $3 }')
perf probe -q -x "$libc" --add malloc 2>/dev/null || perf probe -l | grep -q 'probe_libc:malloc'

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 --durability full --log-level warning \
  >/dev/null &
server=$!
until [ -s "$work/data/address" ]; do
  kill -0 "$server" || exit 1
  sleep 0.1 # a poll on the server's address file
done

# figure label, then bench arguments
figures=(
  "submit single 16x64|--only submit --submit-modes single --submit-clients 16"
  "submit batch100 16|--only submit --submit-modes batch --submit-clients 16"
  "drain 16 workers|--only drain --drain-workers 16"
  "rpc health 16x64|--only rpc"
)
printf '%-20s %14s %14s\n' figure server/op client/op
for figure in "${figures[@]}"; do
  label=${figure%%|*}
  read -r -a args <<<"${figure#*|}"
  for side in s c; do mkfifo "$work/$side.ctl" "$work/$side.ack"; done
  perf stat -e probe_libc:malloc -x, -o "$work/s.txt" --delay=-1 \
    --control "fifo:$work/s.ctl,$work/s.ack" -p "$server" 2>/dev/null &
  sperf=$!
  perf stat -e probe_libc:malloc -x, -o "$work/c.txt" --delay=-1 \
    --control "fifo:$work/c.ctl,$work/c.ack" -- \
    "$bin" bench --data-dir "$work/data" --runs 1 --tasks "$tasks" "${args[@]}" \
    --perf-control "$work/s.ctl,$work/s.ack" --perf-control "$work/c.ctl,$work/c.ack" \
    2> >(grep -v '^Events [a-z]*abled$' >&2) >/dev/null
  kill -INT "$sperf"
  wait "$sperf" || true
  count() { awk -F, '/probe_libc:malloc/ { print $1 }' "$1"; }
  printf '%-20s %14.1f %14.1f\n' "$label" \
    "$(echo "$(count "$work/s.txt") / $tasks" | bc -l)" \
    "$(echo "$(count "$work/c.txt") / $tasks" | bc -l)"
  rm -f "$work"/*.ctl "$work"/*.ack "$work"/*.txt
done

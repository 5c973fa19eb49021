#!/usr/bin/env bash
# Counts malloc calls per operation on each side of the hot paths: the server (`taskwire serve`)
# and the bench's SDK clients and workers. A uprobe on glibc's malloc counts every call, inside
# each figure's measured window only (count-per-op.sh does the counting). Needs root and perf
# with uprobes. The probe slows both processes several times over, so groups and bursts are
# larger than in an unprobed run: read the counts as the hot path's allocations, not its speed.
#
#   Benchmarks/count-allocations.sh [path/to/taskwire]      (TASKS=20000 by default)
set -euo pipefail
bin=${1:-.build/release/taskwire}
libc=$(ldd "$bin" | awk '/libc\.so\.6/ { print $3 }')
perf probe -q -x "$libc" --add malloc 2>/dev/null || perf probe -l | grep -q 'probe_libc:malloc'
EVENT=probe_libc:malloc exec "$(dirname "$0")/count-per-op.sh" "$bin"

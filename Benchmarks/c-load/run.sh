#!/usr/bin/env bash
# Builds the C load driver, starts a throwaway `taskwire serve` on a temporary data directory
# (port 0, development TLS), runs the driver against it, then stops the server and removes the
# directory. Arguments go to the driver (see README.md, or `build/c-load --help`):
#
#   bash Benchmarks/c-load/run.sh --runs 3                 # the figures (100,000 tasks each)
#   bash Benchmarks/c-load/run.sh --tasks 2000 --runs 1    # a quick smoke
#   TASKWIRE_BIN=path/to/taskwire DURABILITY=relaxed bash Benchmarks/c-load/run.sh --only drain
#
# TASKWIRE_BIN: the server binary (default .build/release/taskwire, else .build/debug/taskwire).
# DURABILITY: the server's --durability (default full). KEEP_WORK=1 keeps the data dir and log.
# Exit status: the driver's (0 = every reply OK), or 1 when the build or the server failed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURABILITY=${DURABILITY:-full}

die() { printf 'c-load/run.sh: %s\n' "$*" >&2; exit 1; }

BIN=${TASKWIRE_BIN:-}
if [[ -z "$BIN" ]]; then
  for candidate in "$ROOT/.build/release/taskwire" "$ROOT/.build/debug/taskwire"; do
    if [[ -x "$candidate" ]]; then BIN=$candidate; break; fi
  done
fi
[[ -n "$BIN" && -x "$BIN" ]] ||
  die "no server binary (set TASKWIRE_BIN, or build .build/release/taskwire)"

BUILD_LOG=$(mktemp "${TMPDIR:-/tmp}/c-load-make.XXXXXX")
if ! make -s -C "$HERE" >"$BUILD_LOG" 2>&1; then
  cat "$BUILD_LOG" >&2; rm -f "$BUILD_LOG"; die "build failed"
fi
rm -f "$BUILD_LOG"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/c-load.XXXXXX")
DATA="$WORK/data"
SERVER_PID=""

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    # Graceful shutdown first (go-away, store closed); SIGKILL only if it hangs.
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [[ -n "${KEEP_WORK:-}" ]]; then
    printf 'c-load/run.sh: kept %s\n' "$WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA"
"$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 --durability "$DURABILITY" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# Readiness, as Tests/Interop/run.sh does it: the server writes DATA/address once it listens
# (docs/protocol.md, section 3); admin.token and tls/ca.pem exist before that.
for ((i = 0; i < 1200; i++)); do
  [[ -s "$DATA/address" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -30 "$WORK/server.log" >&2; die "the server exited before listening"; }
  sleep 0.05
done
[[ -s "$DATA/address" ]] || { tail -30 "$WORK/server.log" >&2; die "no $DATA/address after 60 s"; }
[[ -s "$DATA/admin.token" && -s "$DATA/tls/ca.pem" ]] || die "the server wrote no admin.token / tls/ca.pem"

printf 'c-load: server %s (pid %s) at %s, durability %s\n' "$BIN" "$SERVER_PID" \
  "$(cat "$DATA/address")" "$DURABILITY" >&2

"$HERE/build/c-load" --data-dir "$DATA" --server-pid "$SERVER_PID" \
  --label "durability=$DURABILITY" "$@"
rc=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  tail -30 "$WORK/server.log" >&2
  printf 'c-load/run.sh: the server died during the run\n' >&2
  ((rc == 0)) && rc=1
fi
exit $rc

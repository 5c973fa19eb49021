#!/usr/bin/env bash
# Fails when Proto/ changed since the Swift code was generated (run .ci/generate-proto.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(cat Sources/TaskwireProto/Generated/PROTO_SHA256)
have=$(.ci/proto-hash.sh)
if [[ "$want" != "$have" ]]; then
  echo "generated protobuf code is stale: Proto/ hashes to $have, generated from $want" >&2
  echo "run .ci/generate-proto.sh and commit the result" >&2
  exit 1
fi
echo "generated protobuf code is current ($have)"

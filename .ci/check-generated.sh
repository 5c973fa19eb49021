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
# generate-proto.sh marks the heap-storage classes' properties @exclusivity(unchecked).
unmarked=$(sed -n '/^  fileprivate class _StorageClass {/,/^    private init() {}/ p' \
  Sources/TaskwireProto/Generated/*.pb.swift | grep -c '^    var _' || true)
marked=$(grep -c '^    @exclusivity(unchecked) var _' Sources/TaskwireProto/Generated/*.pb.swift \
  | awk -F: '{ n += $2 } END { print n + 0 }')
if [[ "$unmarked" != 0 || "$marked" == 0 ]]; then
  echo "generated protobuf code was not made by .ci/generate-proto.sh: $unmarked storage" >&2
  echo "properties lack @exclusivity(unchecked) ($marked have it); run .ci/generate-proto.sh" >&2
  echo "and commit the result" >&2
  exit 1
fi
# ... and makes the frame's body an indirect enum.
if ! grep -q '^  package nonisolated indirect enum OneOf_Body: ' \
  Sources/TaskwireProto/Generated/taskwire_v1_frame.pb.swift; then
  echo "generated protobuf code was not made by .ci/generate-proto.sh: Frame.OneOf_Body is" >&2
  echo "not indirect; run .ci/generate-proto.sh and commit the result" >&2
  exit 1
fi
echo "generated protobuf code is current ($have)"

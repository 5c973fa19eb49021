#!/usr/bin/env bash
# Regenerates the Swift code in Sources/TaskwireProto/Generated from Proto/ and records the SHA-256
# of Proto/ beside it (CI compares that record; see .ci/check-generated.sh).
#
# Needs Debian's `protoc` (protobuf-compiler) and protoc-gen-swift from swift-protobuf 1.39.0.
# Set PROTOC_GEN_SWIFT to an existing plugin, or the script builds one into .build-protoc/ (ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

plugin="${PROTOC_GEN_SWIFT:-}"
if [[ -z "$plugin" ]]; then
  src=.build-protoc/swift-protobuf
  if [[ ! -x "$src/.build/release/protoc-gen-swift" ]]; then
    rm -rf "$src" && mkdir -p .build-protoc
    git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$src"
    swift build -c release --package-path "$src" --product protoc-gen-swift
  fi
  plugin="$src/.build/release/protoc-gen-swift"
fi

out=Sources/TaskwireProto/Generated
rm -f "$out"/*.pb.swift
protoc -I Proto \
  --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Package \
  --swift_opt=UseAccessLevelOnImports=true \
  --swift_opt=FileNaming=PathToUnderscores \
  --swift_out="$out" \
  Proto/taskwire/v1/*.proto
# The stored properties of the generated heap-storage classes (TaskSpec, Task) skip Swift's dynamic
# exclusivity checks: each access to them otherwise costs a thread-local lookup and an access-set
# insert, ~9% of the server's CPU and ~14% of the SDK client's on single submits. The generated
# code reaches them only through its own copy-on-write accessors, which never overlap two
# accesses to one property (the checks never fire), so nothing is lost but their cost. Done here,
# on the generated text, because the alternative (-enforce-exclusivity=unchecked) is an unsafe
# flag that would keep the SDK from being used as a versioned dependency.
for file in "$out"/*.pb.swift; do
  sed -i '/^  fileprivate class _StorageClass {/,/^    private init() {}/ s/^    var _/    @exclusivity(unchecked) var _/' "$file"
done
# A frame's body is an indirect enum: one pointer instead of 193 bytes inline (the largest case,
# WatchEvent, held in place). Every move or copy of a Frame — into an async function's context,
# through a continuation, out of a oneof in traverse and decode — copied those bytes through the
# enum's value witnesses (memmove, tag lookups and per-case retains were ~15% of the SDK client's
# CPU on tiny calls). Boxed, a copy is one retain. See docs/benchmarks.md, item 35.
sed -i 's/^  package nonisolated enum OneOf_Body: /  package nonisolated indirect enum OneOf_Body: /' \
  "$out"/taskwire_v1_frame.pb.swift
.ci/proto-hash.sh > "$out/PROTO_SHA256"
echo "generated $(ls "$out"/*.pb.swift | wc -l) files; $(cat "$out/PROTO_SHA256")"

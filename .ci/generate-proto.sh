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
.ci/proto-hash.sh > "$out/PROTO_SHA256"
echo "generated $(ls "$out"/*.pb.swift | wc -l) files; $(cat "$out/PROTO_SHA256")"

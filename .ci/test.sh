#!/usr/bin/env bash
# The whole test suite, as README.md's second command and CI (.ci/run) run it:
# installs missing Debian packages (as root), checks generated code, builds, runs `swift test`,
# then the polyglot interop suite (C and Python clients against a real server).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libssl-dev pkg-config protobuf-compiler protobuf-c-compiler
  libprotobuf-c-dev python3-protobuf valgrind)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
fi

echo "== generated protobuf code"
.ci/check-generated.sh

echo "== format (swift format lint --strict, generated code excluded)"
find Sources ClientSDK Tests -name '*.swift' -not -path '*/Generated/*' -print0 \
  | xargs -0 swift format lint --strict

echo "== build"
swift build --build-tests

echo "== swift test"
swift test --skip-build

swift build --product taskwire
BIN="$(swift build --show-bin-path)/taskwire"

echo "== interop (C and Python clients against a real server)"
TASKWIRE_BIN="$BIN" Tests/Interop/run.sh

echo "== bench smoke (small N; prints figures, asserts no speed)"
"$BIN" bench --tasks 1000 --runs 1 --rate 200 --memory-tasks 10000 --idle-connections 100
echo "== C load driver smoke (Benchmarks/c-load; small N, every reply checked)"
TASKWIRE_BIN="$BIN" bash Benchmarks/c-load/run.sh --tasks 2000 --runs 1
echo "== all tests passed"

#!/usr/bin/env bash
# Prints one SHA-256 over every file under Proto/ (path and content), independent of locale.
set -euo pipefail
cd "$(dirname "$0")/.."
find Proto -type f -name '*.proto' | LC_ALL=C sort | while read -r f; do
  printf '%s\n' "$f"; cat "$f"
done | sha256sum | cut -d' ' -f1

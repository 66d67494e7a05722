#!/usr/bin/env bash
# Configures and builds Vigil into build/ (or $VIGIL_BUILD_DIR). Idempotent:
# an up-to-date tree rebuilds nothing. Extra arguments are ninja targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$build" "$@"

#!/usr/bin/env bash
# Installs what it needs, builds everything, and runs the whole test suite:
# unit (unprivileged), bpf (root, real kernel) and e2e (real binaries).
# Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: not root: bpf and e2e tests will skip (they load BPF programs)" >&2
fi
cd "$build"
ctest --output-on-failure --timeout 300 "$@"

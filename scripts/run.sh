#!/usr/bin/env bash
# Runs Vigil here: installs what it needs, builds, and starts the agent on
# this node with its built-in defaults, printing every event as one JSON line.
# Stop it with Ctrl-C (it drains what the kernel captured, then exits).
# Extra arguments go to vigil-agent (see vigil-agent --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Only events go to stdout (run.sh | jq): setup and build talk on stderr.
"$root/scripts/setup.sh" >&2
"$root/scripts/build.sh" vigil-agent >&2
exec "${VIGIL_BUILD_DIR:-$root/build}/vigil-agent" --stdout "$@"

#!/usr/bin/env bash
# Runs Vigil here: installs what it needs, builds, and starts a local central
# collector (vigil-central, with its embedded SQLite store) and the agent on
# this node, which prints every event as one JSON line and ships the audit
# log to the collector over mutual TLS. A development CA and certificates
# are made on first run, outside the repository ($VIGIL_STATE_DIR, default
# /var/lib/vigil/dev). Stop both with Ctrl-C (the agent drains what the
# kernel captured; what the collector has not acknowledged stays in the
# agent's spool for the next run). Extra arguments go to vigil-agent
# (vigil-agent --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
# Only events go to stdout (run.sh | jq): everything else talks on stderr.
"$root/scripts/setup.sh" >&2
"$root/scripts/build.sh" vigil-agent vigil-central vigilctl >&2
# --print-config and friends: the agent alone, nothing started.
for arg in "$@"; do
  case $arg in
  --print-config | --print-config-doc | --help | -h | --version) exec "$build/vigil-agent" "$@" ;;
  esac
done

state=${VIGIL_STATE_DIR:-/var/lib/vigil/dev}
node=${NODE_NAME:-$(hostname)}
port=${VIGIL_CENTRAL_PORT:-7443}
mkdir -p "$state"
"$root/scripts/dev-certs.sh" "$state/certs" "$node" >&2
cat >"$state/central.yaml" <<YAML
listen: "127.0.0.1:$port"
tls: {cert: $state/certs/central.pem, key: $state/certs/central.key, client_ca: $state/certs/ca.pem}
store: {path: $state/events.db}
YAML
cat >"$state/agent.yaml" <<YAML
node_name: "$node"
outputs:
  - type: stdout
  - type: grpc
    endpoints: ["127.0.0.1:$port"]
    tls_ca: $state/certs/ca.pem
    tls_cert: $state/certs/node-$node.pem
    tls_key: $state/certs/node-$node.key
    tls_server_name: localhost
    spool_dir: $state/spool
YAML

"$build/vigil-central" --config "$state/central.yaml" >&2 &
central=$!
trap 'kill -TERM $central 2>/dev/null || true; wait $central 2>/dev/null || true' EXIT
cat >&2 <<TEXT
run.sh: vigil-central (pid $central) stores events in $state/events.db; the agent follows.
run.sh: ask it from another shell:
run.sh:   $build/vigilctl events --db $state/events.db --kind exec --since -10m
run.sh:   $build/vigilctl events --db $state/events.db --json --follow
run.sh:   $build/vigilctl verify --db $state/events.db
TEXT
# Not exec: the trap stops the collector when the agent ends.
"$build/vigil-agent" --config "$state/agent.yaml" "$@"

# Shared by the benchmark scripts that run the agent: sourced, not run.
#   bench_prepare NAME BUILD_DIR TARGET...  checks root and the built binaries
#     (BUILD_DIR/vigil-agent, BUILD_DIR/bench/<target>), makes a work
#     directory ($work) and a cleanup trap that stops the agent in $apid.

bench_prepare() {
  local name=$1 build=$2
  shift 2
  local bin
  for bin in "$build/vigil-agent" "${@/#/$build/bench/}"; do
    if [[ ! -x $bin ]]; then
      echo "$name: $bin not found; build it first: VIGIL_BUILD_DIR=$build scripts/build.sh vigil-agent $*" >&2
      exit 1
    fi
  done
  if [[ $EUID -ne 0 ]]; then
    echo "$name: needs root (loads the agent's BPF programs)" >&2
    exit 1
  fi
  work=$(mktemp -d)
  apid=
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [[ -n ${apid:-} ]]; then
    kill -TERM "$apid" 2>/dev/null || true
    wait "$apid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

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

# stat_value STATS SERIES: the value of SERIES (an extended regex of the
# "name{labels}" part, e.g. 'kernel_counters_total\{counter=ringbuf_full_syscall\}')
# in the agent's stats line STATS, which is rendered from its metrics
# registry and leaves zero values out: 0 when the series is not there.
stat_value() {
  local v
  v=$(grep -oE "(^| )$2=[0-9]+" <<<"$1" | head -1 | sed 's/.*=//' || true)
  echo "${v:-0}"
}
# The series the benchmarks read.
STAT_SYSCALL_RECORDS='records_total\{domain=syscall,kind=syscall\}'
STAT_RB_FULL_SYSCALL='kernel_counters_total\{counter=ringbuf_full_syscall\}'
STAT_RB_FULL_FILE='kernel_counters_total\{counter=ringbuf_full_file\}'
STAT_RB_FULL_EXEC='kernel_counters_total\{counter=ringbuf_full_exec\}'
STAT_PENDING_FULL='kernel_counters_total\{counter=syscall_pending_full\}'
STAT_PATH_FILTERED='kernel_counters_total\{counter=syscall_path_filtered\}'
STAT_DELIVERED='events_delivered_total'
STAT_MALFORMED='drops_total\{[^}]*reason=malformed[^}]*\}'

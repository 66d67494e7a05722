#!/usr/bin/env bash
# Pipeline modes: the agent's consumer with pipeline.mode inline,
# and threads, at set rates of traced getppid (bench/rate_loop.cc), counting sink
# (no output). Per run: agent CPU % over the load, peak RSS, records decoded,
# records the kernel dropped (ring full).
# Usage (root): bench/pipeline_modes.sh [RATE ...]   (default 200000 300000 450000)
# Builds nothing: scripts/build.sh vigil-agent vigil_rate_loop first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
rates=("$@")
[[ ${#rates[@]} -gt 0 ]] || rates=(200000 300000 450000)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_prepare pipeline_modes "$build" vigil_rate_loop
ticks=$(getconf CLK_TCK)
echo "| rate/s | mode | agent CPU % | peak RSS MB | records decoded | dropped (ring full) |"
echo "|---:|---|---:|---:|---:|---:|"
for rate in "${rates[@]}"; do
  for mode in inline threads; do
    cat >"$work/agent.yaml" <<YAML
stats_interval_seconds: 0
network: {enabled: false}
syscalls: {trace: [getppid]}
pipeline: {mode: $mode}
YAML
    "$build/vigil-agent" -c "$work/agent.yaml" >/dev/null 2>"$work/agent.err" &
    apid=$!
    for _ in $(seq 100); do grep -q capturing "$work/agent.err" && break; sleep 0.1; done
    t0=$(awk '{print $14+$15}' "/proc/$apid/stat")
    "$build/bench/vigil_rate_loop" "$rate" 3 ${VIGIL_BENCH_GEN_THREADS:-} >"$work/loop.out" 2>&1
    t1=$(awk '{print $14+$15}' "/proc/$apid/stat")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")
    kill -TERM "$apid"
    wait "$apid" || true
    apid=
    stats=$(grep 'stats:' "$work/agent.err" | tail -1 || true)
    decoded=$(stat_value "$stats" "$STAT_SYSCALL_RECORDS")
    full=$(stat_value "$stats" "$STAT_RB_FULL_SYSCALL")
    echo "| $rate | $mode | $(( (t1 - t0) * 100 / (3 * ticks) )) | $(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}') | $decoded | $full |"
  done
done

#!/usr/bin/env bash
# Saturation: traced getppid at set rates (bench/rate_loop.cc), carried from
# the kernel through the agent's consumer (decode and enrichment; no output
# sink, so the consumer counts and discards). For each rate: calls made, the
# records the agent decoded, the records the kernel dropped (ring buffer
# full), the drop share, and the agent's CPU use and peak resident memory.
# The highest rate with zero drops is the saturation point.
# Usage (root): bench/saturation.sh [SECONDS=3] [RATE ...]
#   default rates: 25000 50000 100000 200000 300000 400000 600000
#   Builds nothing: run scripts/build.sh vigil-agent vigil_rate_loop first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
seconds=${1:-3}
shift || true
rates=("$@")
if [[ ${#rates[@]} -eq 0 ]]; then
  rates=(25000 50000 100000 200000 300000 400000 600000)
fi
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_prepare saturation "$build" vigil_rate_loop
agent=$build/vigil-agent
loop=$build/bench/vigil_rate_loop
cat >"$work/agent.yaml" <<'YAML'
stats_interval_seconds: 0
network: {enabled: false}
syscalls: {trace: [getppid]}
YAML
ticks=$(getconf CLK_TCK)

echo "saturation: traced getppid for ${seconds}s per rate, $(nproc) CPUs, kernel $(uname -r)"
echo
echo "| target/s | achieved/s | calls | records decoded | dropped (ring full) | drop share | agent CPU % | agent peak RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for rate in "${rates[@]}"; do
  "$agent" -c "$work/agent.yaml" 2>"$work/agent.log" >/dev/null &
  apid=$!
  for _ in $(seq 300); do
    grep -q capturing "$work/agent.log" && break
    sleep 0.1
  done
  read -r -a before < <(awk '{print $14, $15}' "/proc/$apid/stat")
  out=$("$loop" "$rate" "$seconds")
  read -r -a after < <(awk '{print $14, $15}' "/proc/$apid/stat")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")
  kill -TERM "$apid"
  wait "$apid" || true
  apid=
  stats=$(grep "stats:" "$work/agent.log" | tail -1)
  calls=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$out")
  achieved=$(sed -n 's/.*achieved=\([0-9]*\).*/\1/p' <<<"$out")
  decoded=$(sed -n 's/.* syscall=\([0-9]*\).*/\1/p' <<<"$stats")
  dropped=$(sed -n 's/.*ringbuf_full_syscall=\([0-9]*\).*/\1/p' <<<"$stats")
  cpu=$(awk -v b0="${before[0]}" -v b1="${before[1]}" -v a0="${after[0]}" -v a1="${after[1]}" -v t="$ticks" -v s="$seconds" \
    'BEGIN { printf "%.0f", 100 * ((a0 + a1) - (b0 + b1)) / t / s }')
  share=$(awk -v d="$dropped" -v k="$decoded" 'BEGIN { printf "%.1f%%", (d + k) ? 100 * d / (d + k) : 0 }')
  printf '| %s | %s | %s | %s | %s | %s | %s | %.1f |\n' "$rate" "$achieved" "$calls" "$decoded" "$dropped" "$share" \
    "$cpu" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')"
done

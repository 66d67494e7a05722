#!/usr/bin/env bash
# Saturation: traced getppid at set rates (bench/rate_loop.cc, a thread per
# CPU), carried from
# the kernel through the agent's consumer (decode and enrichment; no output
# sink, so the consumer counts and discards). For each rate: calls made, the
# records the agent decoded, the records the kernel dropped (ring buffer
# full), the drop share, and the agent's CPU use and peak resident memory.
# The highest rate with zero drops is the saturation point.
# With --json the agent also renders every event as JSON (--stdout) into a
# file in the work directory, and the table adds the getppid events written
# to it: the path through enrichment and JSON rendering to a file, and the
# drain time: how long after the load the agent still wrote getppid events
# in half seconds (0.0 or 0.5: it kept up; the sink flushes at least every 200 ms).
# Usage (root): bench/saturation.sh [--json] [SECONDS=3] [RATE ...]
#   default rates: 25000 50000 100000 200000 300000 400000 600000
#   Builds nothing: run scripts/build.sh vigil-agent vigil_rate_loop first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
json=0
if [[ ${1:-} == --json ]]; then
  json=1
  shift
fi
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
# With --json: the stdout output's when-full policy (VIGIL_BENCH_WHEN_FULL:
# drop, the default, or block).
if ((json)); then
  printf 'outputs: [{type: stdout, when_full: %s}]\n' "${VIGIL_BENCH_WHEN_FULL:-drop}" >>"$work/agent.yaml"
fi
ticks=$(getconf CLK_TCK)

sink=/dev/null
if ((json)); then
  sink=$work/events.json
fi
echo "saturation: traced getppid for ${seconds}s per rate, $(nproc) CPUs, kernel $(uname -r)," \
  "sink: $( ((json)) && echo "JSON lines to a file" || echo "counting (decode and enrichment, no output)")"
echo
if ((json)); then
  echo "| target/s | achieved/s | calls | records decoded | JSON lines written | drain s | dropped (ring full) | drop share | agent CPU % | agent peak RSS MB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
else
  echo "| target/s | achieved/s | calls | records decoded | dropped (ring full) | drop share | agent CPU % | agent peak RSS MB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
fi
for rate in "${rates[@]}"; do
  if ((json)); then
    "$agent" -c "$work/agent.yaml" 2>"$work/agent.log" >"$sink" &
  else
    "$agent" -c "$work/agent.yaml" 2>"$work/agent.log" >/dev/null &
  fi
  apid=$!
  for _ in $(seq 300); do
    grep -q capturing "$work/agent.log" && break
    sleep 0.1
  done
  read -r -a before < <(awk '{print $14, $15}' "/proc/$apid/stat")
  out=$("$loop" "$rate" "$seconds")
  read -r -a after < <(awk '{print $14, $15}' "/proc/$apid/stat")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")
  if ((json)); then
    # The agent may still be rendering a backlog: wait (up to 60 s) until
    # half a second passes with no new getppid event in the file. The drain
    # time says how far behind the load the JSON path was.
    offset=$(stat -c %s "$sink")
    busy=0 # half seconds with new getppid events
    while ((busy < 120)); do
      sleep 0.5
      size=$(stat -c %s "$sink")
      new=$(tail -c +$((offset + 1)) "$sink" | head -c $((size - offset)) | grep -c '"name":"getppid"' || true)
      offset=$size
      ((new > 0)) || break
      busy=$((busy + 1))
    done
    drain=$(awk -v b="$busy" 'BEGIN { printf "%.1f", b / 2 }')
  fi
  kill -TERM "$apid"
  wait "$apid" || true
  apid=
  stats=$(grep "stats:" "$work/agent.log" | tail -1)
  calls=$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$out")
  achieved=$(sed -n 's/.*achieved=\([0-9]*\).*/\1/p' <<<"$out")
  decoded=$(stat_value "$stats" "$STAT_SYSCALL_RECORDS")
  dropped=$(stat_value "$stats" "$STAT_RB_FULL_SYSCALL")
  cpu=$(awk -v b0="${before[0]}" -v b1="${before[1]}" -v a0="${after[0]}" -v a1="${after[1]}" -v t="$ticks" -v s="$seconds" \
    'BEGIN { printf "%.0f", 100 * ((a0 + a1) - (b0 + b1)) / t / s }')
  share=$(awk -v d="$dropped" -v k="$decoded" 'BEGIN { printf "%.1f%%", (d + k) ? 100 * d / (d + k) : 0 }')
  if ((json)); then
    # getppid events in the file (from any process, as records decoded).
    written=$(grep -c '"name":"getppid"' "$sink" || true)
    rm -f "$sink" # up to GBs per rate
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n' "$rate" "$achieved" "$calls" "$decoded" "$written" \
      "$drain" "$dropped" "$share" "$cpu" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')"
  else
    printf '| %s | %s | %s | %s | %s | %s | %s | %.1f |\n' "$rate" "$achieved" "$calls" "$decoded" "$dropped" "$share" \
      "$cpu" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')"
  fi
done

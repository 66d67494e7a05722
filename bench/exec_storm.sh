#!/usr/bin/env bash
# Exec storm: N spawns (vfork+exec) of a tiny static program
# (bench/exec_target.c), with no agent (baseline) and with the
# agent running (stdout to a file), alternating RUNS times. Reports:
#   - execs/s with and without the agent, and their ratio (same session);
#   - whether every exec was captured (exec events carrying the run's marker);
#   - kernel cost per event of each Vigil program from bpf_stats
#     (run_time_ns / run_cnt, kernel.bpf_stats_enabled=1 during agent runs);
#   - the agent's CPU use during the storm (/proc/<pid>/stat) and its peak
#     resident memory (VmHWM).
# Usage (root): bench/exec_storm.sh [N=5000] [RUNS=3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build=${VIGIL_BUILD_DIR:-$root/build}
n=${1:-5000}
runs=${2:-3}
"$root/scripts/build.sh" vigil-agent vigil_exec_loop vigil_exec_target >/dev/null
loop=$build/bench/vigil_exec_loop
target=$build/bench/vigil_exec_target
agent=$build/vigil-agent
work=$(mktemp -d)
prev_stats=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$prev_stats; rm -rf "$work"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

echo "exec storm: N=$n, runs=$runs, $(nproc) CPUs, kernel $(uname -r)"
for r in $(seq 1 "$runs"); do
  base=$("$loop" "$n" "base-$r" "$target")
  marker="storm-$r-$$"
  "$agent" --stdout --stats-interval 0 >"$work/events.$r" 2>"$work/agent.$r" &
  apid=$!
  for _ in $(seq 1 100); do grep -q capturing "$work/agent.$r" && break; sleep 0.1; done
  read -r -a ticks0 < <(awk '{print $14, $15}' "/proc/$apid/stat")
  t0=$(date +%s.%N)
  with=$("$loop" "$n" "$marker" "$target")
  read -r -a ticks1 < <(awk '{print $14, $15}' "/proc/$apid/stat")
  usage=$(awk -v b0="${ticks0[0]}" -v b1="${ticks0[1]}" -v a0="${ticks1[0]}" -v a1="${ticks1[1]}" \
    -v hz="$(getconf CLK_TCK)" -v s="$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { print t1 - t0 }')" \
    -v hwm="$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")" \
    'BEGIN { printf "agent CPU %.0f%%, peak RSS %.1f MB", 100 * ((a0 + a1) - (b0 + b1)) / hz / s, hwm / 1024 }')
  # Per-program kernel cost while the agent is still loaded.
  bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("vigil_") and p.get("run_cnt"):
        print("  bpf_stats %-16s run_cnt=%-8d avg_ns=%.0f" % (p["name"], p["run_cnt"], p["run_time_ns"] / p["run_cnt"]))
' >"$work/bpfstats.$r"
  kill -TERM "$apid"; wait "$apid"
  # Exec events of the storm's children: args [target, marker, i].
  execs=$(grep '"exec":' "$work/events.$r" | grep -c "\"args\":\[\"$target\",\"$marker\"" || true)
  read -r _ _ brate <<<"$base"
  read -r _ _ wrate <<<"$with"
  ratio=$(python3 -c "print(f'{$wrate/$brate:.3f}')")
  echo "run $r: baseline ${brate} execs/s, with agent ${wrate} execs/s, ratio ${ratio}; exec events captured ${execs}/${n}; ${usage}"
  cat "$work/bpfstats.$r"
  stats=$(grep 'stats:' "$work/agent.$r" | tail -1 || true)
  echo "ringbuf_full_exec=$(stat_value "$stats" "$STAT_RB_FULL_EXEC") decode_errors=$(stat_value "$stats" "$STAT_MALFORMED")"
done

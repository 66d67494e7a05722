#!/usr/bin/env bash
# The ring consumer's cost to the producers: a minimal record per getppid
# (bench/hook_floor.*) drained by libbpf's ring_buffer or by the agent's
# runtime::RingBuffer, the consumer spending WORK_NS per record (a stand-in
# for decoding it), alternating ROUNDS times. Reports the loop's ns/call and
# the producing program's ns per record (bpf_stats, on for the run), medians
# over the rounds.
# Usage (root): bench/ring_consumer.sh [ROUNDS=5] [WORK_NS=700] [CALLS=400000]
#   Builds nothing: run scripts/build.sh vigil_hook_floor first.
#   The loop runs on CPU ${VIGIL_BENCH_CPU:-0}; the consumer where the scheduler puts it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
rounds=${1:-5}
work_ns=${2:-700}
calls=${3:-400000}
floor=$build/bench/vigil_hook_floor
if [[ ! -x $floor ]]; then
  echo "ring_consumer: $floor not found; build it first: scripts/build.sh vigil_hook_floor" >&2
  exit 1
fi
prev=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$prev' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
echo "ring consumer: $rounds rounds, $calls getppid per run, ${work_ns} ns of consumer work per record," \
  "$(nproc) CPUs, kernel $(uname -r), loop on CPU ${VIGIL_BENCH_CPU:-0}"
out=$(mktemp)
for r in $(seq 1 "$rounds"); do
  for c in libbpf vigil; do
    line=$(taskset -c "${VIGIL_BENCH_CPU:-0}" "$floor" record "$calls" 20 "$c" "$work_ns")
    echo "round $r: $line"
    echo "$line" >>"$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split())
    rows.setdefault(f["consumer"], []).append((float(f["ns_min"]), float(f["prog_ns"]), int(f["records"]), int(f["calls"])))
print()
print("| consumer | getppid ns/call | program ns/record (bpf_stats) | records drained / made |")
print("|---|---:|---:|---|")
for c in ("libbpf", "vigil"):
    r = rows.get(c, [])
    if r:
        print("| %s | %.0f | %.0f | %d / %d |" % ("libbpf ring_buffer" if c == "libbpf" else "Vigil's RingBuffer",
              statistics.median(x[0] for x in r), statistics.median(x[1] for x in r), sum(x[2] for x in r), sum(x[3] for x in r)))
PY
rm -f "$out"

#!/usr/bin/env bash
# Shared against per-CPU BPF ring buffers (bench/ring_bench.cc): for each
# configuration, a free run (the generators as fast as they go) and, when it
# dropped records, paced runs at falling rates until one drops none. Prints
# one markdown table, then the raw result lines.
#
# Configurations (the same 8 MiB of ring memory in every one; per-CPU rings
# split it; wakeups batched as Vigil's, 128 KiB of unread data per ring):
#   shared/once       one ring, Vigil's rule: wake when unread data crosses
#                     the threshold (what the agent does today)
#   shared/every      one ring, wake at every multiple of the threshold
#   per-cpu           a ring per CPU, one consumer thread (one libbpf
#                     ring_buffer with ring_buffer__add per ring)
#   per-cpu-threads   a ring per CPU, a consumer thread per ring
#   per-cpu-merge     a ring per CPU, one consumer thread that hands records
#                     on in timestamp order (k-way merge, watermark)
# each with K records per getppid in {1, 16} and S bytes per record in {64, 256}.
#
# Usage (root): bench/ring_bench.sh [--quick] [--seconds N] [--modes "M ..."]
#                                   [--k "K ..."] [--sizes "S ..."] [--no-search]
#                                   [--no-producers]
#   --quick: 2 s runs, K=16, S=64, modes shared/once shared/every per-cpu per-cpu-merge,
#   and no second table.
#   Default: 3 s runs, the whole matrix (about 5 to 8 minutes), then a second
#   table (--no-producers leaves it out): shared/every against per-cpu with one
#   producer CPU and with two, K in {1, 16}, S=64, which shows what the shared
#   ring costs once a second CPU writes to it.
#   Builds vigil_ring_bench (scripts/build.sh; VIGIL_BUILD_DIR, default build/;
#   VIGIL_BUILD_JOBS, ninja's -j).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
seconds=3
modes="shared/once shared/every per-cpu per-cpu-threads per-cpu-merge"
ks="1 16"
sizes="64 256"
search=1
producers=1
while [[ $# -gt 0 ]]; do
  case $1 in
  --quick)
    seconds=2
    modes="shared/once shared/every per-cpu per-cpu-merge"
    ks=16
    sizes=64
    producers=0
    ;;
  --no-producers) producers=0 ;;
  --seconds) seconds=$2; shift ;;
  --modes) modes=$2; shift ;;
  --k) ks=$2; shift ;;
  --sizes) sizes=$2; shift ;;
  --no-search) search=0 ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
  esac
  shift
done
if [[ $EUID -ne 0 ]]; then
  echo "ring_bench: needs root (loads BPF programs)" >&2
  exit 1
fi
bin=$build/bench/vigil_ring_bench
if ! VIGIL_BUILD_DIR=$build "$root/scripts/build.sh" ${VIGIL_BUILD_JOBS:+-j "$VIGIL_BUILD_JOBS"} vigil_ring_bench >"${TMPDIR:-/tmp}/ring_bench_build.$$" 2>&1; then
  if [[ -x $bin ]]; then
    echo "ring_bench: the build failed (tail below); using the existing $bin" >&2
    tail -5 "${TMPDIR:-/tmp}/ring_bench_build.$$" >&2
  else
    echo "ring_bench: cannot build vigil_ring_bench:" >&2
    tail -20 "${TMPDIR:-/tmp}/ring_bench_build.$$" >&2
    rm -f "${TMPDIR:-/tmp}/ring_bench_build.$$"
    exit 1
  fi
fi
rm -f "${TMPDIR:-/tmp}/ring_bench_build.$$"
if [[ ! -d /sys/kernel/tracing/events/syscalls ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

# run MODE/RULE K S [RATE]: one vigil_ring_bench run; its result line, or a
# line "error=..." when it failed. $generators, when set, is the number of
# generator threads (default: one per CPU).
generators=0
run() {
  local mode=${1%/*} rule=once out
  [[ $1 == */every ]] && rule=every
  if out=$("$bin" --mode "$mode" --wakeup-rule "$rule" -k "$2" -s "$3" -t "$seconds" --rate "${4:-0}" \
    --generators "$generators" 2>&1); then
    echo "config=$1 $(tail -1 <<<"$out")"
  else
    echo "config=$1 k=$2 size=$3 target_per_s=${4:-0} error=$(tr '\n' ' ' <<<"$out" | tail -c 300)"
  fi
}

# field LINE KEY: the value of KEY= in LINE (error=: the rest of the line).
field() {
  if [[ $2 == error ]]; then
    sed -n 's/.* error=//p' <<<" $1"
  else
    grep -o " $2=[^ ]*" <<<" $1" | head -1 | cut -d= -f2-
  fi
}

echo "ring buffers: ${seconds}s per run, $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A zero_drop
for k in $ks; do
  for s in $sizes; do
    for m in $modes; do
      line=$(run "$m" "$k" "$s")
      echo "$line" >>"$raw"
      best=
      if [[ -n $(field "$line" error) ]]; then
        best=failed
      elif [[ $(field "$line" dropped) == 0 ]]; then
        best=">= $(field "$line" produced_per_s)" # generator-bound: nothing was dropped
      elif ((search)); then
        free=$(field "$line" produced_per_s)
        for frac in 0.85 0.7 0.55 0.4 0.25 0.1; do
          rate=$(awk -v f="$free" -v x="$frac" 'BEGIN { printf "%.0f", f * x }')
          paced=$(run "$m" "$k" "$s" "$rate")
          echo "$paced" >>"$raw"
          if [[ -z $(field "$paced" error) && $(field "$paced" dropped) == 0 ]]; then
            best=$(field "$paced" produced_per_s)
            break
          fi
        done
        best=${best:-"< $rate"}
      else
        best="not searched"
      fi
      zero_drop["$m $k $s"]=$best
    done
  done
done

echo
echo "| rings | wakeup | K | S | produced/s | consumed/s | dropped | kernel ns/record | consumer CPU % | consumer ns/record | records per wakeup | delivery delay ms (mean) | max ktime inversion µs | highest zero-drop rate/s | vs shared/once | accounted |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
while read -r line; do
  [[ $(field "$line" target_per_s) == 0 ]] || continue # paced runs: in the raw lines
  m=$(field "$line" config)
  k=$(field "$line" k)
  s=$(field "$line" size)
  if [[ -n $(field "$line" error) ]]; then
    echo "| $m | | $k | $s | failed: $(field "$line" error) | | | | | | | | | | | |"
    continue
  fi
  best=${zero_drop["$m $k $s"]}
  base=${zero_drop["shared/once $k $s"]:-}
  ratio=
  if [[ $best =~ [0-9] && $base =~ [0-9] && $best != failed* && $base != failed* ]]; then
    ratio=$(awk -v a="${best//[^0-9]/}" -v b="${base//[^0-9]/}" 'BEGIN { printf "%.2f", a / b }')
    # ">= N": the generators were the limit (a lower bound); "< N": drops even at N (an upper bound).
    case "${best:0:1}${base:0:1}" in
    ">>" | "<<") ratio="?" ;;
    ">"* | *"<") ratio=">= $ratio" ;;
    "<"* | *">") ratio="<= $ratio" ;;
    esac
  fi
  rule=$(field "$line" wakeup_rule)
  echo "| ${m%/*} | $rule | $k | $s | $(field "$line" produced_per_s) | $(field "$line" consumed_per_s) |" \
    "$(awk -v d="$(field "$line" drop_share)" 'BEGIN { printf (d == 0 ? "0" : "%.2g%%"), 100 * d }') |" \
    "$(field "$line" prog_ns_per_record) | $(field "$line" consumer_cpu_pct) |" \
    "$(awk -v c="$(field "$line" consumer_cpu_pct)" -v r="$(field "$line" consumed_per_s)" 'BEGIN { if (r > 0) printf "%.1f", c * 1e7 / r }') |" \
    "$(field "$line" records_per_wakeup) | $(field "$line" delay_ms_mean) | $(field "$line" max_inversion_us) |" \
    "$best | $ratio | $(field "$line" accounted) |"
done <"$raw"
echo
echo "produced/s, consumed/s, dropped, CPU, wakeups, delay and inversions: the free run (generators as fast as"
echo "they go). Kernel ns/record: the producer program's run time per call (bpf_stats) over K: the bpf_loop, the"
echo "ring lookup, the wakeup query and the copy into the ring, not the syscall. Consumer ns/record: the consumer"
echo "threads' CPU time over the records they consumed (reading, checking, counting; with the merge, its copies"
echo "too). Highest zero-drop rate: the free run's rate if it dropped nothing (>=: the generators were the limit),"
echo "else the first paced run without drops at 85, 70, 55, 40, 25, 10 % of it (< N: it dropped even at N). vs"
echo "shared/once: the ratio of the zero-drop rates (>= or <= when one of them is a bound, ? when both are). Max"
echo "ktime inversion: how far back in time a record read after another was stamped (the reorder window a merge by"
echo "timestamp needs). accounted: for every CPU, produced = delivered + dropped, and the sequence gaps the sink"
echo "saw are exactly the drops."
if ((producers)) && (($(nproc) >= 2)); then
  echo
  echo "One producer CPU against two (S=64, free runs; the consumer free on every CPU):"
  echo
  echo "| K | generator threads | shared/every: kernel ns/record | per-cpu: kernel ns/record | shared/every: produced/s | per-cpu: produced/s |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for k in 1 16; do
    for generators in 1 2; do
      a=$(run shared/every "$k" 64)
      b=$(run per-cpu "$k" 64)
      echo "$a" >>"$raw"
      echo "$b" >>"$raw"
      echo "| $k | $generators | $(field "$a" prog_ns_per_record) | $(field "$b" prog_ns_per_record) |" \
        "$(field "$a" produced_per_s) | $(field "$b" produced_per_s) |"
    done
  done
  generators=0
fi

echo
echo "raw:"
echo '```'
cat "$raw"
echo '```'

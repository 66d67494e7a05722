#!/usr/bin/env bash
# Syscall overhead: ns per syscall with no agent and with the agent, for each
# syscall hook family (syscalls.hooks: tracepoint, dispatcher), on
#   - getppid untraced (not in syscalls.trace) and traced (in it: one small
#     record per call, no strings);
#   - openat+close of a file outside the watched prefix (path filtered in the
#     kernel) and inside it (one record with the path per call).
# Each round runs, per family, three agent sessions (getppid untraced, getppid
# traced, openat), each right after a baseline (no agent) of the same
# workload, so every ratio and delta is paired; the table gives medians over
# the rounds. Figures are the loop's fastest of 100 repetitions
# (bench/syscall_loop.cc). The agent runs without --stdout: its consumer reads
# and decodes the records and discards them. Records delivered and kernel
# drops come from the agent's final stats line. A pair during which any other
# BPF tracer was attached (another agent) is left out. Each round also
# measures the floor any tracer pays here (bench/hook_floor.*): an empty
# program on getppid's exit tracepoint, and a minimal record per call.
# Usage (root): bench/syscall_overhead.sh [CALLS=2000000] [ROUNDS=5]
#   openat cases make CALLS/10 calls. Builds nothing: run
#   scripts/build.sh vigil-agent vigil_syscall_loop first.
#   VIGIL_BENCH_CPU=N pins the loop (only the loop) to CPU N; default unpinned.
#   On the 2-vCPU bench VM one vCPU is often 10-15% slower than the other
#   (which one changes over minutes), so unpinned pairs can differ by more
#   than the untraced costs being measured; pin for those.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
calls=${1:-2000000}
rounds=${2:-5}
open_calls=$((calls / 10))
# Short repetitions (~10-20 ms here), so on a busy machine some of them still
# run undisturbed; the loop reports the fastest.
reps=100
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_prepare syscall_overhead "$build" vigil_syscall_loop vigil_hook_floor
agent=$build/vigil-agent
loop=$build/bench/vigil_syscall_loop
floor=$build/bench/vigil_hook_floor
pin=()
if [[ -n ${VIGIL_BENCH_CPU:-} ]]; then
  pin=(taskset -c "$VIGIL_BENCH_CPU")
fi

mkdir "$work/watched" "$work/other"
inside=$work/watched/file
outside=$work/other/file
echo bench >"$inside"
echo bench >"$outside"
base_list="openat, execve, connect, kill"

# config HOOKS TRACED(0|1) -> path of the agent configuration
config() {
  local file=$work/agent-$1-$2.yaml list=$base_list
  [[ $2 == 1 ]] && list="$list, getppid"
  cat >"$file" <<EOF
syscalls:
  hooks: $1
  trace: [$list]
  count: []
files:
  watch: ["$work/watched"]
EOF
  echo "$file"
}

for hooks in tracepoint dispatcher; do
  for traced in 0 1; do
    if ! "$agent" -c "$(config $hooks $traced)" --print-config >"$work/print" 2>&1; then
      echo "syscall_overhead: the agent rejects the bench configuration:" >&2
      cat "$work/print" >&2
      exit 1
    fi
  done
done
if ! grep -q '^syscalls:' "$work/print"; then
  echo "syscall_overhead: vigil-agent --print-config has no syscalls: section" >&2
  exit 1
fi

# attached [PID]: "pid fd_type name" of every BPF program attached to a
# tracepoint, raw tracepoint, kprobe or uprobe, other than PID's.
attached() {
  bpftool -j perf 2>/dev/null | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if str(a.get("pid")) != sys.argv[1]:
        print(a.get("pid"), a.get("fd_type"), a.get("tracepoint") or a.get("func") or a.get("filename") or "?")
' "${1:-0}"
}

# A tracer left by someone else makes every syscall slower, in the baseline too.
if [[ -n $(attached) ]]; then
  echo "syscall_overhead: BPF programs are already attached (another agent or tracer), so a no-agent" \
    "baseline is impossible; stop them first:" >&2
  attached | awk '{print $1}' | sort -u | while read -r pid; do
    echo "  pid $pid ($(ps -o args= -p "$pid" 2>/dev/null || echo gone)): $(attached | grep -c "^$pid ") attachments" >&2
  done
  exit 1
fi

# measure ROUND CASE WORKLOAD: one loop run (WORKLOAD getppid, openat_outside
# or openat_inside), one results line.
measure() {
  local out
  case $3 in
  getppid) out=$("${pin[@]}" "$loop" getppid "$calls" "$reps") ;;
  openat_outside) out=$("${pin[@]}" "$loop" openat "$open_calls" "$outside" "$reps") ;;
  openat_inside) out=$("${pin[@]}" "$loop" openat "$open_calls" "$inside" "$reps") ;;
  esac
  echo "  $2 $3: $out"
  local ns cpu
  ns=$(grep -o 'ns_min=[0-9.]*' <<<"$out" | cut -d= -f2)
  cpu=$(grep -o 'cpu=[a-z0-9]*' <<<"$out" | cut -d= -f2)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ns" "$cpu" >>"$work/results.tsv"
}

# workloads ROUND CASE KIND: getppid for KIND untraced and traced; openat
# outside then inside the watched prefix for KIND openat (outside first: its
# records are filtered in the kernel, so the session's drops are the inside's).
workloads() {
  if [[ $3 == openat ]]; then
    measure "$1" "$2" openat_outside
    measure "$1" "$2" openat_inside
  else
    measure "$1" "$2" getppid
  fi
}

# session ROUND HOOKS KIND: baseline, then the agent with that configuration.
# The pair is dropped from the table when any other BPF tracer was attached
# during it (another agent started meanwhile).
session() {
  local r=$1 hooks=$2 kind=$3 name=$2-$3 traced=0
  [[ $kind == traced ]] && traced=1
  local foreign
  foreign=$(attached | wc -l)
  workloads "$r" "base:$name" "$kind"
  foreign=$((foreign + $(attached | wc -l)))
  local log=$work/agent-$r-$name.log
  : >"$log" # exists before the agent's shell opens it: the wait below reads it at once
  "$agent" -c "$(config "$hooks" "$traced")" --stats-interval 0 >/dev/null 2>"$log" &
  apid=$!
  for _ in $(seq 1 300); do
    grep -q capturing "$log" && break
    if ! kill -0 "$apid" 2>/dev/null; then
      echo "syscall_overhead: the agent exited before capturing ($name):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if ! grep -q capturing "$log"; then
    echo "syscall_overhead: the agent did not start capturing within 30 s ($name):" >&2
    cat "$log" >&2
    exit 1
  fi
  # What the agent attached: per-syscall tracepoints, or raw sys_enter/sys_exit.
  local mine
  mine=$(bpftool -j perf 2>/dev/null | python3 -c '
import collections, json, sys
c = collections.Counter(a.get("fd_type") for a in json.load(sys.stdin) if str(a.get("pid")) == sys.argv[1])
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
' "$apid")
  foreign=$((foreign + $(attached "$apid" | wc -l)))
  # The agent's CPU use over the loops, and its peak resident memory.
  local ticks0 ticks1 t0 usage
  read -r -a ticks0 < <(awk '{print $14, $15}' "/proc/$apid/stat")
  t0=$(date +%s.%N)
  workloads "$r" "$name" "$kind"
  read -r -a ticks1 < <(awk '{print $14, $15}' "/proc/$apid/stat")
  usage=$(awk -v b0="${ticks0[0]}" -v b1="${ticks0[1]}" -v a0="${ticks1[0]}" -v a1="${ticks1[1]}" \
    -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$(date +%s.%N)" \
    -v hwm="$(awk '/VmHWM/ {print $2}' "/proc/$apid/status")" \
    'BEGIN { printf "agent_cpu=%.0f%% agent_peak_rss_mb=%.1f", 100 * ((a0 + a1) - (b0 + b1)) / hz / (t1 - t0), hwm / 1024 }')
  foreign=$((foreign + $(attached "$apid" | wc -l)))
  kill -TERM "$apid"
  local rc=0
  wait "$apid" || rc=$?
  apid=
  local stats
  stats=$(grep 'stats:' "$log" | tail -1 || true)
  local full file pending events
  full=$(stat_value "$stats" "$STAT_RB_FULL_SYSCALL")
  file=$(stat_value "$stats" "$STAT_RB_FULL_FILE")
  pending=$(stat_value "$stats" "$STAT_PENDING_FULL")
  events=$(stat_value "$stats" "$STAT_DELIVERED")
  echo "  agent $name: exit=$rc events=$events ringbuf_full_syscall=$full ringbuf_full_file=$file" \
    "syscall_pending_full=$pending syscall_path_filtered=$(stat_value "$stats" "$STAT_PATH_FILTERED") $usage; attached: $mine"
  if ((foreign)); then
    echo "  WARNING: another BPF tracer was attached during this pair: left out of the table"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$full" "$file" "$pending" "$foreign" "$events" \
    >>"$work/sessions.tsv"
  # Warnings and errors, without the timestamp, gathered for the end.
  grep -E '^[^ ]+ (warning|error|critical) ' "$log" | cut -d' ' -f2- >>"$work/warnings" || true
}

# floor_pair ROUND MODE: the floor under a traced getppid, no Vigil involved
# (bench/hook_floor.bpf.c): the same loop with no program, then with MODE
# (empty: a program that returns at once on the exit tracepoint; record: the
# smallest useful record per call, drained by a consumer thread).
floor_pair() {
  local out ns
  for m in none "$2"; do
    out=$("${pin[@]}" "$floor" "$m" "$calls" "$reps")
    echo "  floor-$2 $m: $out"
    ns=$(grep -o 'ns_min=[0-9.]*' <<<"$out" | cut -d= -f2)
    if [[ $m == none ]]; then
      printf '%s\tbase:floor-%s\tgetppid\t%s\t-\n' "$1" "$2" "$ns" >>"$work/results.tsv"
    else
      printf '%s\tfloor-%s\tgetppid\t%s\t-\n' "$1" "$2" "$ns" >>"$work/results.tsv"
    fi
  done
  printf '%s\tfloor-%s\t0\t0\t0\t0\t0\n' "$1" "$2" >>"$work/sessions.tsv"
}

echo "syscall overhead: calls=$calls (openat $open_calls), rounds=$rounds, $(nproc) CPUs, kernel $(uname -r)," \
  "loop CPU ${VIGIL_BENCH_CPU:-unpinned}"
for r in $(seq 1 "$rounds"); do
  echo "round $r (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  # Alternate which family goes first, so neither always runs on a warmer or
  # quieter machine.
  if ((r % 2)); then order="tracepoint dispatcher"; else order="dispatcher tracepoint"; fi
  for hooks in $order; do
    for kind in untraced traced openat; do
      session "$r" "$hooks" "$kind"
    done
  done
  floor_pair "$r" empty
  floor_pair "$r" record
done
echo "end (load average $(cut -d' ' -f1-3 /proc/loadavg))"
if [[ -s $work/warnings ]]; then
  echo "agent warnings and errors (times seen over all sessions):"
  sort "$work/warnings" | uniq -c | sort -rn | sed 's/^/ /'
fi

python3 - "$work/results.tsv" "$work/sessions.tsv" <<'EOF'
import statistics, sys
from collections import defaultdict

med = statistics.median
sessions = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
dirty = {(int(x[0]), x[1]) for x in sessions if x[5] != "0"}
sessions = [x for x in sessions if (int(x[0]), x[1]) not in dirty]
rows = []  # (round, case, workload, ns) of the clean pairs
for l in open(sys.argv[1]):
    r, case, wl, v, _cpu = l.rstrip("\n").split("\t")
    if (int(r), case.removeprefix("base:")) not in dirty:
        rows.append((int(r), case, wl, float(v)))
ns = defaultdict(dict)  # (case, workload) -> {round: ns}
for r, case, wl, v in rows:
    ns[(case, wl)][r] = v

def drops(case):
    s = [x for x in sessions if x[1] == case]
    def total(i):
        return "?" if any(x[i] == "?" for x in s) else str(sum(int(x[i]) for x in s))
    return "%s | %s / %s / %s" % (total(6), total(2), total(3), total(4))

print()
print("| case | ns/call | ratio vs baseline | delta ns vs baseline | records delivered | dropped: ringbuf_full_syscall / _file / syscall_pending_full |")
print("|---|---:|---:|---:|---:|---|")
for wl, label in (("getppid", "getppid"), ("openat_outside", "openat+close outside the watched prefix"),
                  ("openat_inside", "openat+close inside the watched prefix")):
    base = [v for (case, w), by_round in ns.items() if w == wl and case.startswith("base:") for v in by_round.values()]
    if base:
        print("| %s, no agent | %.0f | 1.000 | 0 | | |" % (label, med(base)))
    for case, what in (("floor-empty", "none; floor: an empty BPF program on its exit tracepoint"),
                       ("floor-record", "none; floor: a minimal 64-byte record per call, drained"),
                       ("tracepoint-untraced", "tracepoint, untraced"), ("tracepoint-traced", "tracepoint, traced"),
                       ("tracepoint-openat", "tracepoint"), ("dispatcher-untraced", "dispatcher, untraced"),
                       ("dispatcher-traced", "dispatcher, traced"), ("dispatcher-openat", "dispatcher")):
        with_agent, before = ns.get((case, wl), {}), ns.get(("base:" + case, wl), {})
        if not with_agent:
            continue
        # Each agent measurement against the no-agent one taken just before it.
        pairs = [(v, v / before[r], v - before[r]) for r, v in with_agent.items()]
        print("| %s, agent %s | %.0f | %.3f | %+.0f | %s |" % (label, what, med(p[0] for p in pairs),
              med(p[1] for p in pairs), med(p[2] for p in pairs),
              "(no agent) | " if case.startswith("floor-") else drops(case)))

# A/A: the no-agent getppid measurements of one round differ only by noise.
spread = []
for r in sorted({x[0] for x in rows}):
    b = [v for rr, case, wl, v in rows if rr == r and wl == "getppid" and case.startswith("base:")]
    if len(b) > 1:
        spread.append((max(b) - min(b)) / min(b))
print()
if spread:
    print("noise: the no-agent getppid measurements of one round differ by %.1f%% (median over rounds), %.1f%% at most"
          % (100 * med(spread), 100 * max(spread)))
print("ns/call: median over rounds of the loop's fastest repetition; ratio and delta: median over rounds")
print("of each agent measurement against the no-agent measurement taken just before it; baseline rows:")
print("median of all no-agent measurements. Records delivered (all kinds, all processes) and drops:")
print("totals over the rounds' agent sessions.")
if dirty:
    print("left out (another BPF tracer attached): %d of %d pairs" % (len(dirty), len(dirty) + len(sessions)))
EOF

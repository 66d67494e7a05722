#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang-19 in build-fuzz (or
# $VIGIL_FUZZ_BUILD_DIR) and runs each for $VIGIL_FUZZ_SECONDS (default 30)
# from its seed corpus, $VIGIL_FUZZ_JOBS (default: the CPU count) at a time.
# Fails on any crash, leak, slow input or broken invariant, and keeps the
# input that caused it under <build>/fuzz-artifacts/<target>/. Prints one
# summary line per target. Arguments: the targets to run (default all:
# process syscall network dns suppressed config spool ingest).
#
# To reproduce a failure: <build>/tests/fuzz/vigil_fuzz_<target> <artifact>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${VIGIL_FUZZ_SECONDS:-30}
jobs=${VIGIL_FUZZ_JOBS:-$(nproc)}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(process syscall network dns suppressed config spool ingest)
fi

for tool in clang-19 clang++-19; do
  if ! command -v "$tool" > /dev/null; then
    echo "fuzz.sh: $tool not found: install clang-19 and libclang-rt-19-dev (scripts/setup.sh)" >&2
    exit 1
  fi
done
if [[ ! -f $build/build.ninja ]]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVIGIL_FUZZ=ON -DVIGIL_BUILD_TESTS=OFF
fi
ninja -C "$build" vigil_fuzz_seeds "${targets[@]/#/vigil_fuzz_}"

# Seeds: valid records built from the kernel/user structs, and the checked-in
# configuration files. New inputs the fuzzers find are kept beside them for
# the next run.
corpus=$build/fuzz-corpus
"$build/tests/fuzz/vigil_fuzz_seeds" "$corpus"
mkdir -p "$corpus/config"
cp "$root"/tests/fuzz/corpus/config/*.yaml "$root/deploy/agent.yaml" "$corpus/config/"

logs=$build/fuzz-logs
rm -rf "$logs"
mkdir -p "$logs"

# One target: its log in $logs/<target>.log, its exit status in .rc.
runTarget() {
  local t=$1
  local artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$artifacts" "$corpus/$t"
  local extra=()
  if [[ $t == config ]]; then
    extra+=(-dict="$root/tests/fuzz/config.dict")
  fi
  local rc=0
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/vigil_fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" "$corpus/$t" \
    > "$logs/$t.log" 2>&1 || rc=$?
  echo "$rc" > "$logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  runTarget "$t" &
  running=$((running + 1))
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
  log=$logs/$t.log
  rc=$(cat "$logs/$t.rc" 2> /dev/null || echo 1)
  # -a: a target may print bytes that are not text.
  execs=$(grep -a '^stat::number_of_executed_units:' "$log" | tail -1 | tr -dc 0-9)
  rate=$(grep -a '^stat::average_exec_per_sec:' "$log" | tail -1 | tr -dc 0-9)
  # The last status line: "#N ... cov: C ft: F corp: K/S ...".
  cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1)
  if [[ $rc == 0 ]]; then
    passed=$((passed + 1))
    echo "fuzz.sh: $t: ok: ${execs:-?} execs (${rate:-?}/s) in ${seconds}s, ${cov:-no coverage line}"
  else
    failed=$((failed + 1))
    echo "fuzz.sh: $t: FAILED (exit $rc) after ${execs:-?} execs, ${cov:-no coverage line}; log $log"
    grep -aE 'ERROR: |invariant broken|SUMMARY: |Test unit written to|runtime error' "$log" | head -20 | sed 's/^/  /'
  fi
done
echo "fuzz.sh: $passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Installs what it needs, builds everything, and runs the whole test suite:
# unit (unprivileged), bpf (root, real kernel) and e2e (real binaries) under
# ctest; then the unit tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer (scripts/sanitize.sh, build-asan/) and every
# fuzz target for $VIGIL_FUZZ_SECONDS (scripts/fuzz.sh, build-fuzz/).
# Extra arguments go to ctest (e.g. -L unit). VIGIL_TEST_SANITIZE=0 and
# VIGIL_TEST_FUZZ=0 skip those steps. Ends with one line summing every step;
# exits non-zero if anything failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: not root: bpf and e2e tests will skip (they load BPF programs)" >&2
fi

passed=0
failed=0
parts=()
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# ctest: its own output as it comes; its totals from the summary line
# "N% tests passed, F tests failed out of T".
ctest_rc=0
(cd "$build" && ctest --output-on-failure --timeout 300 "$@") 2>&1 | tee "$logs/ctest" || ctest_rc=$?
summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/ctest" | tail -1 || true)
if [[ $summary =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
  ctest_failed=${BASH_REMATCH[1]}
  ctest_total=${BASH_REMATCH[2]}
else
  # No summary (ctest itself failed, or found no tests): one failed step.
  ctest_failed=$((ctest_rc != 0 ? 1 : 0))
  ctest_total=$ctest_failed
fi
if ((ctest_rc != 0 && ctest_failed == 0)); then
  ctest_failed=1
  ctest_total=$((ctest_total + 1))
fi
passed=$((passed + ctest_total - ctest_failed))
failed=$((failed + ctest_failed))
parts+=("ctest $((ctest_total - ctest_failed))/$ctest_total")

# Each step one count; its own output as it comes.
step() {
  local name=$1
  shift
  local start=$SECONDS
  local rc=0
  echo "test.sh: $name: $*"
  "$@" || rc=$?
  if ((rc == 0)); then
    passed=$((passed + 1))
    parts+=("$name ok in $((SECONDS - start))s")
  else
    failed=$((failed + 1))
    parts+=("$name FAILED (exit $rc) in $((SECONDS - start))s")
  fi
}

if [[ ${VIGIL_TEST_SANITIZE:-1} != 0 ]]; then
  step sanitizers "$root/scripts/sanitize.sh"
fi

# The fuzz step counts each target.
if [[ ${VIGIL_TEST_FUZZ:-1} != 0 ]]; then
  start=$SECONDS
  fuzz_rc=0
  echo "test.sh: fuzz: $root/scripts/fuzz.sh"
  "$root/scripts/fuzz.sh" 2>&1 | tee "$logs/fuzz" || fuzz_rc=$?
  line=$(grep -E '^fuzz\.sh: [0-9]+ passed, [0-9]+ failed$' "$logs/fuzz" | tail -1 || true)
  if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    fuzz_passed=${BASH_REMATCH[1]}
    fuzz_failed=${BASH_REMATCH[2]}
  else
    fuzz_passed=0
    fuzz_failed=1 # it did not get to run the targets (build or setup failed)
  fi
  if ((fuzz_rc != 0 && fuzz_failed == 0)); then
    fuzz_failed=1
  fi
  passed=$((passed + fuzz_passed))
  failed=$((failed + fuzz_failed))
  parts+=("fuzz $fuzz_passed/$((fuzz_passed + fuzz_failed)) targets in $((SECONDS - start))s")
fi

detail=$(printf '%s; ' "${parts[@]}")
echo "test.sh: $passed passed, $failed failed (${detail%; })"
((failed == 0))

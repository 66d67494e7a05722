#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DVIGIL_SANITIZE=ON) in build-asan (or $VIGIL_ASAN_BUILD_DIR) and runs
# them: a memory error, a leak or undefined behaviour fails the run, with
# its stack. Extra arguments go to the test binary (e.g. --gtest_filter=Dns*).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_ASAN_BUILD_DIR:-$root/build-asan}
# clang-19 at -O1 with line tables only: stacks with file:line, and half the
# build time of g++ -O1 -g (measured on agent/config.cc: 15 s against 33 s).
# A debug build: assertions on.
if [[ ! -f $build/build.ninja ]]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
    -DVIGIL_SANITIZE=ON
fi
# The tools the build runs (the protoc plugin, gtest's test listing) are
# sanitized too; what they leave allocated at exit is not the tests' concern.
ASAN_OPTIONS=detect_leaks=0 ninja -C "$build" vigil_unit_tests

cd "$build"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# All in one process: seconds, where a process per test (ctest) takes minutes
# under ASan.
if ./tests/vigil_unit_tests --gtest_brief=1 "$@"; then
  echo "sanitize.sh: the unit tests pass under ASan and UBSan"
  exit 0
fi
# A sanitizer stops the process at its first report: to name every test
# that fails, ctest runs each on its own.
echo "sanitize.sh: the unit tests failed under ASan or UBSan; each test on its own:" >&2
ctest -L unit --output-on-failure --timeout 300 -j "$(nproc)" || true
exit 1

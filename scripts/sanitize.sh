#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DVIGIL_SANITIZE=ON) in build-asan (or $VIGIL_ASAN_BUILD_DIR) and runs
# them: a memory error, a leak or undefined behaviour fails the run, with
# its stack. Extra arguments go to ctest (e.g. -R Dns).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VIGIL_ASAN_BUILD_DIR:-$root/build-asan}
# -O1: the sanitizers' usual level, and a good deal quicker to build than -O2.
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DVIGIL_SANITIZE=ON
fi
# The tools the build runs (the protoc plugin, gtest's test listing) are
# sanitized too; what they leave allocated at exit is not the tests' concern.
ASAN_OPTIONS=detect_leaks=0 ninja -C "$build" vigil_unit_tests
cd "$build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -L unit --output-on-failure --timeout 300 -j "$(nproc)" "$@"

#!/usr/bin/env bash
# Installs every Debian package Vigil's build, run and tests need. Idempotent:
# when everything is already installed it changes nothing and does not touch
# the network.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # BPF: clang-19 for better BPF codegen, libbpf + bpftool for loading and skeletons
  clang-19 llvm-19 libbpf-dev bpftool libelf-dev zlib1g-dev
  # libraries
  libprotobuf-dev libprotoc-dev protobuf-compiler libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libreaderwriterqueue-dev libboost-dev
  # fuzzing and sanitizers: libFuzzer and the sanitizer runtimes of clang-19
  # (scripts/fuzz.sh, scripts/sanitize.sh)
  libclang-rt-19-dev
  # used by tests and the run script
  procps util-linux iproute2 dnsmasq-base
  # the benchmark scripts' table rendering
  python3
  # CRI client (pod identity) and the real containerd its tests start; images
  # are built offline from busybox-static and a static pause binary
  libgrpc++-dev protobuf-compiler-grpc containerd runc busybox-static
  # the metrics registry and its Prometheus endpoint
  prometheus-cpp-dev
  # the central collector: its SQLite store, the chain hashes (libcrypto), and
  # the certificates its tests make with the openssl CLI
  libsqlite3-dev sqlite3 libssl-dev openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

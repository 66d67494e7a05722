#!/usr/bin/env bash
# Regenerates the committed vmlinux.h for one architecture from a kernel's BTF.
# The build never reads the build host's /sys: run this deliberately, review the
# diff, commit it.
#   usage: scripts/gen-vmlinux.sh [btf-file] [arch]
#   default: /sys/kernel/btf/vmlinux, arch of this machine (x86 for x86_64)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
arch=${2:-$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bpf/vmlinux/$arch/vmlinux.h"
command -v bpftool >/dev/null || { echo "gen-vmlinux.sh: bpftool not found (scripts/setup.sh installs it)" >&2; exit 1; }
[[ -r $btf ]] || { echo "gen-vmlinux.sh: cannot read BTF at $btf" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
tmp=$(mktemp)
bpftool btf dump file "$btf" format c > "$tmp"
mv "$tmp" "$out"
echo "wrote $out ($(wc -l < "$out") lines) from $btf"

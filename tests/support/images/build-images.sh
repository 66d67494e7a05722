#!/usr/bin/env bash
# Builds, offline, the OCI image tarball the containerd tests import with
# `ctr -n k8s.io images import`: <out>/images.tar, one OCI image layout
# (oci-layout, index.json, blobs/sha256/) holding two images, each of one
# uncompressed layer:
#   vigil.test/busybox:1  Debian's static /bin/busybox (busybox-static) and a
#                         symlink for every applet; Cmd sh
#   vigil.test/pause:1    pause.c compiled with gcc -static; Entrypoint /pause
# Usage: build-images.sh <out-dir>. Env: BUSYBOX (default /bin/busybox), CC.
# The output is deterministic; it is not rebuilt while newer than its inputs
# (this script, pause.c, busybox).
set -euo pipefail

out=${1:?usage: build-images.sh <out-dir>}
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
cc=${CC:-gcc}
tarball=$out/images.tar

die() {
  echo "build-images.sh: $*" >&2
  exit 1
}

[[ -x $busybox ]] || die "$busybox not found: install the Debian package busybox-static"
if [[ -f $tarball && $tarball -nt $0 && $tarball -nt $here/pause.c && $tarball -nt $busybox ]]; then
  exit 0
fi
# A dynamically linked busybox would not run in an image without libc.
if command -v ldd >/dev/null && ldd "$busybox" 2>/dev/null | grep -q '=>'; then
  die "$busybox is dynamically linked: install busybox-static, not busybox"
fi
command -v "$cc" >/dev/null || die "$cc not found: install build-essential"
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
manifests=()

sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# Moves file into the layout's blob store; prints its digest.
add_blob() {
  local file=$1 hex
  hex=$(sha256 "$file")
  mv "$file" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex"
}

# add_image <name:tag> <rootfs> <config-section-json>
add_image() {
  local name=$1 rootfs=$2 config=$3

  # Deterministic layer: sorted, zero mtimes, root-owned.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  local layer_size layer_digest
  layer_size=$(size "$work/layer.tar")
  layer_digest=$(add_blob "$work/layer.tar")

  # Uncompressed layer: its diff_id is its digest.
  printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$arch" "$config" "$layer_digest" >"$work/config.json"
  local config_size config_digest
  config_size=$(size "$work/config.json")
  config_digest=$(add_blob "$work/config.json")

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'`
        `'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},'`
        `'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
  local manifest_size manifest_digest
  manifest_size=$(size "$work/manifest.json")
  manifest_digest=$(add_blob "$work/manifest.json")

  # containerd names an imported image after io.containerd.image.name.
  manifests+=("$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,'`
    `'"platform":{"architecture":"%s","os":"linux"},'`
    `'"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}' \
    "$manifest_digest" "$manifest_size" "$arch" "$name" "${name##*:}")")
}

# Files every image gets: users, and the mount points runc expects.
base_rootfs() {
  local r=$1
  mkdir -p "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}

# --- busybox -------------------------------------------------------------------
bb=$work/busybox-rootfs
base_rootfs "$bb"
mkdir -p "$bb/bin"
cp "$busybox" "$bb/bin/busybox"
# One perl (Essential in Debian) rather than ~270 ln processes.
perl -e 'chdir shift or die; for (@ARGV) { next if $_ eq "busybox"; symlink("busybox", $_) or die "$_: $!\n" }' \
  "$bb/bin" $("$busybox" --list)
add_image vigil.test/busybox:1 "$bb" '{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"}'

# --- pause ---------------------------------------------------------------------
pr=$work/pause-rootfs
base_rootfs "$pr"
"$cc" -static -Os -s -o "$pr/pause" "$here/pause.c" ||
  die "cannot link a static pause binary (needs libc6-dev's libc.a)"
add_image vigil.test/pause:1 "$pr" '{"Entrypoint":["/pause"],"WorkingDir":"/"}'

# --- the layout ------------------------------------------------------------------
(
  IFS=,
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' \
    "${manifests[*]}" >"$layout/index.json"
)
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$tarball.tmp" \
  oci-layout index.json blobs
mv "$tarball.tmp" "$tarball"
echo "build-images.sh: wrote $tarball (vigil.test/busybox:1, vigil.test/pause:1)"

#!/usr/bin/env bash
# Configures and builds nines in Release mode, every target (the binary, nines-workload, the
# tests), in build/. The test command's build step and the container image's build stage
# (Dockerfile) both run this very script, so the image holds the binary that the tests tested.
#
#   scripts/build-release.sh           build into build/
#   scripts/build-release.sh OUT       ... then put in OUT/rootfs/ what the image needs:
#                                      /nines, and the shared libraries it links that the runtime
#                                      base image lacks, under /usr/lib/<multiarch>/
#   scripts/build-release.sh --print-base-libs   the libraries the runtime base provides
# Environment: BUILD_DIR (default build), JOBS (parallel jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

# What the runtime base, gcr.io/distroless/cc-debian12, already has: glibc (libc6), libssl3 (the
# distroless base layer) and libgcc-s1 and libstdc++6 (the cc layer), all of Debian 12, the same
# release as the build stage. Every other library the binary links is copied into the image.
base_libs=(linux-vdso.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libc.so.6 libm.so.6
  libpthread.so.0 libdl.so.2 librt.so.1 libgcc_s.so.1 libstdc++.so.6 libssl.so.3 libcrypto.so.3)

case "${1:-}" in
  -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
  --print-base-libs) printf '%s\n' "${base_libs[@]}"; exit 0 ;;
esac
out=${1:-}
build=${BUILD_DIR:-build}
jobs=${JOBS:-2}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs"

[ -n "$out" ] || exit 0
rootfs="$out/rootfs"
multiarch=$(gcc -print-multiarch)
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/lib/$multiarch"
install -m 0755 "$build/nines" "$rootfs/nines"
# ldd: "libfoo.so.1 => /lib/.../libfoo.so.1 (0x...)"; copy the file itself, under its soname.
ldd "$build/nines" | awk '$2 == "=>" { print $1, $3 }' | while read -r soname path; do
  for base in "${base_libs[@]}"; do [ "$soname" != "$base" ] || continue 2; done
  [ -f "$path" ] || { echo "build-release.sh: $soname: not found ($path)" >&2; exit 1; }
  install -m 0644 "$(readlink -f "$path")" "$rootfs/usr/lib/$multiarch/$soname"
  echo "build-release.sh: bundled $soname"
done
echo "build-release.sh: $rootfs holds /nines and the libraries the runtime base lacks"

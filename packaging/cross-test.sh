#!/usr/bin/env bash
# Cross-build orderly with its tests for arm64 or armhf and run them under qemu-user:
#   packaging/cross-test.sh arm64            build + .deb + `ctest -L unit` under qemu-aarch64-static
#   packaging/cross-test.sh armhf            the same for armhf (qemu-arm-static)
#   packaging/cross-test.sh armhf --version  only the product and `orderly --version` (quick)
#   packaging/cross-test.sh armhf --package  the .deb, and its own binary under qemu: --version
#                                            and check-config on its packaged example config
# Needs `packaging/setup-cross.sh ARCH` once. The emulator comes from the toolchain file
# (CMAKE_CROSSCOMPILING_EMULATOR), so ctest and gtest discovery run the ARCH binaries
# through qemu without binfmt_misc. Environment as for build-deb.sh (BUILD_DIR, JOBS, NICE).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCH=${1:-}
MODE=${2:-}
case "$ARCH" in
  arm64) QEMU=(qemu-aarch64-static) TRIPLET=aarch64-linux-gnu ;;
  armhf) QEMU=(qemu-arm-static) TRIPLET=arm-linux-gnueabihf ;;
  *) echo "usage: packaging/cross-test.sh arm64|armhf [--version|--package]" >&2; exit 2 ;;
esac
BUILD_DIR=${BUILD_DIR:-$ROOT/build-pkg-$ARCH}
export BUILD_DIR
# As the toolchain file's CMAKE_CROSSCOMPILING_EMULATOR: the sysroot fallback
# (setup-cross.sh --sysroot), the multiarch root (loader and libc from the same libc6:ARCH; see
# toolchain-debian-cross.cmake for why they must match), or the cross toolchain's root. The guest
# loader's built-in search path lacks the multiarch directories (they come from an ld.so.cache
# the sysroot does not have), hence -E.
if [ ! -e "/usr/lib/$TRIPLET/pkgconfig/libmosquitto.pc" ] && [ -d "/opt/orderly-cross/$ARCH" ]; then
  QEMU+=(-L "/opt/orderly-cross/$ARCH")
elif [ -e "/usr/lib/$TRIPLET/libc.so.6" ]; then
  QEMU+=(-L /)
else
  QEMU+=(-L "/usr/$TRIPLET")
fi
QEMU+=(-E "LD_LIBRARY_PATH=/lib/$TRIPLET:/usr/lib/$TRIPLET")

case "$MODE" in
  --version) ORDERLY_NO_DEB=1 ORDERLY_BUILD_TESTS=OFF "$ROOT/packaging/build-deb.sh" "$ARCH" ;;
  --package) ORDERLY_BUILD_TESTS=OFF "$ROOT/packaging/build-deb.sh" "$ARCH" ;;
  *) ORDERLY_BUILD_TESTS=ON "$ROOT/packaging/build-deb.sh" "$ARCH" ;;
esac

file "$BUILD_DIR/orderly"
expected="orderly $(sed -n 's/^project(orderly VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
got=$("${QEMU[@]}" "$BUILD_DIR/orderly" --version)
if [ "$got" != "$expected" ]; then
  echo "cross-test.sh: $ARCH orderly --version printed '$got', expected '$expected'" >&2
  exit 1
fi
echo "cross-test.sh: $ARCH orderly --version under ${QEMU[0]}: $got"
[ "$MODE" = --version ] && exit 0

# The package as an installer gets it: unpacked (no maintainer scripts), its own binary runs
# under qemu and accepts its own example configuration, checking the device profiles it names
# against the packaged ones (found next to the binary, ../share/orderly/profiles).
DEB=$(ls "$BUILD_DIR"/orderly_*_"$ARCH".deb)
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$DEB" "$unpacked"
got=$("${QEMU[@]}" "$unpacked/usr/bin/orderly" --version)
[ "$got" = "$expected" ] || { echo "cross-test.sh: packaged orderly --version printed '$got'" >&2; exit 1; }
echo "cross-test.sh: $(basename "$DEB"): usr/bin/orderly --version: $got"
if ! report=$("${QEMU[@]}" "$unpacked/usr/bin/orderly" check-config "$unpacked/etc/orderly/orderly.toml" 2>&1); then
  echo "$report" >&2
  echo "cross-test.sh: $(basename "$DEB"): check-config rejects the packaged etc/orderly/orderly.toml" >&2
  exit 1
fi
echo "$report" | sed "s|$unpacked||g"
echo "$report" | grep -qx "  profiles:    $unpacked/usr/share/orderly/profiles" || {
  echo "cross-test.sh: check-config did not check the profiles against the packaged ones" >&2; exit 1; }
echo "cross-test.sh: $(basename "$DEB"): check-config accepts the packaged example configuration"
[ "$MODE" = --package ] && exit 0

# Unit tests only: integration tests start host programs (mosquitto) and e2e ones a browser,
# which the emulated binaries would reach only through the host's own copies.
ctest --test-dir "$BUILD_DIR" -L unit --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 600

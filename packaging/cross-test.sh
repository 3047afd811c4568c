#!/usr/bin/env bash
# Cross-build orderly with its tests for arm64 or armhf and run them under qemu-user:
#   packaging/cross-test.sh arm64            build + .deb + `ctest -L unit` under qemu-aarch64-static
#   packaging/cross-test.sh armhf            the same for armhf (qemu-arm-static)
#   packaging/cross-test.sh armhf --version  only the product and `orderly --version` (quick)
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
  *) echo "usage: packaging/cross-test.sh arm64|armhf [--version]" >&2; exit 2 ;;
esac
BUILD_DIR=${BUILD_DIR:-$ROOT/build-pkg-$ARCH}
export BUILD_DIR
# As the toolchain file's CMAKE_CROSSCOMPILING_EMULATOR: the multiarch root, or the sysroot
# fallback (setup-cross.sh --sysroot). The guest loader's built-in search path lacks the
# multiarch directories (they come from an ld.so.cache the sysroot does not have), hence -E.
if [ ! -e "/usr/lib/$TRIPLET/pkgconfig/libmosquitto.pc" ] && [ -d "/opt/orderly-cross/$ARCH" ]; then
  QEMU+=(-L "/opt/orderly-cross/$ARCH")
else
  QEMU+=(-L "/usr/$TRIPLET")
fi
QEMU+=(-E "LD_LIBRARY_PATH=/lib/$TRIPLET:/usr/lib/$TRIPLET")

if [ "$MODE" = --version ]; then
  ORDERLY_NO_DEB=1 ORDERLY_BUILD_TESTS=OFF "$ROOT/packaging/build-deb.sh" "$ARCH"
else
  ORDERLY_BUILD_TESTS=ON "$ROOT/packaging/build-deb.sh" "$ARCH"
fi

file "$BUILD_DIR/orderly"
expected="orderly $(sed -n 's/^project(orderly VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
got=$("${QEMU[@]}" "$BUILD_DIR/orderly" --version)
if [ "$got" != "$expected" ]; then
  echo "cross-test.sh: $ARCH orderly --version printed '$got', expected '$expected'" >&2
  exit 1
fi
echo "cross-test.sh: $ARCH orderly --version under ${QEMU[0]}: $got"
[ "$MODE" = --version ] && exit 0

# Unit tests only: integration tests start host programs (mosquitto) and e2e ones a browser,
# which the emulated binaries would reach only through the host's own copies.
ctest --test-dir "$BUILD_DIR" -L unit --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 600

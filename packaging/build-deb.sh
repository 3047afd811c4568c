#!/usr/bin/env bash
# Build the orderly .deb for one architecture:
#   packaging/build-deb.sh amd64     native, on a Debian 12 amd64 box
#   packaging/build-deb.sh arm64     cross, after `packaging/setup-cross.sh arm64`
#   packaging/build-deb.sh armhf     cross, after `packaging/setup-cross.sh armhf`
# Prints the path of the package it made (build-pkg-ARCH/orderly_VERSION-1_ARCH.deb).
# Environment: BUILD_DIR (default build-pkg-ARCH), JOBS (default nproc), NICE (default 0:
# set NICE=19 on a shared machine), ORDERLY_BUILD_TESTS=ON to build the tests as well (what
# packaging/cross-test.sh does), ORDERLY_NO_DEB=1 to stop after building the binary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARCH=${1:-$(dpkg --print-architecture)}
case "$ARCH" in
  amd64|arm64|armhf) ;;
  *) echo "build-deb.sh: unknown architecture '$ARCH': use amd64, arm64 or armhf" >&2; exit 2 ;;
esac
BUILD_DIR=${BUILD_DIR:-$ROOT/build-pkg-$ARCH}
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-0}

gcc_triplet() { case "$ARCH" in arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;;
                                 *) echo x86_64-linux-gnu ;; esac; }
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=None -DORDERLY_BUILD_TESTS="${ORDERLY_BUILD_TESTS:-OFF}")
if [ "$ARCH" != "$(dpkg --print-architecture)" ]; then
  cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/packaging/toolchain-$ARCH.cmake")
fi

# Debian's hardening and optimisation flags for the target (PIE, RELRO/BIND_NOW, FORTIFY,
# stack protector, -O2 -g; hardening=+all adds BIND_NOW; CMAKE_BUILD_TYPE=None adds nothing of its own), as a Debian source
# package would get them; lintian checks their traces in the binary.
export DEB_HOST_ARCH=$ARCH
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cxxflags="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS)"
cmake_args+=(-DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags")

cmake -S "$ROOT" -B "$BUILD_DIR" "${cmake_args[@]}" >/dev/null
targets=(--target orderly)
[ "${ORDERLY_BUILD_TESTS:-OFF}" = ON ] && targets=()
nice -n "$NICE" cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"
if grep -q '^CMAKE_SYSROOT:.*=.' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || \
   [ -d "/opt/orderly-cross/$ARCH" -a ! -e "/usr/lib/$(gcc_triplet)/pkgconfig/libmosquitto.pc" ]; then
  # A sysroot build (setup-cross.sh --sysroot) has no dpkg database for its libraries, so
  # dpkg-shlibdeps cannot name the Depends; such a package would install and then not run.
  echo "build-deb.sh: $BUILD_DIR/orderly built against the /opt/orderly-cross/$ARCH sysroot;" \
       "no .deb from it: install the multiarch libraries (packaging/setup-cross.sh $ARCH)" >&2
  [ "${ORDERLY_NO_DEB:-0}" = 1 ] && exit 0 || exit 1
fi
[ "${ORDERLY_NO_DEB:-0}" = 1 ] && exit 0
# cpack only installs (the binary is built above); dpkg-shlibdeps reads DEB_HOST_ARCH to look
# up the :ARCH libraries' shlibs for the Depends line.
rm -f "$BUILD_DIR"/orderly_*.deb
(cd "$BUILD_DIR" && nice -n "$NICE" cpack -G DEB --config CPackConfig.cmake >/dev/null)
ls "$BUILD_DIR"/orderly_*_"$ARCH".deb

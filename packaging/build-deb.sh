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
[ "${ORDERLY_NO_DEB:-0}" = 1 ] && exit 0
cpack_args=()
SYSROOT=/opt/orderly-cross/$ARCH
if [ "$ARCH" != "$(dpkg --print-architecture)" ] && \
   [ -d "$SYSROOT" ] && [ ! -e "/usr/lib/$(gcc_triplet)/pkgconfig/libmosquitto.pc" ]; then
  # Built against the sysroot of `setup-cross.sh ARCH --sysroot` (the toolchain file's rule):
  # its libraries are not in the host's dpkg database but in the sysroot's own, which names
  # them where they lie on this host. dpkg-shlibdeps reads that database (--admindir) and the
  # :ARCH packages' shlibs and symbols files in it, exactly as for a multiarch build, and
  # fails if any library the binary needs belongs to no package (no --ignore-missing-info).
  [ -s "$SYSROOT/var/lib/dpkg/status" ] || {
    echo "build-deb.sh: $SYSROOT has no dpkg database; re-run packaging/setup-cross.sh $ARCH --sysroot" >&2
    exit 1; }
  shlibs_dir=$(mktemp -d)
  mkdir "$shlibs_dir/debian"
  printf 'Source: orderly\n\nPackage: orderly\nArchitecture: %s\n' "$ARCH" > "$shlibs_dir/debian/control"
  depends=$(cd "$shlibs_dir" && dpkg-shlibdeps --admindir="$SYSROOT/var/lib/dpkg" \
              -l"$SYSROOT/lib/$(gcc_triplet)" -l"$SYSROOT/usr/lib/$(gcc_triplet)" \
              -O "$BUILD_DIR/orderly" | sed -n 's/^shlibs:Depends=//p')
  rm -rf "$shlibs_dir"
  [ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no Depends for $BUILD_DIR/orderly" >&2; exit 1; }
  echo "build-deb.sh: shlibs Depends from the $SYSROOT dpkg database: $depends" >&2
  cpack_args+=(-D "ORDERLY_SHLIBS_DEPENDS=$depends")
fi
# cpack only installs (the binary is built above); dpkg-shlibdeps reads DEB_HOST_ARCH to look
# up the :ARCH libraries' shlibs for the Depends line.
rm -f "$BUILD_DIR"/orderly_*.deb
(cd "$BUILD_DIR" && nice -n "$NICE" cpack -G DEB --config CPackConfig.cmake "${cpack_args[@]}" >/dev/null)
ls "$BUILD_DIR"/orderly_*_"$ARCH".deb

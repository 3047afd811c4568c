#!/usr/bin/env bash
# Prepare a Debian 12 amd64 box to cross-build orderly (and its tests) for arm64 or armhf:
#   packaging/setup-cross.sh arm64|armhf             multiarch (the normal way)
#   packaging/setup-cross.sh arm64|armhf --sysroot   fallback, product libraries only
# Adds the foreign dpkg architecture, installs Debian's cross compiler, qemu-user-static (to
# run the cross-built tests) and the :ARCH -dev packages of every library from setup.sh's
# PACKAGES that the product or the tests link. Idempotent; run as root.
#
# Co-installability (Debian 12). A -dev package can sit beside its amd64 twin only when it
# is "Multi-Arch: same"; every linked library is, except:
#   liblemon-dev        not Multi-Arch: same (and its CMake config hard-codes an x86_64 path).
#                       We use only the header-only NetworkSimplex, so the amd64 package's
#                       headers in /usr/include serve every architecture; the top
#                       CMakeLists.txt find_path()s them and links no LEMON library.
#   nlohmann-json3-dev  Architecture: all (headers), satisfies every architecture as is.
#   googletest          Architecture: all (sources), pulled in by libgtest-dev:ARCH.
#   chromium, mosquitto, sqlite3
#                       programs, not linked: the cross run executes only `ctest -L unit`.
# Each :ARCH package is installed at the version of its installed amd64 twin ("Multi-Arch:
# same" demands equal versions), so this script never upgrades the host's libraries under
# other builds' feet. When the archive no longer has that version for ARCH (a security update
# superseded it), both twins go to the candidate version together.
#
# --sysroot: when the multiarch route is blocked (a mirror whose ARCH security index is stale
# leaves no :ARCH package at the amd64 twin's version), the :ARCH -dev packages the product
# links are downloaded with apt's resolver against an empty package database and unpacked into
# /opt/orderly-cross/ARCH, where no version needs to match the host's. The toolchain file uses
# that sysroot when the multiarch libraries are absent. It builds and runs the product; tests and
# the .deb's shlibs Depends need the multiarch route (dpkg-shlibdeps reads dpkg's database).
set -euo pipefail
ARCH=${1:-}
MODE=${2:-}
case "$ARCH" in
  arm64) TRIPLET=aarch64-linux-gnu ;;
  armhf) TRIPLET=arm-linux-gnueabihf ;;
  *) echo "usage: packaging/setup-cross.sh arm64|armhf [--sysroot]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "setup-cross.sh: run as root (sudo $0 $ARCH)" >&2; exit 1; }

# Linked by the product (gateway, drivers, web, scheduler) ...
PRODUCT_LIBS=(
  libboost1.81-dev libpaho-mqttpp-dev libpaho-mqtt-dev libmosquitto-dev libmodbus-dev
  libsqlite3-dev libcurl4-openssl-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libsystemd-dev
)
# ... or by the tests and benchmarks.
LIBS=("${PRODUCT_LIBS[@]}" libglpk-dev libgtest-dev libgmock-dev libbenchmark-dev)
# Run on the build host: compiler, emulator for the tests, shlibs lookup for CPack.
HOST_TOOLS=(g++-"$TRIPLET" qemu-user-static dpkg-dev liblemon-dev nlohmann-json3-dev)

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600)

if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
  dpkg --add-architecture "$ARCH"
fi
# The foreign architecture's package lists exist only after an update.
# A mirror caught mid-sync fails an index ("File has unexpected size"); try again a few times,
# since a missing security index would leave the :ARCH twins behind their amd64 versions.
if ! ls /var/lib/apt/lists/*_binary-"${ARCH}"_Packages* >/dev/null 2>&1 || \
   ! ls /var/lib/apt/lists/*security*_binary-"${ARCH}"_Packages* >/dev/null 2>&1; then
  for attempt in 1 2 3 4 5; do
    "${APT[@]}" update && break
    [ "$MODE" != --sysroot ] || break  # the sysroot takes whatever versions the lists hold
    [ "$attempt" -lt 5 ] || { echo "setup-cross.sh: apt-get update keeps failing; see above" >&2; exit 1; }
    echo "setup-cross.sh: apt-get update failed (attempt $attempt); retrying in 30 s" >&2
    sleep 30
  done
fi

if [ "$MODE" = --sysroot ]; then
  "${APT[@]}" install -y --no-install-recommends "${HOST_TOOLS[@]}"
  SYSROOT=/opt/orderly-cross/$ARCH
  work=$(mktemp -d)
  mkdir -p "$work/archives/partial" "$work/state"
  : > "$work/state/status"
  # Resolve as if on an empty ARCH system; only downloads, never touches the host's packages.
  apt-get -y -o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH" \
    -o Dir::State::status="$work/state/status" -o Dir::Cache::archives="$work/archives" \
    -o Debug::NoLocking=1 --no-install-recommends install --download-only \
    "${PRODUCT_LIBS[@]}" nlohmann-json3-dev liblemon-dev libstdc++-12-dev
  rm -rf "$SYSROOT"; mkdir -p "$SYSROOT"
  for deb in "$work"/archives/*.deb; do dpkg-deb -x "$deb" "$SYSROOT"; done
  # Absolute symlinks (libfoo.so -> /lib/...) would point into the host; re-root them.
  find "$SYSROOT" -type l -lname '/*' | while read -r link; do
    ln -sfn "$SYSROOT$(readlink "$link")" "$link"
  done
  rm -rf "$work"
  echo "setup-cross.sh: $ARCH sysroot ready in $SYSROOT: packaging/cross-test.sh $ARCH --version"
  exit 0
fi

want=()
want=()
for p in "${LIBS[@]}"; do
  v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
  if [ -n "$v" ] && apt-cache madison "$p:$ARCH" | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$v"; then
    want+=("$p:$ARCH=$v")
  else
    want+=("$p:$ARCH")
    [ -z "$v" ] || want+=("$p")  # upgrade the amd64 twin in step
  fi
done
"${APT[@]}" install -y --no-install-recommends "${HOST_TOOLS[@]}" "${want[@]}"

echo "setup-cross.sh: ready to build for $ARCH: packaging/build-deb.sh $ARCH"

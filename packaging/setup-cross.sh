#!/usr/bin/env bash
# Prepare a Debian 12 amd64 box to cross-build orderly (and its tests) for arm64 or armhf:
#   packaging/setup-cross.sh arm64|armhf             multiarch (the normal way)
#   packaging/setup-cross.sh arm64|armhf --sysroot   private sysroot (automatic when ARCH's index fails)
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
# --sysroot: the route when the multiarch one is blocked. Debian's mirror has served this box a
# bookworm-security armhf index of the wrong size for hours ("File has unexpected size ...
# Mirror sync in progress?"); with the armhf architecture added, every `apt-get update` then
# exits 100, and without that index no :armhf package exists at its amd64 twin's version, so
# "Multi-Arch: same" co-installation is impossible. The sysroot route never touches the host's
# dpkg or apt state: a private apt state directory (lists, cache, empty status) with ARCH as its
# only architecture resolves and downloads the :ARCH -dev packages of LIBS (product and tests),
# which are unpacked into /opt/orderly-cross/ARCH. Beside them the script writes a dpkg database
# of exactly those packages (status, file lists, shlibs and symbols control files) in
# /opt/orderly-cross/ARCH/var/lib/dpkg, its file lists naming the files where they are on this
# host (/opt/orderly-cross/ARCH/usr/lib/...), so that build-deb.sh can run
# `dpkg-shlibdeps --admindir=...` and compute the .deb's Depends from the real :ARCH packages'
# shlibs and symbols files, as in a native build. An index that fails to download is left out
# of the private state only (the sysroot then holds the point-release versions, which have the
# same sonames and symbols; Depends are lower bounds, and the target takes current security
# updates from its own apt).
# Without --sysroot, a failed ARCH index falls back to this route by itself, after removing the
# ARCH architecture again if this script added it, so `apt-get update` keeps exiting 0 for
# ./setup.sh and everyone else on the box.
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
  libsystemd-dev libglpk-dev
)
# ... or by the tests and benchmarks.
LIBS=("${PRODUCT_LIBS[@]}" libgtest-dev libgmock-dev libbenchmark-dev)
# Run on the build host: compiler, emulator for the tests, shlibs lookup for CPack.
HOST_TOOLS=(g++-"$TRIPLET" qemu-user-static dpkg-dev liblemon-dev nlohmann-json3-dev)

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600)

arch_update_ok() { # the host's apt-get update fetched every index, ARCH's included
  local attempt
  for attempt in 1 2 3; do
    "${APT[@]}" update && return 0
    [ "$attempt" -lt 3 ] && { echo "setup-cross.sh: apt-get update failed (attempt $attempt); retrying in 20 s" >&2; sleep 20; }
  done
  return 1
}

if [ "$MODE" != --sysroot ]; then
  added=0
  if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    dpkg --add-architecture "$ARCH"
    added=1
  fi
  # The foreign architecture's package lists exist only after an update; a mirror caught
  # mid-sync fails an index, so try a few times before giving up on multiarch.
  if ! ls /var/lib/apt/lists/*_binary-"${ARCH}"_Packages* >/dev/null 2>&1 || \
     ! ls /var/lib/apt/lists/*security*_binary-"${ARCH}"_Packages* >/dev/null 2>&1; then
    if ! arch_update_ok; then
      echo "setup-cross.sh: the $ARCH package indexes cannot be fetched (above); using the sysroot route" >&2
      if [ "$added" = 1 ] && [ -z "$(dpkg-query -W -f='${binary:Package}\n' 2>/dev/null | grep ":$ARCH\$")" ]; then
        dpkg --remove-architecture "$ARCH"
        "${APT[@]}" update >/dev/null 2>&1 || echo "setup-cross.sh: apt-get update still fails without $ARCH" >&2
      fi
      MODE=--sysroot
    fi
  fi
fi

if [ "$MODE" = --sysroot ]; then
  # The host tools come from the host's own (amd64) lists.
  "${APT[@]}" install -y --no-install-recommends "${HOST_TOOLS[@]}"
  SYSROOT=/opt/orderly-cross/$ARCH
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"  # apt's downloader runs as _apt
  mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/control"
  : > "$work/state/status"
  PRIVATE_APT=(apt-get -o Dir::State="$work/state" -o Dir::State::status="$work/state/status"
               -o Dir::Cache="$work/cache" -o APT::Architecture="$ARCH" -o APT::Architectures="$ARCH"
               -o Debug::NoLocking=1)
  if ! "${PRIVATE_APT[@]}" update; then
    echo "setup-cross.sh: some $ARCH indexes failed (above); the sysroot takes the versions the others list" >&2
  fi
  ls "$work"/state/lists/*_binary-"$ARCH"_Packages* >/dev/null 2>&1 || \
    { echo "setup-cross.sh: no $ARCH package index could be fetched; check the mirror" >&2; exit 1; }
  # Resolve as if on an empty ARCH system; only downloads, never touches the host's packages.
  "${PRIVATE_APT[@]}" -y --no-install-recommends install --download-only \
    "${LIBS[@]}" nlohmann-json3-dev liblemon-dev libstdc++-12-dev
  rm -rf "$SYSROOT"
  DB=$SYSROOT/var/lib/dpkg
  mkdir -p "$DB/info" "$DB/updates"
  printf '%s\n' "$(dpkg --print-architecture)" "$ARCH" > "$DB/arch"
  echo 1 > "$DB/info/format"  # info files named pkg:ARCH.list for "Multi-Arch: same" packages
  : > "$DB/status"
  for deb in "$work"/cache/archives/*.deb; do
    dpkg-deb -x "$deb" "$SYSROOT"
    pkg=$(dpkg-deb -f "$deb" Package)
    name=$pkg  # dpkg's own naming of info files: "Multi-Arch: same" packages carry :ARCH
    [ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && name=$pkg:$ARCH
    { dpkg-deb -f "$deb"; echo "Status: install ok installed"; echo; } >> "$DB/status"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' | grep -v '^/\?\.\?$' \
      | sed "s|^|$SYSROOT|" > "$DB/info/$name.list"
    rm -rf "$work/control"/*
    dpkg-deb -e "$deb" "$work/control"
    for f in shlibs symbols; do
      [ ! -e "$work/control/$f" ] || cp "$work/control/$f" "$DB/info/$name.$f"
    done
  done
  # Absolute symlinks (libfoo.so -> /lib/...) would point into the host; re-root them.
  find "$SYSROOT" -type l -lname '/*' | while read -r link; do
    ln -sfn "$SYSROOT$(readlink "$link")" "$link"
  done
  echo "setup-cross.sh: $ARCH sysroot with its dpkg database ready in $SYSROOT: packaging/build-deb.sh $ARCH"
  exit 0
fi

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

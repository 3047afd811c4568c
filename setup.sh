#!/usr/bin/env bash
# Orderly developer entry point: installs what the build, tests and demo need, builds, and runs.
#
#   ./setup.sh demo     install deps, build (Release), run the gateway in demo mode (web UI on :8080)
#   ./setup.sh test     install deps, build (Debug, warnings as errors), run the whole CTest suite
#   ./setup.sh deps     only install the Debian packages (idempotent; runs apt-get update when needed)
#   ./setup.sh build    deps + build only
#
# Environment: BUILD_DIR (default build/ or build-release/), ORDERLY_SANITIZE=1 for ASan+UBSan,
# CTEST_ARGS (e.g. "-L unit" or "-LE bench"), JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")"

# Every Debian package the project uses, with why, so a reviewer can prune with confidence.
PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev            # Asio + Beast (header-only parts): event loop, HTTP/WebSocket
  libpaho-mqttpp-dev libpaho-mqtt-dev  # gateway's MQTT client
  mosquitto libmosquitto-dev  # the broker (demo + tests) and the simulators' client library
  libmodbus-dev               # Modbus TCP/RTU drivers and the Modbus simulator
  libsqlite3-dev sqlite3      # the store (sqlite3 CLI for installers' inspection)
  libcurl4-openssl-dev libssl-dev  # platform sync over HTTPS, tests over HTTP
  libtomlplusplus-dev         # config: TOML with source positions for file:line errors
  nlohmann-json3-dev          # JSON for MQTT payloads, the REST API and scenario files
  libspdlog-dev libfmt-dev    # structured, levelled logging
  libsystemd-dev              # sd_notify (Type=notify, watchdog) and journald
  liblemon-dev                # network simplex min-cost flow for the planner
  libglpk-dev                 # the planner's exact LP under phase limits (linked in the product; LEMON's default LP solver) and its tests' LP oracle
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev       # libFuzzer + its sanitizers for tests/fuzz (gcc has no libFuzzer); the runtimes are only Recommended by clang
  chromium                    # headless browser for the web UI end-to-end tests
  fonts-wqy-microhei          # a CJK font so chromium screenshots of the Chinese UI are legible
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} Debian packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  local SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # An empty package list (fresh image) or a stale one makes apt-get install fail; refresh first.
  if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ] || \
     ! $SUDO apt-get install -y --no-install-recommends --dry-run "${missing[@]}" >/dev/null 2>&1; then
    # A single broken index (a mirror mid-sync, a foreign architecture added for cross builds)
    # makes apt-get update exit non-zero while every list we need is fine; let the install
    # below be the judge, it fails clearly if a package really cannot be had.
    $SUDO apt-get update || echo "setup: apt-get update reported errors (above); installing from the lists it has"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
}

JOBS=${JOBS:-$(nproc)}

build() { # $1 = build type, $2 = build dir, [$3 = only this target]
  local type=$1 dir=$2 extra=() targets=()
  [ "${ORDERLY_SANITIZE:-0}" = 1 ] && extra+=(-DORDERLY_SANITIZE=ON)
  [ "${CI:-}" = true ] && extra+=(-DORDERLY_WERROR=ON)
  [ -n "${3:-}" ] && targets+=(--target "$3")
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${extra[@]}"
  cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}

cmd=${1:-help}
case "$cmd" in
  deps) install_deps ;;
  build) install_deps; build Debug "${BUILD_DIR:-build}" ;;
  test)
    install_deps
    build Debug "${BUILD_DIR:-build}"
    # bench-labelled tests are long and measure speed; they run with `ctest -L bench` on demand.
    # shellcheck disable=SC2086
    ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$JOBS" -LE bench ${CTEST_ARGS:-}
    ;;
  demo)
    install_deps
    build Release "${BUILD_DIR:-build-release}" orderly   # the demo needs only the binary
    shift
    exec "${BUILD_DIR:-build-release}/orderly" demo "$@"
    ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac

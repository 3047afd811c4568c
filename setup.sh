#!/usr/bin/env bash
# Orderly developer entry point: installs what the build, tests and demo need, builds, and runs.
#
#   ./setup.sh demo     install deps, build (Release), run the gateway in demo mode (web UI on :8080)
#   ./setup.sh test     install deps, build (Debug, warnings as errors), run the whole CTest suite
#   ./setup.sh sanitize ASan+UBSan build in build-asan/, run the unit and integration tests
#   ./setup.sh tsan     ThreadSanitizer build in build-tsan/ of the tests whose code runs threads, run them
#   ./setup.sh fuzz     every libFuzzer target for FUZZ_SECONDS (60) each (tests/fuzz/run.sh)
#   (.ci/run runs test, sanitize, tsan and fuzz in turn; costs in docs/testing.md)
#   ./setup.sh deps     only install the Debian packages and web/'s npm modules (idempotent; apt-get update when needed)
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
  libsodium-dev               # web accounts: Argon2id password hashes, random session ids and tokens
  liblemon-dev                # network simplex min-cost flow for the planner
  libglpk-dev                 # the planner's exact LP under phase limits (linked in the product; LEMON's default LP solver) and its tests' LP oracle
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev       # libFuzzer + its sanitizers for tests/fuzz (gcc has no libFuzzer); the runtimes are only Recommended by clang
  chromium                    # headless browser for the web UI end-to-end tests
  fonts-wqy-microhei          # a CJK font so chromium screenshots of the Chinese UI are legible
  wrk                         # HTTP load for the web benchmark (tests/bench/web_load.sh)
)
# Node.js builds the pages (web/build.mjs: esbuild, uPlot) and runs their Playwright test. A node
# from elsewhere (nodesource, nvm) is used as it is; Debian's is installed only when none is found.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

# The web pages' npm modules, exactly as web/package-lock.json pins them. Skipped when node_modules
# already matches the lock, so the test run after it needs no network.
install_npm_deps() {
  local stamp=web/node_modules/.package-lock.json
  if [ -f "$stamp" ] && [ "$stamp" -nt web/package-lock.json ]; then
    echo "setup: web/node_modules matches web/package-lock.json"
    return
  fi
  npm ci --prefix web --no-audit --no-fund
}

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} Debian packages present"
    install_npm_deps
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
  install_npm_deps
}

JOBS=${JOBS:-$(nproc)}

build() { # $1 = build type, $2 = build dir, [$3... = only these targets]
  local type=$1 dir=$2 extra=() targets=()
  shift 2
  [ "${ORDERLY_SANITIZE:-0}" = 1 ] && extra+=(-DORDERLY_SANITIZE=ON)
  [ "${ORDERLY_TSAN:-0}" = 1 ] && extra+=(-DORDERLY_TSAN=ON)
  [ "${CI:-}" = true ] && extra+=(-DORDERLY_WERROR=ON)
  [ $# -gt 0 ] && targets+=(--target "$@")
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${extra[@]}"
  cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}

# The tests whose code runs threads beside the core loop: Paho's (MQTT drivers), the RS-485 /
# Modbus TCP bus workers, the store writer, the web server and the API's report workers, and the
# whole gateway with all of them. ThreadSanitizer slows code 5-15x, so the rest (single-threaded
# logic, already under ASan+UBSan) is not rebuilt for it.
TSAN_TESTS=(mqtt_devices_test mqtt_profile_driver_test modbus_integration_test dlt645_integration_test
  gateway_store_test web_server_test report_api_live system_gateway)

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
  sanitize)
    install_deps
    ORDERLY_SANITIZE=1 build Debug "${BUILD_DIR:-build-asan}"
    # e2e tests time the real binary and a browser, and the simulated week runs minutes even
    # unsanitized: their code paths are the integration tests' code paths.
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "${BUILD_DIR:-build-asan}" --output-on-failure -j "$JOBS" -L 'unit|integration|faults' \
      -E system_week ${CTEST_ARGS:-}
    ;;
  tsan)
    install_deps
    ORDERLY_TSAN=1 build Debug "${BUILD_DIR:-build-tsan}" "${TSAN_TESTS[@]}"
    regex="^($(IFS='|'; echo "${TSAN_TESTS[*]}"))\\."
    # shellcheck disable=SC2086
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
      ctest --test-dir "${BUILD_DIR:-build-tsan}" --output-on-failure -j "$JOBS" -R "$regex" ${CTEST_ARGS:-}
    ;;
  fuzz)
    install_deps
    tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"
    ;;
  demo)
    install_deps
    build Release "${BUILD_DIR:-build-release}" orderly   # the demo needs only the binary
    shift
    exec "${BUILD_DIR:-build-release}/orderly" demo "$@"
    ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 2 ;;
esac

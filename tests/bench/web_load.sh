#!/usr/bin/env bash
# The web load run (issue 14, docs/benchmarks.md "Web API under load"): wrk on GET
# /api/v1/status with 50 live-status WebSockets connected, against `orderly demo` (the gateway
# with its simulated piles and meter in one process, Mosquitto beside it). Prints requests/s,
# latency p50/p99 and the demo process's CPU (in a window with the sockets only, then under wrk,
# so the web load's share is the difference) and its RSS.
#   tests/bench/web_load.sh [build dir (default build)] [seconds per window (default 20)]
# Needs wrk (setup.sh installs it) and the targets orderly and ws_clients built.
set -euo pipefail
BUILD=${1:-build}
SECONDS_PER_WINDOW=${2:-20}
CLIENTS=50
CONNECTIONS=50
ORDERLY=$BUILD/orderly
WS_CLIENTS=$BUILD/tests/bench/ws_clients
source "$(dirname "$0")/load_common.sh"
require_tools wrk curl python3 "$ORDERLY" "$WS_CLIENTS"

WORK=$(mktemp -d)
DEMO_PID=""
WS_PID=""
cleanup() {
  [ -n "$WS_PID" ] && kill "$WS_PID" 2>/dev/null || true
  [ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(free_port)
"$ORDERLY" demo --port "$PORT" --listen 127.0.0.1 --db "$WORK/orderly.db" --log-level warn >"$WORK/demo.log" 2>&1 &
DEMO_PID=$!
for _ in $(seq 100); do grep -q '^  operator' "$WORK/demo.log" && break; sleep 0.2; done
grep -q '^  operator' "$WORK/demo.log" || { echo "web_load: the demo did not start:" >&2; cat "$WORK/demo.log" >&2; exit 1; }
URL=http://127.0.0.1:$PORT
read -r USER PASSWORD < <(awk '$1 == "operator" {print $3, $5; exit}' "$WORK/demo.log")
curl -sf -c "$WORK/cookies" -H 'Content-Type: application/json' \
  -d "{\"user\":\"$USER\",\"password\":\"$PASSWORD\"}" "$URL/api/v1/login" >/dev/null
COOKIE="orderly_session=$(awk '$6 == "orderly_session" {print $7}' "$WORK/cookies")"

"$WS_CLIENTS" 127.0.0.1 "$PORT" "$COOKIE" "$CLIENTS" $((2 * SECONDS_PER_WINDOW + 10)) >"$WORK/ws.log" 2>&1 &
WS_PID=$!
sleep 5  # the sockets connect and the first pushes go out

cpu0=$(cpu_s "$DEMO_PID")
sleep "$SECONDS_PER_WINDOW"
cpu1=$(cpu_s "$DEMO_PID")
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_WINDOW}s" --latency -H "Cookie: $COOKIE" "$URL/api/v1/status" >"$WORK/wrk.log"
cpu2=$(cpu_s "$DEMO_PID")
status_bytes=$(curl -s -H "Cookie: $COOKIE" "$URL/api/v1/status" | wc -c)
read -r rss_kb hwm_kb < <(rss_kb "$DEMO_PID")
wait "$WS_PID" || true
WS_PID=""

cat "$WORK/wrk.log"
cat "$WORK/ws.log"
awk -v c0="$cpu0" -v c1="$cpu1" -v c2="$cpu2" -v s="$SECONDS_PER_WINDOW" -v rss="$rss_kb" -v hwm="$hwm_kb" \
    -v bytes="$status_bytes" -v clients="$CLIENTS" -v conns="$CONNECTIONS" '
  /Requests\/sec/ {rps = $2}
  $1 == "50%" {p50 = $2}
  $1 == "99%" {p99 = $2}
  END {
    printf "web_load: status %d bytes, %d WebSockets, wrk %d connections for %d s\n", bytes, clients, conns, s
    printf "web_load: requests/s %s  latency p50 %s  p99 %s\n", rps, p50, p99
    printf "web_load: demo process CPU %.0f %% of one core with the sockets only, %.0f %% under wrk\n", 100 * (c1 - c0) / s, 100 * (c2 - c1) / s
    printf "web_load: RSS %.1f MB at the end, peak %.1f MB\n", rss / 1024, hwm / 1024
  }' "$WORK/wrk.log"

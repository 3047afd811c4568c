#!/usr/bin/env bash
# The MQTT load run (issue 16, docs/benchmarks.md "2,000 piles through Mosquitto"): `orderly
# run` with N native-protocol piles and a transformer meter, a private Mosquitto, and pile_flood
# publishing every pile's status once a second. Prints the sustained messages/s the gateway's core
# took in (its own orderly_device_reports_total counter, scraped from /metrics), the gateway
# process's CPU (goal: under 25 % of one core for 2,000 piles) and RSS, and /healthz at the end.
#   tests/bench/mqtt_load.sh [build dir (default build)] [piles (default 2000)] [seconds (default 30)]
# Needs mosquitto, curl and the targets orderly and pile_flood built.
set -euo pipefail
BUILD=${1:-build}
PILES=${2:-2000}
WINDOW=${3:-30}
WARMUP=10
CONNECTIONS=8
ORDERLY=$BUILD/orderly
FLOOD=$BUILD/tests/bench/pile_flood
MOSQUITTO=${ORDERLY_MOSQUITTO:-/usr/sbin/mosquitto}
source "$(dirname "$0")/load_common.sh"
require_tools curl python3 "$MOSQUITTO" "$ORDERLY" "$FLOOD"

WORK=$(mktemp -d)
BROKER_PID=""
GATEWAY_PID=""
cleanup() {
  [ -n "$GATEWAY_PID" ] && kill "$GATEWAY_PID" 2>/dev/null && wait "$GATEWAY_PID" 2>/dev/null || true
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

MQTT_PORT=$(free_port)
WEB_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT_PORT" >"$WORK/mosquitto.conf"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!

{
  printf '[site]\nname = "MQTT load run"\nutc_offset = "+08:00"\n[site.transformer]\nid = "transformer"\nlimit_kw = 20000\n'
  printf '[[tariff.schedule]]\neffective_from = 2020-01-01\n[[tariff.schedule.season]]\n'
  printf 'price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }\n'
  printf 'hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"] }\n'
  printf '[mqtt]\nhost = "127.0.0.1"\nport = %s\n' "$MQTT_PORT"
  printf '[web]\nlisten = "127.0.0.1"\nport = %s\n' "$WEB_PORT"
  printf '[store]\npath = "%s"\n[log]\nlevel = "warn"\nsink = "stdout"\n' "$WORK/orderly.db"
  printf '[[meter]]\nid = "tm-1"\nrole = "transformer"\n'
  for i in $(seq 1 "$PILES"); do
    printf '[[charger]]\nid = "p-%04d"\nkind = "shared"\nphase = "%s"\nmax_power_kw = 7\n' "$i" "ABC"
  done
} >"$WORK/orderly.toml"
TOKEN=$("$ORDERLY" user add prometheus --role platform --db "$WORK/orderly.db" 2>/dev/null | tail -1)

"$ORDERLY" run --config "$WORK/orderly.toml" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
URL=http://127.0.0.1:$WEB_PORT
for _ in $(seq 150); do curl -s -o /dev/null "$URL/healthz" && break; sleep 0.2; done
curl -s -o /dev/null "$URL/healthz" || { echo "mqtt_load: the gateway did not start:" >&2; cat "$WORK/gateway.log" >&2; exit 1; }

reports() {
  curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" |
    awk '/^orderly_device_reports_total\{link="mqtt",type="charger_snapshot"\}/ {print $2; found = 1} END {if (!found) print 0}'
}

"$FLOOD" 127.0.0.1 "$MQTT_PORT" "$PILES" "$CONNECTIONS" $((WARMUP + WINDOW + 2)) >"$WORK/flood.log" 2>&1 &
FLOOD_PID=$!
sleep "$WARMUP"
r0=$(reports); c0=$(cpu_s "$GATEWAY_PID"); t0=$(date +%s.%N)
sleep "$WINDOW"
r1=$(reports); c1=$(cpu_s "$GATEWAY_PID"); t1=$(date +%s.%N)
read -r rss_kb hwm_kb < <(rss_kb "$GATEWAY_PID")
online=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/metrics" |
  awk '/^orderly_devices_online\{link="mqtt",kind="shared_charger"\}/ {print $2}')
health=$(curl -s "$URL/healthz")
wait "$FLOOD_PID" || true
cat "$WORK/flood.log"
awk -v r0="$r0" -v r1="$r1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v rss="$rss_kb" -v hwm="$hwm_kb" \
    -v piles="$PILES" -v online="$online" 'BEGIN {
  s = t1 - t0
  printf "mqtt_load: %d piles (%s online), window %.1f s after %s s warm-up\n", piles, online, s, '"$WARMUP"'
  printf "mqtt_load: messages/s taken in by the core %.0f (of %d published per second)\n", (r1 - r0) / s, piles
  printf "mqtt_load: gateway CPU %.1f %% of one core\n", 100 * (c1 - c0) / s
  printf "mqtt_load: gateway RSS %.1f MB, peak %.1f MB\n", rss / 1024, hwm / 1024
}'
echo "mqtt_load: healthz $health"

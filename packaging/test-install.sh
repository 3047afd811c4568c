#!/usr/bin/env bash
# Package-level test of the amd64 .deb on this Debian 12 box (root; touches the system):
#   packaging/test-install.sh [build-pkg-amd64/orderly_VERSION-1_amd64.deb]
# install with apt (dependencies resolved) -> files, owners, conffiles, user, unit ->
# check-config -> local broker with the packaged Mosquitto config: logins and ACLs ->
# daemon as user orderly (no systemd here: setpriv) with a fake NOTIFY_SOCKET: READY=1 and
# watchdog pings, MQTT login, web page over HTTP, online sqlite3 backup ->
# upgrade keeps an edited conffile, credentials and data -> newer DB refused ->
# remove keeps config and data -> purge leaves nothing
# but the system user (Debian keeps it). Ends with "N passed, N failed".
# Needs ports 1883 (broker) and the config's web port (8080) free; takes about a minute.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEB=${1:-$(ls "$ROOT"/build-pkg-amd64/orderly_*_amd64.deb 2>/dev/null | tail -1)}
CONF=/etc/orderly/orderly.toml
WEB_PORT=${WEB_PORT:-8080}
export DEBIAN_FRONTEND=noninteractive
APT=(apt_quiet apt-get -o DPkg::Lock::Timeout=600 -y)

WORK=$(mktemp -d)
passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds or the deadline passes.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}
# apt's progress goes to a log, shown only when the step fails.
apt_quiet() { "$@" > "$WORK/apt.log" 2>&1 || { sed 's/^/    /' "$WORK/apt.log" | tail -30; return 1; }; }
port_free() { ! ss -ltn "sport = :$1" | grep -q LISTEN; }

[ "$(id -u)" -eq 0 ] || { echo "test-install.sh: run as root" >&2; exit 2; }
[ -f "$DEB" ] || { echo "test-install.sh: no package '$DEB': run packaging/build-deb.sh amd64" >&2; exit 2; }
if dpkg-query -W -f='${Status}' orderly 2>/dev/null | grep -q installed; then
  echo "test-install.sh: orderly is already installed here; purge it first (apt-get purge orderly)" >&2
  exit 2
fi
for p in 1883 "$WEB_PORT"; do
  port_free "$p" || { echo "test-install.sh: port $p is in use; free it or wait" >&2; exit 2; }
done
command -v mosquitto_pub >/dev/null || "${APT[@]}" install --no-install-recommends mosquitto-clients >/dev/null

BROKER_PID="" DAEMON_PID="" NOTIFY_PID=""
cleanup() {
  [ -z "$DAEMON_PID" ] || kill "$DAEMON_PID" 2>/dev/null
  [ -z "$BROKER_PID" ] || kill "$BROKER_PID" 2>/dev/null
  [ -z "$NOTIFY_PID" ] || kill "$NOTIFY_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Everything a package could leave behind, before it exists (dpkg/apt's own state aside).
snapshot() {
  find /etc /usr /lib /var/lib /opt /srv -xdev \
    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/mosquitto \
       -o -path /var/lib/systemd/deb-systemd-helper-masked -o -path /var/lib/ucf \) -prune \
    -o -print 2>/dev/null | grep -v -e '^/etc/\(passwd\|group\|shadow\|gshadow\)-\?$' \
    -e '^/etc/.pwd.lock$' -e '^/etc/ld.so.cache$' | sort
}
snapshot > "$WORK/before"

echo "# installing $DEB"
check "apt-get install ./$(basename "$DEB") resolves dependencies" \
  "${APT[@]}" install "$(realpath "$DEB")"

echo "# files, owners, user"
check "/usr/bin/orderly runs --version" /usr/bin/orderly --version
check "web assets in /usr/share/orderly/web" test -n "$(ls -A /usr/share/orderly/web 2>/dev/null)"
check "the page is the bundle (uPlot inside app.js)" grep -q u-over /usr/share/orderly/web/app.js
check "device profiles in /usr/share/orderly/profiles" test -n "$(ls -A /usr/share/orderly/profiles 2>/dev/null)"
check "config $CONF installed" test -s "$CONF"
for doc in $(grep -o '/usr/share/doc/orderly/[A-Za-z0-9._-]*' "$CONF" | sort -u); do
  check "$doc, which $CONF refers to, is installed" test -s "$doc"
done
conffiles=$(dpkg-query -W -f='${Conffiles}' orderly)
for f in $CONF /etc/mosquitto/conf.d/orderly.conf /etc/orderly/orderly.acl; do
  check "$f is a conffile" grep -q " $f " <<<"$conffiles"
done
check "system user orderly, no login shell" \
  bash -c '[ "$(getent passwd orderly | cut -d: -f7)" = /usr/sbin/nologin ]'
check "orderly is in group dialout (RS-485)" bash -c 'id -nG orderly | grep -qw dialout'
check "/var/lib/orderly owned by orderly, mode 750" \
  bash -c '[ "$(stat -c %U:%G:%a /var/lib/orderly)" = orderly:orderly:750 ]'
check "gateway MQTT password file root:orderly 640" \
  bash -c '[ "$(stat -c %U:%G:%a /etc/orderly/mqtt-password)" = root:orderly:640 ]'
check "broker password file has the gateway login" grep -q '^orderly:' /etc/mosquitto/orderly.passwd
# verify also checks that ExecStart's binary exists; its complaints name the unit file.
systemd-analyze verify /lib/systemd/system/orderly.service > "$WORK/verify" 2>&1
check "systemd unit is valid (systemd-analyze verify)" bash -c "! grep orderly.service '$WORK/verify'"
sed 's/^/    /' "$WORK/verify"
check "unit enabled for multi-user.target" test -L /etc/systemd/system/multi-user.target.wants/orderly.service
check "orderly check-config $CONF" /usr/bin/orderly check-config "$CONF"

echo "# broker with the packaged Mosquitto configuration"
mkdir -p /run/mosquitto && chown mosquitto: /run/mosquitto
# Same file the mosquitto service reads (it includes conf.d/orderly.conf); logs to stderr.
grep -v '^log_dest' /etc/mosquitto/mosquitto.conf > "$WORK/mosquitto.conf"
echo "log_dest stderr" >> "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" 2> "$WORK/broker.log" &
BROKER_PID=$!
check "broker listens on 127.0.0.1:1883" wait_for 10 bash -c 'ss -ltn "sport = :1883" | grep -q 127.0.0.1:1883'
check "broker listens nowhere else by default" bash -c '[ "$(ss -ltn "sport = :1883" | grep -c LISTEN)" = 1 ]'
dev_pw=$(orderly-add-device ch-test 2>/dev/null | sed -n "s/.*password '\(.*\)'.*/\1/p")
check "orderly-add-device made a login" test -n "$dev_pw"
kill -HUP "$BROKER_PID"  # what `systemctl reload mosquitto` does
gw_pw=$(cat /etc/orderly/mqtt-password)
sub() { timeout 5 mosquitto_sub -h 127.0.0.1 -p 1883 -C 1 -W 4 "$@" 2>/dev/null; }
pub() { mosquitto_pub -h 127.0.0.1 -p 1883 "$@"; }
check "anonymous login refused" bash -c '! mosquitto_pub -h 127.0.0.1 -t orderly/v1/x -m 1 2>/dev/null'
# A retained message is delivered on subscribe, so no ordering race between the two clients.
wait_for 5 pub -u ch-test -P "$dev_pw" -r -t orderly/v1/charger/ch-test/status -m own
got=$(sub -u orderly -P "$gw_pw" -t orderly/v1/charger/ch-test/status)
check "device publishes on its own topic; gateway reads it (got '$got')" test "$got" = own
# The gateway's retained value first, then the forgery (QoS 1: the broker has handled it
# before mosquitto_pub returns), so a forgery that got through would be what is read back.
pub -u orderly -P "$gw_pw" -q 1 -r -t orderly/v1/charger/other/status -m real
pub -u ch-test -P "$dev_pw" -q 1 -r -t orderly/v1/charger/other/status -m forged
got=$(sub -u orderly -P "$gw_pw" -t orderly/v1/charger/other/status)
check "device cannot overwrite another charger's topic (ACL; got '$got')" test "$got" = real
got=$(sub -u ch-test -P "$dev_pw" -t orderly/v1/charger/other/status)
check "device cannot read another charger's topic (ACL; got '$got')" test -z "$got"
got=$(sub -u ch-test -P "$dev_pw" -t orderly/v1/charger/ch-test/status)
check "device reads its own topic (got '$got')" test "$got" = own
pub -u orderly -P "$gw_pw" -r -n -t orderly/v1/charger/other/status
pub -u orderly -P "$gw_pw" -r -n -t orderly/v1/charger/ch-test/status

echo "# daemon as user orderly, as the unit runs it (minus systemd)"
# setpriv execs in place (runuser would fork and turn our SIGTERM into its own exit 143), so
# the exit status checked below is the daemon's; --init-groups adds dialout like the unit.
# NOTIFY_SOCKET and WATCHDOG_USEC are what systemd hands a Type=notify, WatchdogSec= service;
# a small listener records what the daemon sends there (READY=1, then WATCHDOG=1 every
# WATCHDOG_USEC/2).
chmod 755 "$WORK"
/usr/bin/python3 - "$WORK/notify.sock" "$WORK/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
PY
NOTIFY_PID=$!
wait_for 5 test -S "$WORK/notify.sock"
NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=2000000 \
  setpriv --reuid orderly --regid orderly --init-groups -- /usr/bin/orderly run --config "$CONF" > "$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
if wait_for 30 bash -c "curl -fsS -o '$WORK/index.html' http://127.0.0.1:$WEB_PORT/ 2>/dev/null"; then
  ok "web page answers on :$WEB_PORT"
  check "web page is HTML" grep -qi '<html' "$WORK/index.html"
else
  fail "web page answers on :$WEB_PORT (daemon log below)"; sed 's/^/    /' "$WORK/daemon.log" | tail -20
fi
check "daemon told systemd READY=1" wait_for 10 grep -q 'READY=1' "$WORK/notify.log"
check "daemon feeds the watchdog (2 x WATCHDOG=1 within 3 s)" \
  wait_for 3 bash -c "[ \$(grep -c 'WATCHDOG=1' '$WORK/notify.log') -ge 2 ]"
check "daemon logged in to the broker as user orderly" \
  wait_for 15 grep -q "u'orderly'" "$WORK/broker.log"
# A figure for docs/installation.md (hardware): the daemon's peak resident memory so far.
echo "    daemon memory: $(grep -E 'VmHWM|VmRSS' /proc/$DAEMON_PID/status 2>/dev/null | tr -s ' \t' ' ' | paste -sd ' ')"
check "store created by the daemon as orderly" \
  bash -c '[ "$(stat -c %U /var/lib/orderly/orderly.db 2>/dev/null)" = orderly ]'
check "online backup with sqlite3 while it runs" \
  bash -c "sqlite3 /var/lib/orderly/orderly.db '.backup $WORK/backup.db' && sqlite3 $WORK/backup.db 'PRAGMA integrity_check' | grep -qx ok"
if kill -0 "$DAEMON_PID" 2>/dev/null; then
  kill -TERM "$DAEMON_PID"
  check "daemon stops on SIGTERM within 10 s" wait_for 10 bash -c "! kill -0 $DAEMON_PID 2>/dev/null"
  wait "$DAEMON_PID"; rc=$?
  check "daemon exit status 0 after SIGTERM (was $rc)" test "$rc" -eq 0
else
  fail "daemon still running when checked"; sed 's/^/    /' "$WORK/daemon.log" | tail -20
fi
DAEMON_PID=""

echo "# upgrade to a newer version keeps an edited conffile, credentials and the data"
# The same package relabelled one Debian revision up: what dpkg sees in a real upgrade
# (prerm upgrade, postinst configure OLD-VERSION), without building twice.
dpkg-deb -R "$DEB" "$WORK/up"
old_version=$(dpkg-deb -f "$DEB" Version)
sed -i "s/^Version: .*/Version: ${old_version}+upgradetest1/" "$WORK/up/DEBIAN/control"
dpkg-deb --root-owner-group -b "$WORK/up" "$WORK/orderly_upgrade.deb" >/dev/null
echo "# local edit by test-install.sh" >> "$CONF"
gw_before=$(cat /etc/orderly/mqtt-password)
db_before=$(sqlite3 /var/lib/orderly/orderly.db 'PRAGMA user_version; SELECT count(*) FROM sqlite_master;' | paste -sd ' ')
check "apt-get install the newer package" "${APT[@]}" install "$WORK/orderly_upgrade.deb" </dev/null
check "version is now ${old_version}+upgradetest1" \
  test "$(dpkg-query -W -f='${Version}' orderly)" = "${old_version}+upgradetest1"
check "edited $CONF kept without a prompt" grep -q 'local edit by test-install.sh' "$CONF"
check "gateway MQTT password kept" test "$(cat /etc/orderly/mqtt-password)" = "$gw_before"
check "device logins kept" grep -q '^ch-test:' /etc/mosquitto/orderly.passwd
db_after=$(sqlite3 /var/lib/orderly/orderly.db 'PRAGMA user_version; SELECT count(*) FROM sqlite_master;' | paste -sd ' ')
check "database kept (schema version and objects: $db_after)" test "$db_after" = "$db_before"
setpriv --reuid orderly --regid orderly --init-groups -- /usr/bin/orderly run --config "$CONF" > "$WORK/daemon2.log" 2>&1 &
DAEMON_PID=$!
check "upgraded daemon starts on the kept database and serves the page" \
  wait_for 30 bash -c "curl -fsS -o /dev/null http://127.0.0.1:$WEB_PORT/ 2>/dev/null"
kill -TERM "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID"; rc=$?; DAEMON_PID=""
check "upgraded daemon exits 0 on SIGTERM (was $rc)" test "$rc" -eq 0

echo "# a database from a newer orderly is refused, plainly, and left alone"
if [ -f /var/lib/orderly/orderly.db ]; then
  sqlite3 /var/lib/orderly/orderly.db 'PRAGMA user_version=9999'
  timeout 20 setpriv --reuid orderly --regid orderly --init-groups -- \
    /usr/bin/orderly run --config "$CONF" > "$WORK/newer.log" 2>&1; rc=$?
  check "daemon refuses a newer database (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  check "refusal says what to do" grep -q 'newer than this orderly' "$WORK/newer.log"
  sed 's/^/    /' "$WORK/newer.log" | grep -i newer
  check "newer database left untouched" \
    test "$(sqlite3 /var/lib/orderly/orderly.db 'PRAGMA user_version')" = 9999
else
  fail "no database to test the newer-version refusal with"
fi

kill "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""

echo "# remove keeps configuration and data; purge removes them"
check "apt-get remove orderly" "${APT[@]}" remove orderly
check "binary gone after remove" test ! -e /usr/bin/orderly
check "config kept after remove" test -f "$CONF"
check "/var/lib/orderly kept after remove" test -d /var/lib/orderly
check "apt-get purge orderly" "${APT[@]}" purge orderly
snapshot > "$WORK/after"
leftover=$(comm -13 "$WORK/before" "$WORK/after")
if [ -z "$leftover" ]; then ok "purge leaves no files"; else fail "purge left:"; echo "$leftover" | sed 's/^/    /'; fi
check "system user orderly kept (Debian policy)" getent passwd orderly

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

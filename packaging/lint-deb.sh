#!/usr/bin/env bash
# Run lintian on built packages and fail on any error:
#   packaging/lint-deb.sh build-pkg-amd64/orderly_*.deb [more .debs]
# Accepted warnings and tags, with the reasons, are listed in docs/installation.md
# ("Packaging checks"); they are shown here, not suppressed.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: packaging/lint-deb.sh PACKAGE.deb..." >&2; exit 2; }
if ! command -v lintian >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "lint-deb.sh: lintian is missing: sudo apt-get install lintian" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends lintian >/dev/null
fi
# --allow-root: this box (and CI) builds as root; lintian only reads the package.
lintian --allow-root --fail-on error --display-info "$@"
echo "lint-deb.sh: no lintian errors in $*"

#!/usr/bin/env bash
# The package's identity and terms are stated in three files that no tool ties together:
# packaging/CPackConfig.cmake (Maintainer, Section, version via the project), debian/copyright
# (Upstream-Contact, licence) and debian/changelog (version, trailer). Checks that they agree,
# so that choosing a licence or a maintainer address cannot update one and leave the others.
#   tests/packaging/check-metadata.sh SOURCE_DIR
set -uo pipefail
ROOT=${1:?usage: check-metadata.sh SOURCE_DIR}
CPACK=$ROOT/packaging/CPackConfig.cmake
COPYRIGHT=$ROOT/packaging/debian/copyright
CHANGELOG=$ROOT/packaging/debian/changelog
failed=0
check() { # check WHAT GOT EXPECTED
  if [ "$2" = "$3" ]; then echo "ok   - $1: $2"; else echo "FAIL - $1: '$2', expected '$3'"; failed=1; fi
}

contact=$(sed -n 's/^set(CPACK_PACKAGE_CONTACT "\(.*\)")$/\1/p' "$CPACK")
[ -n "$contact" ] || { echo "FAIL - no CPACK_PACKAGE_CONTACT in $CPACK"; exit 1; }
check "debian/copyright Upstream-Contact is the package Maintainer" \
  "$(sed -n 's/^Upstream-Contact: //p' "$COPYRIGHT")" "$contact"
check "debian/changelog trailer names the package Maintainer" \
  "$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$CHANGELOG" | head -1)" "$contact"

project_version=$(sed -n 's/^project(orderly VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
release=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_RELEASE \([0-9]*\))$/\1/p' "$CPACK")
check "debian/changelog's newest version is the package version" \
  "$(sed -n '1s/^orderly (\([^)]*\)).*/\1/p' "$CHANGELOG")" "$project_version-$release"

# The licence: every Files paragraph's License has a stand-alone paragraph with its text, and
# the package sits in the archive area that licence implies.
licence=$(sed -n '/^Files:/,/^$/s/^License: //p' "$COPYRIGHT" | sort -u)
check "debian/copyright names one licence for the files" "$(printf '%s\n' "$licence" | wc -l)" 1
check "debian/copyright has the text of licence '$licence'" \
  "$(awk -v l="$licence" '/^License: /{name=substr($0,10); next} /^ / && name==l {n++} /^$/{name=""} END{print (n>0)}' "$COPYRIGHT")" 1
section=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_SECTION \(.*\))$/\1/p' "$CPACK")
case "$licence" in
  all-rights-reserved)
    check "an all-rights-reserved package is in the non-free area" "${section%%/*}" non-free
    check "debian/copyright says no licence is granted" \
      "$(grep -c '^ All rights reserved\.' "$COPYRIGHT")" 1
    check "debian/copyright disclaims being part of Debian (non-free)" \
      "$(grep -c '^Disclaimer: ' "$COPYRIGHT")" 1 ;;
  *)
    check "licence '$licence' is a free one: the package is in main" "${section%%/*}" "$section" ;;
esac
exit "$failed"

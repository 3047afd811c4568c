# Debian packaging: install rules for everything besides the binary, and the CPack DEB setup.
# Included at the end of the top CMakeLists.txt. Build a package with one command per
# architecture (docs/installation.md, "Building the packages"):
#   packaging/build-deb.sh amd64|arm64|armhf
# Files outside the install prefix (/etc, /lib/systemd) use absolute destinations; the DEB
# generator stages them under its own root, so they land where Debian expects them.

set(ORDERLY_PKG_DIR ${ORDERLY_SOURCE_DIR}/packaging)

# Assets and profiles may be absent in an early checkout; OPTIONAL keeps `cmake --install`
# working, and packaging/test-install.sh checks the built package does contain them.
# The pages as web/build.mjs bundled them (the orderly_web_assets target), not their sources.
install(DIRECTORY ${ORDERLY_WEB_ASSETS_DIR}/ DESTINATION share/orderly/web OPTIONAL)
install(DIRECTORY ${ORDERLY_SOURCE_DIR}/drivers/profiles/ DESTINATION share/orderly/profiles OPTIONAL)
install(FILES ${ORDERLY_PKG_DIR}/orderly.toml DESTINATION /etc/orderly OPTIONAL)
install(FILES ${ORDERLY_PKG_DIR}/mosquitto/orderly.conf DESTINATION /etc/mosquitto/conf.d)
install(FILES ${ORDERLY_PKG_DIR}/mosquitto/orderly.acl DESTINATION /etc/orderly)
# Debian 12 still ships units under /lib (the /usr-merge moratorium); lintian checks it.
install(FILES ${ORDERLY_PKG_DIR}/systemd/orderly.service DESTINATION /lib/systemd/system)
install(FILES ${ORDERLY_PKG_DIR}/systemd/orderly.sysusers DESTINATION lib/sysusers.d RENAME orderly.conf)
install(PROGRAMS ${ORDERLY_PKG_DIR}/orderly-add-device DESTINATION sbin)
install(FILES ${ORDERLY_PKG_DIR}/debian/copyright DESTINATION share/doc/orderly)

# Debian wants the changelog, man pages and longer documents gzip -9n (no timestamp,
# reproducible). The installer's documents go to /usr/share/doc/orderly, where the packaged
# orderly.toml points (read them with zless).
find_program(ORDERLY_GZIP gzip)
set(ORDERLY_PKG_GEN ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${ORDERLY_PKG_GEN})
foreach(src_dest IN ITEMS "debian/changelog|changelog.Debian.gz|share/doc/orderly"
                          "debian/orderly.1|orderly.1.gz|share/man/man1"
                          "debian/orderly-add-device.8|orderly-add-device.8.gz|share/man/man8"
                          "../docs/installation.md|installation.md.gz|share/doc/orderly"
                          "../docs/configuration.md|configuration.md.gz|share/doc/orderly"
                          "../docs/device-profiles.md|device-profiles.md.gz|share/doc/orderly"
                          "../docs/mqtt-protocol.md|mqtt-protocol.md.gz|share/doc/orderly")
  string(REPLACE "|" ";" parts "${src_dest}")
  list(GET parts 0 src)
  list(GET parts 1 gz)
  list(GET parts 2 dest)
  if(EXISTS ${ORDERLY_PKG_DIR}/${src})
    execute_process(COMMAND ${ORDERLY_GZIP} -9nc ${ORDERLY_PKG_DIR}/${src}
                    OUTPUT_FILE ${ORDERLY_PKG_GEN}/${gz})
    install(FILES ${ORDERLY_PKG_GEN}/${gz} DESTINATION ${dest})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ORDERLY_PKG_DIR}/${src})
  endif()
endforeach()

# The state directory is created and chowned by postinst (the user does not exist at build
# time); shipping it empty makes dpkg own it, so `apt purge` can find it.
install(DIRECTORY DESTINATION /var/lib/orderly)

# Maintainer scripts and conffiles. Conffiles are kept on upgrade and on `apt remove`.
set(ORDERLY_CONFFILES /etc/mosquitto/conf.d/orderly.conf /etc/orderly/orderly.acl)
if(EXISTS ${ORDERLY_PKG_DIR}/orderly.toml)
  list(PREPEND ORDERLY_CONFFILES /etc/orderly/orderly.toml)
endif()
list(JOIN ORDERLY_CONFFILES "\n" ORDERLY_CONFFILES_TEXT)
file(WRITE ${ORDERLY_PKG_GEN}/conffiles "${ORDERLY_CONFFILES_TEXT}\n")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ORDERLY_PKG_DIR}/orderly.toml)

if(NOT ORDERLY_DEB_ARCH)  # toolchain files set it when cross-building
  find_program(ORDERLY_DPKG dpkg)
  if(ORDERLY_DPKG)
    execute_process(COMMAND ${ORDERLY_DPKG} --print-architecture
                    OUTPUT_VARIABLE ORDERLY_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME orderly)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Who answers for the package and under what terms; debian/copyright (Upstream-Contact,
# Copyright, License) and debian/changelog's trailer say the same, which tests/packaging checks.
# The project has chosen no licence yet: all rights reserved, so the package is not free
# software and belongs in Debian's non-free area (Section). There is no team mailbox or web
# site yet either: the address below is a reserved example.org one, to be replaced when the
# team has one, and the package carries no Homepage field rather than a made-up one.
set(CPACK_PACKAGE_VENDOR "Orderly project contributors")
set(CPACK_PACKAGE_CONTACT "Orderly maintainers <orderly-maintainers@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # orderly_0.1.0-1_arm64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${ORDERLY_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SECTION non-free/misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "transformer-aware orderly-charging gateway for communities")
# CPack puts the summary first and indents the body itself; an empty line becomes " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"Orderly runs on the gateway box of a residential community's distribution
transformer. It reads meters and chargers over MQTT, Modbus TCP/RTU and
DL/T 645, keeps the transformer within its capacity, moves charging into
valley-tariff hours, reports to the city charging platform and serves a
local web page to residents and the operator.

The package installs the orderly daemon with a systemd unit, a commented
configuration in /etc/orderly, device profiles, the web user interface and
a Mosquitto configuration with per-device credentials and ACLs.")
# Library dependencies come from dpkg-shlibdeps (for cross builds the :ARCH libraries that
# packaging/setup-cross.sh installs, or its sysroot's dpkg database: cpack-project.cmake);
# the broker and the tools the maintainer scripts call are listed by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, mosquitto (>= 2.0)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto-clients")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${ORDERLY_PKG_GEN}/conffiles
    ${ORDERLY_PKG_DIR}/debian/postinst
    ${ORDERLY_PKG_DIR}/debian/prerm
    ${ORDERLY_PKG_DIR}/debian/postrm)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR})
set(CPACK_PROJECT_CONFIG_FILE ${ORDERLY_PKG_DIR}/cpack-project.cmake)  # sysroot builds' Depends

include(CPack)

# Read by cpack while packaging (CPACK_PROJECT_CONFIG_FILE), after CPackConfig.cmake's settings.
# A build against the /opt/orderly-cross/ARCH sysroot (packaging/setup-cross.sh ARCH --sysroot)
# has its libraries recorded in the sysroot's own dpkg database, which CPack's dpkg-shlibdeps
# call cannot be pointed at; build-deb.sh runs dpkg-shlibdeps with --admindir itself and hands
# the result over as ORDERLY_SHLIBS_DEPENDS (cpack -D), which takes the place of CPack's run.
if(ORDERLY_SHLIBS_DEPENDS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${ORDERLY_SHLIBS_DEPENDS}, ${CPACK_DEBIAN_PACKAGE_DEPENDS}")
endif()

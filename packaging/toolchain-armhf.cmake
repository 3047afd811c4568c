# Cross-build orderly for Debian armhf with Debian's cross toolchain and multiarch libraries:
#   packaging/setup-cross.sh armhf      (once: compiler, qemu, the :armhf -dev packages)
#   packaging/build-deb.sh armhf        (the .deb)       packaging/cross-test.sh armhf (unit tests)
# Multiarch needs no sysroot: the :armhf libraries live in /usr/lib/arm-linux-gnueabihf and the cross
# compiler already searches there and /usr/include/arm-linux-gnueabihf.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
# packaging/CPackConfig.cmake names the package's architecture from this.
set(ORDERLY_DEB_ARCH armhf)

# Libraries and CMake package configs come from /usr/lib/arm-linux-gnueabihf (CMAKE_LIBRARY_ARCHITECTURE
# puts it first); programs are the build host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must read the :armhf .pc files, never the host's (libmosquitto, libmodbus,
# libsystemd are found through it).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Fallback when the multiarch :armhf libraries are not installed: the sysroot that
# `packaging/setup-cross.sh armhf --sysroot` unpacks (see there why it may be needed).
set(ORDERLY_CROSS_SYSROOT /opt/orderly-cross/armhf)
if(NOT EXISTS /usr/lib/arm-linux-gnueabihf/pkgconfig/libmosquitto.pc AND EXISTS ${ORDERLY_CROSS_SYSROOT}/usr/lib/arm-linux-gnueabihf)
  set(CMAKE_SYSROOT ${ORDERLY_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${ORDERLY_CROSS_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR} ${ORDERLY_CROSS_SYSROOT}/usr/lib/arm-linux-gnueabihf/pkgconfig:${ORDERLY_CROSS_SYSROOT}/usr/share/pkgconfig)
  # The guest loader's built-in path lacks the multiarch directories (a real system has them
  # from ld.so.cache, which the sysroot lacks).
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-arm-static -L ${ORDERLY_CROSS_SYSROOT}
      -E LD_LIBRARY_PATH=/lib/arm-linux-gnueabihf:/usr/lib/arm-linux-gnueabihf)
  return()
endif()

# Runs the armhf test binaries (gtest discovery and ctest) on the build host. -L makes qemu
# look for the loader under the cross toolchain's root first, then falls back to / where
# the multiarch :armhf libc from setup-cross.sh lives.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-arm-static -L /usr/arm-linux-gnueabihf)

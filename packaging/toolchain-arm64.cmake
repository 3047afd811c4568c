# Cross-build orderly for Debian arm64 with Debian's cross toolchain and multiarch libraries:
#   packaging/setup-cross.sh arm64      (once: compiler, qemu, the :arm64 -dev packages)
#   packaging/build-deb.sh arm64        (the .deb)       packaging/cross-test.sh arm64 (unit tests)
# Multiarch needs no sysroot: the :arm64 libraries live in /usr/lib/aarch64-linux-gnu and the cross
# compiler already searches there and /usr/include/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# packaging/CPackConfig.cmake names the package's architecture from this.
set(ORDERLY_DEB_ARCH arm64)

# Libraries and CMake package configs come from /usr/lib/aarch64-linux-gnu (CMAKE_LIBRARY_ARCHITECTURE
# puts it first); programs are the build host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must read the :arm64 .pc files, never the host's (libmosquitto, libmodbus,
# libsystemd are found through it).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Fallback when the multiarch :arm64 libraries are not installed: the sysroot that
# `packaging/setup-cross.sh arm64 --sysroot` unpacks (see there why it may be needed).
set(ORDERLY_CROSS_SYSROOT /opt/orderly-cross/arm64)
if(NOT EXISTS /usr/lib/aarch64-linux-gnu/pkgconfig/libmosquitto.pc AND EXISTS ${ORDERLY_CROSS_SYSROOT}/usr/lib/aarch64-linux-gnu)
  set(CMAKE_SYSROOT ${ORDERLY_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${ORDERLY_CROSS_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR} ${ORDERLY_CROSS_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${ORDERLY_CROSS_SYSROOT}/usr/share/pkgconfig)
  # The guest loader's built-in path lacks the multiarch directories (a real system has them
  # from ld.so.cache, which the sysroot lacks).
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64-static -L ${ORDERLY_CROSS_SYSROOT}
      -E LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu)
  return()
endif()

# Runs the arm64 test binaries (gtest discovery and ctest) on the build host. -L makes qemu
# look for the loader under the cross toolchain's root first, then falls back to / where
# the multiarch :arm64 libc from setup-cross.sh lives.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64-static -L /usr/aarch64-linux-gnu)

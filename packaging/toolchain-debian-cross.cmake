# Shared by toolchain-arm64.cmake and toolchain-armhf.cmake, which set:
#   ORDERLY_DEB_ARCH (Debian arch), ORDERLY_CROSS_TRIPLET (GNU triplet = multiarch dir),
#   CMAKE_SYSTEM_PROCESSOR, ORDERLY_QEMU (the qemu-user binary that runs its programs).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${ORDERLY_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${ORDERLY_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${ORDERLY_CROSS_TRIPLET})

# Libraries and CMake package configs come from /usr/lib/${ORDERLY_CROSS_TRIPLET} (CMAKE_LIBRARY_ARCHITECTURE
# puts it first); programs are the build host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must read the :${ORDERLY_DEB_ARCH} .pc files, never the host's (libmosquitto, libmodbus,
# libsystemd are found through it).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${ORDERLY_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Fallback when the multiarch :${ORDERLY_DEB_ARCH} libraries are not installed: the sysroot that
# `packaging/setup-cross.sh ${ORDERLY_DEB_ARCH} --sysroot` unpacks (see there why it may be needed).
set(ORDERLY_CROSS_SYSROOT /opt/orderly-cross/${ORDERLY_DEB_ARCH})
if(NOT EXISTS /usr/lib/${ORDERLY_CROSS_TRIPLET}/pkgconfig/libmosquitto.pc AND EXISTS ${ORDERLY_CROSS_SYSROOT}/usr/lib/${ORDERLY_CROSS_TRIPLET})
  set(CMAKE_SYSROOT ${ORDERLY_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${ORDERLY_CROSS_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR} ${ORDERLY_CROSS_SYSROOT}/usr/lib/${ORDERLY_CROSS_TRIPLET}/pkgconfig:${ORDERLY_CROSS_SYSROOT}/usr/share/pkgconfig)
  # The guest loader's built-in path lacks the multiarch directories (a real system has them
  # from ld.so.cache, which the sysroot lacks).
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ORDERLY_QEMU} -L ${ORDERLY_CROSS_SYSROOT}
      -E LD_LIBRARY_PATH=/lib/${ORDERLY_CROSS_TRIPLET}:/usr/lib/${ORDERLY_CROSS_TRIPLET})
  return()
endif()

# Runs the ${ORDERLY_DEB_ARCH} test binaries (gtest discovery and ctest) on the build host under qemu.
# The loader must come from the same glibc build as the libc it loads: their private interface
# changes between Debian revisions, and the cross toolchain's 2.36-8 loader with the
# security-updated multiarch libc (2.36-9+deb12u14) hangs in the first pthread_create. So: the
# multiarch root (/lib/ld-linux-*.so beside its libc, from libc6:${ORDERLY_DEB_ARCH}) when it is
# installed, else the cross toolchain's own root (loader and libc both from libc6-*-cross).
if(EXISTS /usr/lib/${ORDERLY_CROSS_TRIPLET}/libc.so.6)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ORDERLY_QEMU} -L /)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ORDERLY_QEMU} -L /usr/${ORDERLY_CROSS_TRIPLET})
endif()

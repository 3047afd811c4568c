# Cross-build orderly for Debian arm64 with Debian's cross toolchain and multiarch libraries:
#   packaging/setup-cross.sh arm64      (once: compiler, qemu, the :arm64 -dev packages)
#   packaging/build-deb.sh arm64        (the .deb)       packaging/cross-test.sh arm64 (unit tests)
# Multiarch needs no sysroot: the :arm64 libraries live in /usr/lib/aarch64-linux-gnu and the cross
# compiler already searches there and /usr/include/aarch64-linux-gnu.

set(ORDERLY_DEB_ARCH arm64)                  # packaging/CPackConfig.cmake names the package from this
set(ORDERLY_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(ORDERLY_QEMU /usr/bin/qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-cross.cmake)

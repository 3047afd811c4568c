# Cross-build orderly for Debian armhf with Debian's cross toolchain and multiarch libraries:
#   packaging/setup-cross.sh armhf      (once: compiler, qemu, the :armhf -dev packages)
#   packaging/build-deb.sh armhf        (the .deb)       packaging/cross-test.sh armhf (unit tests)
# Multiarch needs no sysroot: the :armhf libraries live in /usr/lib/arm-linux-gnueabihf and the cross
# compiler already searches there and /usr/include/arm-linux-gnueabihf.

set(ORDERLY_DEB_ARCH armhf)                  # packaging/CPackConfig.cmake names the package from this
set(ORDERLY_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(ORDERLY_QEMU /usr/bin/qemu-arm-static)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-cross.cmake)

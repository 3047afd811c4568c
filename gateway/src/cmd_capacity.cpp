#include <cstdio>

#include "orderly/gateway/commands.hpp"

namespace orderly::gateway {

// Interim until the hosting-capacity work lands: refuses plainly instead of pretending.
int cmd_capacity(const Args&) {
  std::fprintf(stderr, "orderly: 'capacity' is not available in this build yet\n");
  return 1;
}

}  // namespace orderly::gateway

#include <cstdio>

#include "orderly/gateway/commands.hpp"

namespace orderly::gateway {

// Interim until its issue lands: refuses plainly instead of pretending.
int cmd_plan(const Args&) {
  std::fprintf(stderr, "orderly: 'plan' is not available in this build yet\n");
  return 1;
}

}  // namespace orderly::gateway

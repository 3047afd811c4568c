#pragma once
#include <boost/asio/io_context.hpp>

namespace orderly::gateway {
class Gateway;
// Runs the core loop until SIGINT/SIGTERM, telling systemd READY=1 and feeding its watchdog
// from the loop itself. Shared by `run` and `demo`.
void run_until_signalled(boost::asio::io_context& io, Gateway& gateway);
}  // namespace orderly::gateway

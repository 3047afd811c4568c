// `orderly run --config FILE`: the daemon.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/commands.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/log.hpp"
#include "run_loop.hpp"

namespace orderly::gateway {

void run_until_signalled(boost::asio::io_context& io, Gateway& gateway) {
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal received, stopping signal={}", signo);
    ::sd_notify(0, "STOPPING=1");
    gateway.stop();
    io.stop();
  });

  // The watchdog is fed from the core loop itself, so a wedged event loop is what systemd sees
  // and restarts (Restart=on-failure), not a healthy side thread.
  boost::asio::steady_timer watchdog(io);
  std::uint64_t watchdog_usec = 0;
  std::function<void()> feed;
  if (::sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    feed = [&] {
      ::sd_notify(0, "WATCHDOG=1");
      watchdog.expires_after(std::chrono::microseconds(watchdog_usec / 2));
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) feed();
      });
    };
    feed();
  }
  ::sd_notify(0, "READY=1");
  io.run();
}

int cmd_run(const Args& args) {
  std::string config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--config" || args[i] == "-c") && i + 1 < args.size()) config_path = args[++i];
    else if (args[i].rfind("--config=", 0) == 0) config_path = args[i].substr(9);
    else {
      std::fprintf(stderr, "orderly run: unexpected argument '%s'\nusage: orderly run --config FILE\n", args[i].c_str());
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "orderly run: missing --config FILE (the packaged one is /etc/orderly/orderly.toml)\n");
    return 2;
  }
  Config config;
  try {
    // With the shipped profiles at hand, the config check also proves every device's profile
    // exists and fits its transport, before anything is started.
    const auto profile_dir = default_profile_dir();
    const auto catalog = profile_dir.empty() ? drivers::ProfileCatalog{} : drivers::ProfileCatalog::load_dir(profile_dir);
    config = load_config(config_path, &catalog);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\norderly run: refusing to start; fix the file (orderly check-config %s)\n", e.what(),
                 config_path.c_str());
    return 2;
  }
  init_logging(config.log);
  for (const auto& w : config.warnings) spdlog::warn("config: {}", w);

  boost::asio::io_context io;
  RealClock clock;
  Gateway gateway(io, clock, std::move(config));
  gateway.start();
  run_until_signalled(io, gateway);
  return EXIT_SUCCESS;
}

}  // namespace orderly::gateway

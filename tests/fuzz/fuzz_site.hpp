#pragma once
// One started gateway for the HTTP and API fuzz targets, as `orderly run` would serve a
// resident's phone: the API tests' site with a private and a shared pile (no drivers: no car is plugged in),
// a store in a fresh directory, the web server on a free loopback port that no input uses.
// Requests go in through the same calls the server makes; the io_context is run here until
// each is answered, so writes reach the store writer and come back as they do in production.
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/test/support.hpp"
#include "../report/report_site.hpp"

namespace orderly::fuzz {

class Site {
 public:
  Site()
      : clock_(gateway::testing::local(2026, 1, 20, 21)),
        gateway_(io_, clock_, gateway::parse_config(config_text(), "fuzz.toml"), options()) {
    // Refused requests are logged; millions of them would drown the fuzzer's own report.
    spdlog::set_level(spdlog::level::off);
    gateway_.start();
  }
  gateway::Gateway& gateway() { return gateway_; }

  // Runs the core loop until `answered` holds. An input that is never answered is a finding.
  void run_until(const std::function<bool()>& answered) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!answered()) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "fuzz site: request not answered within 10 s\n");
        std::abort();
      }
      io_.restart();
      io_.run_one_for(std::chrono::milliseconds(100));
    }
  }

 private:
  std::string config_text() const {
    return gateway::testing::two_pile_site("[web]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(test::free_tcp_port()) +
                                           "\n[store]\npath = \"" + (dir_ / "orderly.db").string() + "\"\n");
  }
  static gateway::GatewayOptions options() {
    gateway::GatewayOptions o;
    o.static_dir = test::web_assets_dir();
    o.devices = [](const drivers::DeviceEvents&) { return std::map<std::string, std::shared_ptr<drivers::ChargerDriver>>{}; };
    return o;
  }

  test::TempDir dir_;
  boost::asio::io_context io_;
  ManualClock clock_;
  gateway::Gateway gateway_;
};

// Never destroyed: its worker threads and the store writer outlive any order of static
// destruction at exit.
inline Site& site() {
  static Site* s = new Site;
  return *s;
}

}  // namespace orderly::fuzz

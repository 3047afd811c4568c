// The resident and operator pages in Debian's chromium, driven by Playwright (tests/web/pages_e2e.mjs),
// against a whole gateway: real store with accounts, real web server, the bundled pages. Piles and
// the transformer meter report through the drivers' event interface from a feeder thread that also
// moves the site clock on, so the load history grows and the WebSocket pushes while the browser looks.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include <boost/asio/post.hpp>

#include "config_text.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/test/gateway_support.hpp"

namespace orderly {
namespace {

using namespace std::chrono;

std::string site_config(const std::filesystem::path& db) {
  return gateway::testing::kMinimal + gateway::testing::loopback_store_and_meter(db) + R"(
[[charger]]
id = "p1"
name = "1-1-101"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "s1"
name = "公共桩 1"
kind = "shared"
phase = "B"
max_power_kw = 7
)";
}

struct Finished {
  int exit_code = -1;
  std::string out;
};

Finished run(const std::string& command) {
  Finished r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.out.append(buffer, n);
  r.exit_code = ::pclose(pipe);
  return r;
}

class PagesE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(test::kChromium)) << "install chromium (setup.sh)";
    const auto db = dir_.path() / "orderly.db";
    {
      gateway::Accounts accounts(db);
      accounts.add("wang", web::Role::resident, "1-1-101", {}, std::string(kPassword));
      accounts.add("op", web::Role::site_operator, "", {}, std::string(kPassword));
    }
    auto config = gateway::parse_config(site_config(db), "pages_e2e.toml");
    config.web.port = 0;
    gateway::GatewayOptions options;
    options.devices = [this](const drivers::DeviceEvents& events) {
      events_ = events;
      std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> out;
      for (const char* id : {"p1", "s1"}) out[id] = std::make_shared<test::IdleCharger>(id);
      return out;
    };
    site_ = std::make_unique<test::RunningGateway>(clock_, config, std::move(options));
    // Every 200 ms: 30 s of site time pass and every device reports, the meter a varying load
    // (a history point every 5 site minutes, so every 2 s; a push after every report).
    feeder_ = std::thread([this] {
      for (int tick = 0; !stop_; ++tick) {
        boost::asio::post(site_->io(), [this, tick] { report(tick); });
        std::this_thread::sleep_for(milliseconds(200));
        clock_.advance(seconds(30));
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (feeder_.joinable()) feeder_.join();
    if (site_) site_->stop();
  }

  void report(int tick) {
    const TimePoint now = clock_.now();
    for (const char* id : {"p1", "s1"}) {
      drivers::Health h;
      h.online = true;
      h.last_good = now;
      events_.health(id, h);
      drivers::ChargerSnapshot s;
      s.at = now;
      s.state = drivers::ChargerState::plugged;
      s.power_w = 0;
      s.session_energy_wh = 0;
      events_.charger_snapshot(id, s);
    }
    drivers::MeterSnapshot m;
    m.at = now;
    m.power_w = 1000.0 * (30 + tick % 7);
    events_.meter_snapshot("tx-meter", m);
  }

  static constexpr const char* kPassword = "correct horse battery";
  test::TempDir dir_;
  ManualClock clock_{gateway::testing::january_2026(5, 20, 0)};
  drivers::DeviceEvents events_;
  std::unique_ptr<test::RunningGateway> site_;
  std::atomic<bool> stop_{false};
  std::thread feeder_;
};

TEST_F(PagesE2E, ResidentOnAPhoneAndOperatorOnADesktop) {
  const std::filesystem::path shots = std::filesystem::path(ORDERLY_PAGES_SCREENSHOT_DIR);
  std::filesystem::create_directories(shots);
  const Finished r = run(std::string(ORDERLY_NODE_BIN) + " " + ORDERLY_PAGES_SCRIPT + " --web-dir " + ORDERLY_WEB_DIR +
                    " --url " + site_->web_url() + " --resident wang --operator op --password '" + kPassword +
                    "' --shots " + shots.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* png : {"resident-360.png", "resident-768.png", "resident-1366.png", "operator-360.png",
                          "operator-768.png", "operator-1366.png"}) {
    EXPECT_TRUE(std::filesystem::exists(shots / png)) << png << "\n" << r.out;
  }
}

}  // namespace
}  // namespace orderly

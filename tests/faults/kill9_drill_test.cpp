// Issue 16's kill -9 drill: `orderly run` killed at a random moment (seeded), restarted on the
// same file, ORDERLY_KILL9_RUNS times in a row (default 3 in the default run; 100 by hand),
// while an operator keeps adding demand-response events over HTTP. After every kill: the file is
// consistent and every event answered 201 is in it; across all of them the true load never stays
// above the limit for more than 2 s (the piles hold the limits the dead gateway set). The single
// kill with its detailed checks on sessions and limits is tests/system/kill9_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "drill_site.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"
#include "system_support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

int runs_from_env() {
  const char* text = std::getenv("ORDERLY_KILL9_RUNS");
  return text && *text ? std::max(1, std::atoi(text)) : 3;
}

TEST(Kill9Drill, KilledAtRandomMomentsRepeatedlyLosesNothingAcknowledgedAndHoldsTheLimit) {
  test::TempDir dir;
  auto broker = sim::MosquittoBroker::start();
  const std::string text = test::drill_config(broker->port(), dir / "orderly.db");
  const auto config_path = test::write_file(dir / "orderly.toml", text);
  test::add_test_operator(dir / "orderly.db");
  const std::string base = "http://127.0.0.1:" + std::to_string(gateway::parse_config(text, "orderly.toml").web.port);
  RealClock clock;
  test::DrillDevices devices(broker->port(), clock);
  for (auto& p : devices.piles) p->plug_in(200'000, test::kDrillPileW);
  test::Daemon daemon(config_path, dir / "orderly.log");
  test::LoadWatch watch(devices);

  std::set<std::string> acknowledged;  // DR event ids answered 201
  std::mt19937 rng(16);
  const int runs = runs_from_env();
  int next_event = 0;
  for (int run = 0; run < runs; ++run) {
    SCOPED_TRACE("run " + std::to_string(run + 1) + " of " + std::to_string(runs));
    daemon.start();
    ASSERT_TRUE(test::wait_until([&] {
      return daemon.alive() && test::http("GET", base + "/api/v1/health", "", 500).status == 200;
    }, 20s)) << daemon.log();
    // The operator's writes, until the kill; the kill comes 0.5 to 3 s after the start.
    std::atomic<bool> killed{false};
    std::mutex mutex;
    std::thread operator_thread([&] {
      while (!killed) {
        const std::string id = "drill-" + std::to_string(next_event++);
        const auto r = test::http("POST", base + "/api/v1/dr-events",
                                  R"({"id": ")" + id + R"(", "start": "2030-01-01T18:00", "end": "2030-01-01T19:00", "limit_kw": 25})",
                                  2000);
        if (r.status == 201) {
          std::lock_guard lock(mutex);
          acknowledged.insert(id);
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 2500));  // the random moment
    daemon.kill9();
    killed = true;
    operator_thread.join();

    gateway::Store store(dir / "orderly.db");
    ASSERT_EQ(store.integrity_check(), "ok");
    std::set<std::string> stored;
    for (const auto& e : store.dr_events(TimePoint(std::chrono::sys_days(std::chrono::year{2029} / 1 / 1)),
                                             TimePoint(std::chrono::sys_days(std::chrono::year{2031} / 1 / 1))))
      stored.insert(e.id);
    std::lock_guard lock(mutex);
    for (const auto& id : acknowledged) ASSERT_TRUE(stored.count(id)) << "DR event " << id << " answered 201, lost";
  }
  EXPECT_GT(acknowledged.size(), static_cast<std::size_t>(runs)) << "the drill acknowledged too little to show anything";
  EXPECT_EQ(watch.verdict(), "");
  std::printf("%d kills, %zu acknowledged DR events all kept, true load peak %.0f W\n", runs, acknowledged.size(),
              watch.peak_w());
}

}  // namespace
}  // namespace orderly

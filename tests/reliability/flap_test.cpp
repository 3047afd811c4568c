// Issue 16: a pile whose contact flaps plugged/unplugged at 100 Hz, through a real Mosquitto
// broker into a running gateway. Each flap is a session opened or closed; without the per-device
// re-plan debounce (gateway/include/orderly/gateway/replan_debounce.hpp) each one forced a solve,
// a plan record and a commit. Now the pile re-plans once per 5 s and commits stay batched.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../mqtt/raw_client.hpp"
#include "orderly/drivers/mqtt_protocol.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

int count_rows(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
  const int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

TEST(Flapping, APileFlappingAtOneHundredHertzReplansOncePerIntervalNotPerFlap) {
  test::TempDir dir;
  auto broker = sim::MosquittoBroker::start();
  RealClock clock;
  const auto db = dir / "orderly.db";
  const auto config = gateway::parse_config(
      test::site_toml({.mqtt_port = broker->port(), .db = db}) +
          "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n"
          "[[charger]]\nid = \"c1\"\nkind = \"shared\"\nphase = \"A\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n",
      "flap.toml");
  std::atomic<int> commits{0};
  gateway::GatewayOptions options;
  options.store.before_commit = [&] { ++commits; };
  sim::SimMqttMeter meter("tm-1", "127.0.0.1", broker->port(), clock, [](TimePoint) { return 10'000.0; }, 200ms);
  meter.start();
  {
    test::RunningGateway site(clock, config, options);
    test::RawClient pile(broker->port(), "c1");
    ASSERT_TRUE(test::wait_until([&] { return pile.connack == 0; })) << broker->log();
    const auto topic = drivers::mqtt::device_topic("orderly/v1", drivers::mqtt::DeviceKind::charger, "c1", "status");
    drivers::ChargerSnapshot s;
    s.power_w = 0;
    // Settled first: the gateway has the pile online and unplugged, its start-up plans made.
    s.at = clock.now();
    s.state = drivers::ChargerState::unplugged;
    ASSERT_TRUE(test::wait_until([&] {
      pile.publish(topic, drivers::mqtt::encode_charger_status(s));
      return test::on_core(site.io(), [&] { return site.gateway().controller().chargers().at("c1").health.online; });
    })) << broker->log();
    const int commits_before = commits;

    // 3 s at 100 Hz, the stimulus paced in real time (what is measured is what the gateway does
    // with it, not how fast this loop runs).
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 300; ++i) {
      s.at = clock.now();
      s.state = i % 2 == 0 ? drivers::ChargerState::charging : drivers::ChargerState::unplugged;
      pile.publish(topic, drivers::mqtt::encode_charger_status(s));
      std::this_thread::sleep_until(started + i * 10ms);
    }
    const double flap_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // A closing unplugged message, let through once the rate limit's bucket refilled.
    ASSERT_TRUE(test::wait_until([&] {
      s.at = clock.now();
      s.state = drivers::ChargerState::unplugged;
      pile.publish(topic, drivers::mqtt::encode_charger_status(s));
      return test::on_core(site.io(), [&] {
        return site.gateway().controller().chargers().at("c1").snapshot.state == drivers::ChargerState::unplugged;
      });
    }));
    const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Batched commits (1 s flush) plus one forced commit per admitted plug re-plan, not one per flap.
    EXPECT_LE(commits - commits_before, 2 * (elapsed_s + 2)) << "commits over " << elapsed_s << " s";
    site.stop();
    const int sessions = count_rows(db, "SELECT count(*) FROM sessions WHERE charger_id = 'c1'");
    EXPECT_GE(sessions, 2) << "the flaps reached the gateway as sessions";
    const int plug_plans = count_rows(db, "SELECT count(*) FROM plans WHERE reason LIKE '%plug%'");
    // One at once, then at most one per 5 s interval (held ones released when it ends).
    EXPECT_LE(plug_plans, 1 + static_cast<int>(elapsed_s / 5) + 1)
        << sessions << " sessions in " << flap_s << " s of flapping made " << plug_plans << " plug re-plans";
  }
  meter.stop();
}

}  // namespace
}  // namespace orderly

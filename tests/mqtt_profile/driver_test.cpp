// The gateway's profile-driven MQTT charger driver (MqttDevices::add_profile_charger) against a
// simulated OpenEVSE driven by the same shipped profile, each a separate MQTT client of a real
// Mosquitto broker on a free loopback port. The test thread is the core thread.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <map>
#include <thread>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/profile_mqtt_charger.hpp"
#include "orderly/test/support.hpp"
#include "pile_fixture.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class MqttProfileDriverTest : public testing::ProfilePileTest {
 protected:
  void SetUp() override {
    broker_ = sim::MosquittoBroker::start();
    profile_ = load_profile(test::source_dir() / "drivers" / "profiles" / "openevse.toml");
    EXPECT_EQ(profile_.mqtt->publish_period_s, 30) << "a real OpenEVSE publishes every 30 s (docs/mqtt.md)";
    // The simulated pile below publishes every 200 ms, faster than the real one, to keep the
    // test short; its profile says so (0.8 s: staleness 2.4 s, above the 1.5 s default).
    profile_.mqtt->publish_period_s = 0.8;
    MqttOptions o;
    o.port = broker_->port();
    o.client_id = "orderly-gateway-profile-test";
    o.reconnect_min_delay = 100ms;
    o.ack_timeout = 2s;
    o.stale_after = 1500ms;
    DeviceEvents e;
    e.charger_snapshot = [this](const std::string& id, const ChargerSnapshot& s) {
      on_core = on_core && std::this_thread::get_id() == core_thread_;
      snapshot[id] = s;
    };
    e.limit_ack = [this](const std::string&, const LimitAck& a) { acks.push_back(a); };
    e.health = [this](const std::string& id, const Health& h) { health[id] = h; };
    Capabilities caps;
    caps.max_power_w = 7360;
    caps.max_current_a = 32;
    caps.failsafe = true;  // the profile must overrule this: OpenEVSE has no MQTT failsafe
    start_pile("evse-1", "openevse-1a2b", o, e, caps, sim_clock_);
  }

  std::optional<LimitAck> ack_for(std::uint64_t seq) const {
    for (const auto& a : acks)
      if (a.seq == seq) return a;
    return std::nullopt;
  }

  std::thread::id core_thread_ = std::this_thread::get_id();
  ManualClock sim_clock_{TimePoint{} + std::chrono::hours(24 * 365 * 56)};
  bool on_core = true;
  std::map<std::string, ChargerSnapshot> snapshot;
  std::map<std::string, Health> health;
  std::vector<LimitAck> acks;
};

TEST_F(MqttProfileDriverTest, CapabilitiesAreDeclaredFromTheProfile) {
  const Capabilities c = driver_->capabilities();
  EXPECT_EQ(c.pause, PauseMethod::zero_current) << "a 0 A claim pauses";
  EXPECT_TRUE(c.measures_phase_currents) << "a single-phase pile with an amp topic";
  EXPECT_DOUBLE_EQ(c.max_power_w, 7360) << "the configured rating, not the profile's 7400 W";
}

TEST_F(MqttProfileDriverTest, SnapshotIsAssembledFromTheProfilesTopics) {
  EXPECT_FALSE(driver_->capabilities().failsafe) << "openevse.toml says failsafe mechanism = none";
  pile_->plug_in(20'000, 7'000);
  ASSERT_TRUE(pump_until([&] {
    auto it = snapshot.find("evse-1");
    return it != snapshot.end() && it->second.state == ChargerState::charging && it->second.current_a[0] > 0;
  })) << "no charging snapshot; broker log:\n" << broker_->log();
  // Before any claim the pile runs at its 32 A maximum; the car takes 7 kW = 30.4 A at 230 V.
  const auto& s = snapshot["evse-1"];
  EXPECT_NEAR(s.current_a[0], 7000.0 / 230, 0.01) << "amp is published in mA and scaled by 0.001";
  EXPECT_NEAR(s.voltage_v[0], 230, 1e-6);
  EXPECT_NEAR(s.power_w, 7000, 1);
  EXPECT_NEAR(s.applied_limit_w, 32 * 230, 1) << "pilot (32 A) becomes the applied limit";
  EXPECT_TRUE(on_core) << "a DeviceEvents callback ran off the core thread";
  EXPECT_TRUE(health["evse-1"].online);

  // Energy is integrated in the simulator's clock: one hour at 7 kW. The session and the total
  // counters are topics of their own, so either may arrive first.
  sim_clock_.advance(std::chrono::hours(1));
  ASSERT_TRUE(pump_until([&] {
    return snapshot["evse-1"].session_energy_wh > 6999 && snapshot["evse-1"].total_energy_wh > 6999;
  })) << snapshot["evse-1"].session_energy_wh << " Wh session, " << snapshot["evse-1"].total_energy_wh << " Wh total";
  EXPECT_NEAR(snapshot["evse-1"].session_energy_wh, 7000, 1);
  EXPECT_NEAR(snapshot["evse-1"].total_energy_wh, 7000, 1) << "total_energy is published in kWh, scale 1000";
}

TEST_F(MqttProfileDriverTest, LimitReachesThePileAsWholeAmpsAndIsAcknowledged) {
  pile_->plug_in(20'000, 7'000);
  ASSERT_TRUE(pump_until([&] { return devices_->connected() && health["evse-1"].online; }));
  // 3000 W / 230 V = 13.04 A: floored to 13 A, never rounded up past the limit.
  driver_->apply_limit(PowerLimit{3000, 60s, 41});
  ASSERT_TRUE(pump_until([&] { return ack_for(41).has_value(); })) << broker_->log();
  EXPECT_TRUE(ack_for(41)->accepted) << ack_for(41)->error;
  EXPECT_NEAR(ack_for(41)->applied_limit_w, 13 * 230, 1e-6);
  EXPECT_EQ(pile_->claimed_current_a(), 13);
  ASSERT_TRUE(pump_until([&] { return std::fabs(snapshot["evse-1"].power_w - 13 * 230) < 1; }))
      << snapshot["evse-1"].power_w;

  // Below 6 A the pile is paused with a 0 A claim.
  driver_->apply_limit(PowerLimit{1000, 60s, 42});
  ASSERT_TRUE(pump_until([&] { return ack_for(42).has_value(); }));
  EXPECT_TRUE(ack_for(42)->accepted);
  EXPECT_EQ(ack_for(42)->applied_limit_w, 0);
  EXPECT_EQ(pile_->claimed_current_a(), 0);
  EXPECT_EQ(pile_->power_w(), 0);
}

TEST_F(MqttProfileDriverTest, GarbageIsAHealthErrorAndSilenceIsOffline) {
  ASSERT_TRUE(pump_until([&] { return health["evse-1"].online; })) << broker_->log();
  pile_->publish_raw("amp", "not-a-number");
  pile_->publish_raw("state", "77");  // not in the profile's map
  pile_->publish_raw("voltage", "nan");
  ASSERT_TRUE(pump_until([&] { return health["evse-1"].errors >= 3; })) << health["evse-1"].errors;
  EXPECT_THAT(health["evse-1"].last_error, ::testing::AnyOf(HasSubstr("not a finite number"), HasSubstr("not in the profile's map")));
  EXPECT_NEAR(snapshot["evse-1"].voltage_v[0], 230, 1e-6) << "a rejected value must not replace the last good one";

  pile_->set_silent(true);
  const auto silent_from = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump_until([&] { return !health["evse-1"].online; }, 10s));
  // Three of the profile's publish periods (2.4 s from the last status, which came at most one
  // simulator period, 0.2 s, before the silence), not the native protocol's 1.5 s.
  EXPECT_GE(std::chrono::steady_clock::now() - silent_from, 2100ms) << "offline before 3 publish periods of silence";
  EXPECT_THAT(health["evse-1"].last_error, HasSubstr("no status"));

  pile_->set_silent(false);
  EXPECT_TRUE(pump_until([&] { return health["evse-1"].online; }));
}

TEST_F(MqttProfileDriverTest, NoAcknowledgementIsNotAccepted) {
  ASSERT_TRUE(pump_until([&] { return health["evse-1"].online; }));
  pile_->stop();  // nobody left to echo the claim
  driver_->apply_limit(PowerLimit{5000, 60s, 7});
  ASSERT_TRUE(pump_until([&] { return ack_for(7).has_value(); }, 10s));
  EXPECT_FALSE(ack_for(7)->accepted);
  EXPECT_THAT(ack_for(7)->error, HasSubstr("no acknowledgement"));
}

TEST(MqttProfileDriver, WildcardBaseTopicIsRefused) {
  boost::asio::io_context io;
  RealClock clock;
  MqttDevices devices(io.get_executor(), clock, MqttOptions{}, DeviceEvents{});
  const auto profile = load_profile(test::source_dir() / "drivers" / "profiles" / "openevse.toml");
  EXPECT_THROW(devices.add_profile_charger("evse-x", profile, "openevse/+", Capabilities{}), std::invalid_argument);
  devices.add_profile_charger("evse-a", profile, "openevse-a", Capabilities{});
  EXPECT_THROW(devices.add_profile_charger("evse-b", profile, "openevse-a", Capabilities{}), std::invalid_argument)
      << "two piles on one base topic would read each other's values";
}

}  // namespace
}  // namespace orderly::drivers

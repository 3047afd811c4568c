// The MQTT profile format beyond OpenEVSE's dialect, a profile written here the way an installer
// writes one from a vendor's topic list: values inside a JSON array (power as element 11), a
// result topic answering "OK", pausing through a mode key rather than the current, and an
// availability topic whose last will marks the pile offline at once. The gateway's driver and
// the profile simulator run against a real Mosquitto broker; the test thread is the core.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <map>

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

constexpr const char* kDialect = R"(
[device]
kind = "charger"
manufacturer = "test"
model = "array wallbox"
documents = ["this test"]
[transport]
type = "mqtt"
[capabilities]
phases = 1
min_current_a = 6
max_current_a = 16
[control]
pause = "enable-register"
[mqtt]
base_topic = "wb"
publish_period_s = 30
ack_topic = "{base}/result"
ack_json_path = "status"
ack_success = "OK"
[mqtt.availability]
topic = "{base}/lwt"
online = "Online"
offline = "Offline"
[mqtt.read.state]
topic = "{base}/data"
json_path = "car"
map = { "1" = "unplugged", "2" = "charging", "3" = "plugged" }
[mqtt.read.current_l1_a]
topic = "{base}/data"
json_path = "values[4]"
scale = 0.1
[mqtt.read.power_w]
topic = "{base}/data"
json_path = "values[11]"
[mqtt.read.session_energy_wh]
topic = "{base}/data"
json_path = "session.wh"
[mqtt.write.set_current_a]
topic = "{base}/set"
json_path = "amp"
[mqtt.write.enable]
topic = "{base}/set"
json_path = "mode"
map = { "true" = "charge", "false" = "stop" }
)";

class MqttDialectTest : public testing::ProfilePileTest {
 protected:
  void SetUp() override {
    broker_ = sim::MosquittoBroker::start();
    profile_ = parse_profile(kDialect, "array-wallbox.toml");
    MqttOptions o;
    o.port = broker_->port();
    o.client_id = "orderly-gateway-dialect-test";
    o.reconnect_min_delay = 100ms;
    o.ack_timeout = 2s;
    DeviceEvents e;
    e.charger_snapshot = [this](const std::string&, const ChargerSnapshot& s) { snapshot = s; };
    e.limit_ack = [this](const std::string&, const LimitAck& a) { acks[a.seq] = a; };
    e.health = [this](const std::string&, const Health& h) { health = h; };
    Capabilities caps;
    caps.max_current_a = 16;
    caps.max_power_w = 3680;
    start_pile("wb-1", "wb-1", o, e, caps, clock_);
    pile_->plug_in(50'000, 7'000);
    ASSERT_TRUE(pump_until([&] { return health.online && snapshot.state == ChargerState::charging; }))
        << "state " << to_string(snapshot.state) << ", " << health.last_error << "; broker log:\n" << broker_->log();
  }

  std::optional<LimitAck> ack(std::uint64_t seq) {
    if (!pump_until([&] { return acks.count(seq) > 0; })) return std::nullopt;
    return acks.at(seq);
  }

  ChargerSnapshot snapshot;
  Health health;
  std::map<std::uint64_t, LimitAck> acks;
};

TEST_F(MqttDialectTest, ValuesAreReadFromArrayElementsAndNestedKeys) {
  // Before any command the pile runs at its 16 A maximum: 16 * 230 = 3680 W at values[11].
  EXPECT_NEAR(snapshot.power_w, 3680, 1);
  EXPECT_NEAR(snapshot.current_a[0], 16, 1e-6) << "values[4] in 0.1 A";
  EXPECT_TRUE(std::isfinite(snapshot.session_energy_wh)) << "session.wh";
  EXPECT_EQ(driver_->capabilities().pause, PauseMethod::enable_register);
}

TEST_F(MqttDialectTest, ResultTopicAcknowledgesAndPauseGoesThroughTheModeKey) {
  driver_->apply_limit(PowerLimit{10 * 230, 60s, 1});
  auto a = ack(1);
  ASSERT_TRUE(a.has_value()) << "no answer on the result topic";
  EXPECT_TRUE(a->accepted) << a->error;
  EXPECT_NEAR(a->applied_limit_w, 10 * 230, 1e-6) << "a result text carries no current: the one sent";
  EXPECT_EQ(pile_->claimed_current_a(), 10);
  EXPECT_TRUE(pile_->enabled());
  ASSERT_TRUE(pump_until([&] { return std::fabs(snapshot.power_w - 2300) < 1; })) << snapshot.power_w;

  // Below 6 A: paused by mode = "stop"; the current setting is left alone.
  driver_->apply_limit(PowerLimit{1000, 60s, 2});
  a = ack(2);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->accepted) << a->error;
  EXPECT_EQ(a->applied_limit_w, 0);
  EXPECT_FALSE(pile_->enabled()) << "the pause must go through the enable key";
  EXPECT_EQ(pile_->claimed_current_a(), 10) << "pausing by mode does not touch amp";
  EXPECT_TRUE(pump_until([&] { return snapshot.power_w == 0 && snapshot.state == ChargerState::plugged; }));

  // And on again: mode and current in one command.
  driver_->apply_limit(PowerLimit{8 * 230, 60s, 3});
  ASSERT_TRUE(ack(3).has_value());
  EXPECT_TRUE(pile_->enabled());
  EXPECT_EQ(pile_->claimed_current_a(), 8);
}

TEST_F(MqttDialectTest, AnythingButTheSuccessTextIsARefusal) {
  pile_->refuse_commands(true);
  driver_->apply_limit(PowerLimit{10 * 230, 60s, 5});
  const auto a = ack(5);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->accepted);
  EXPECT_THAT(a->error, HasSubstr("the pile answered 'refused', not 'OK'"));
  EXPECT_TRUE(std::isnan(a->applied_limit_w));
}

TEST_F(MqttDialectTest, LastWillOnTheAvailabilityTopicIsOfflineAtOnce) {
  // 3 publish periods of 30 s would be 90 s of silence; the will says it now.
  const auto from = std::chrono::steady_clock::now();
  pile_->vanish();
  ASSERT_TRUE(pump_until([&] { return !health.online; }, 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - from, 10s);
  EXPECT_THAT(health.last_error, HasSubstr("announced offline on wb-1/lwt"));
}

TEST(MqttDialect, AvailabilityWordsAreChecked) {
  boost::asio::io_context io;
  RealClock clock;
  auto broker = sim::MosquittoBroker::start();
  MqttOptions o;
  o.port = broker->port();
  Health health;
  DeviceEvents e;
  e.health = [&](const std::string&, const Health& h) { health = h; };
  MqttDevices devices(io.get_executor(), clock, o, e);
  devices.add_profile_charger("wb-2", parse_profile(kDialect, "a.toml"), "wb-2", Capabilities{});
  devices.start();
  sim::SimProfileChargerOptions so;
  so.id = "raw";
  so.port = broker->port();
  so.base_topic = "wb-2";
  sim::SimProfileMqttCharger pile(so, parse_profile(kDialect, "a.toml"), clock);
  pile.start();
  ASSERT_TRUE(test::wait_until([&] {
    io.poll();
    return health.online;  // so no first status clears the error below
  })) << health.last_error;
  pile.publish_raw("lwt", "maybe");
  EXPECT_TRUE(test::wait_until([&] {
    io.poll();
    return health.last_error.find("availability: 'maybe' is neither 'Online' nor 'Offline'") != std::string::npos;
  })) << health.last_error;
  pile.stop();
  devices.stop();
}

}  // namespace
}  // namespace orderly::drivers

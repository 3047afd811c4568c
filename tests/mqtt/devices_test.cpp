// The gateway's MQTT driver against simulated chargers and a meter, each a separate libmosquitto
// client, through a real Mosquitto broker started on a free loopback port.
//
// The test thread is the core thread: it polls the io_context while it waits, so every
// DeviceEvents call must arrive here, and apply_limit() is called from here as the gateway would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <map>
#include <thread>

#include "orderly/drivers/mqtt.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/test/support.hpp"
#include "device_recorder.hpp"

namespace orderly::drivers {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class MqttDevicesTest : public CoreThreadTest {
 protected:
  void SetUp() override { broker_ = sim::MosquittoBroker::start(); }

  MqttOptions options() {
    MqttOptions o;
    o.port = broker_ ? broker_->port() : port_without_broker_;
    o.client_id = "orderly-gateway-test";
    o.reconnect_min_delay = 100ms;
    o.reconnect_max_delay = 300ms;
    o.ack_timeout = 2s;
    o.stale_after = 1500ms;
    return o;
  }

  sim::SimChargerOptions charger_options(const std::string& id) {
    sim::SimChargerOptions o;
    o.id = id;
    o.port = broker_->port();
    o.max_power_w = 7000;
    o.publish_period = 200ms;
    return o;
  }

  std::unique_ptr<sim::MosquittoBroker> broker_;
  std::uint16_t port_without_broker_ = 0;
};

TEST_F(MqttDevicesTest, SnapshotsArriveOnTheCoreThreadAndHealthGoesOnline) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-101", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-101"), clock_);
  sim.start();
  sim.plug_in(10000, 7000);

  ASSERT_TRUE(pump_until([&] { return rec_.charger.count("p-101") && rec_.charger["p-101"].state == ChargerState::charging; }))
      << "no charging snapshot from p-101; broker log:\n" << broker_->log();
  EXPECT_TRUE(devices.connected());
  EXPECT_TRUE(rec_.all_on_core) << "a DeviceEvents callback ran off the core thread";
  const auto& s = rec_.charger["p-101"];
  // Before any limit the pile follows its failsafe power (6 A single-phase).
  EXPECT_NEAR(s.power_w, 1380, 1e-6);
  EXPECT_NEAR(s.current_a[0], 6, 1e-6);
  EXPECT_TRUE(std::isnan(s.current_a[1]));
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-101"].online; }));
  EXPECT_GT(rec_.health["p-101"].reads_ok, 0u);
}

TEST_F(MqttDevicesTest, LimitReachesTheChargerAndIsAcknowledged) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  auto charger = devices.add_charger("p-102", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-102"), clock_);
  sim.start();
  sim.plug_in(20000, 6000);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-102"].online; })) << broker_->log();

  charger->apply_limit(PowerLimit{3000, 60s, 42});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(42).has_value(); })) << "no acknowledgement for seq 42";
  const auto ack = *rec_.ack_for(42);
  EXPECT_TRUE(ack.accepted) << ack.error;
  EXPECT_DOUBLE_EQ(ack.applied_limit_w, 3000);
  EXPECT_EQ(sim.limits_received(), 1u);
  EXPECT_DOUBLE_EQ(sim.limit_w(), 3000);
  EXPECT_DOUBLE_EQ(sim.power_w(), 3000);
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-102"].power_w == 3000; }));
  EXPECT_DOUBLE_EQ(rec_.charger["p-102"].applied_limit_w, 3000);

  // Above the car's own maximum the car decides.
  charger->apply_limit(PowerLimit{7000, 60s, 43});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(43).has_value(); }));
  EXPECT_DOUBLE_EQ(sim.power_w(), 6000);

  // A pile that cannot discharge refuses a negative limit; the driver does not even send it.
  charger->apply_limit(PowerLimit{-1000, 60s, 44});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(44).has_value(); }));
  EXPECT_FALSE(rec_.ack_for(44)->accepted);
  EXPECT_THAT(rec_.ack_for(44)->error, HasSubstr("cannot discharge"));
  EXPECT_EQ(sim.limits_received(), 2u);

  // A pile that ignores its limit keeps drawing what the car wants; the status shows it.
  sim.ignore_limits(true);
  EXPECT_DOUBLE_EQ(sim.power_w(), 6000);
  charger->apply_limit(PowerLimit{2000, 60s, 45});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(45).has_value(); }));
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-102"].power_w == 6000 && rec_.charger["p-102"].applied_limit_w == 2000; }));
}

TEST_F(MqttDevicesTest, ChargerFallsBackToFailsafeWhenValidityExpires) {
  ManualClock clock(std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 22h);
  MqttDevices devices(io_.get_executor(), clock, options(), rec_.events());
  auto charger = devices.add_charger("p-103", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-103"), clock);
  sim.start();
  sim.plug_in(30000, 7000);
  ASSERT_TRUE(pump_until([&] { return rec_.charger.count("p-103") > 0; })) << broker_->log();

  charger->apply_limit(PowerLimit{5000, 60s, 1});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(1).has_value(); }));
  EXPECT_DOUBLE_EQ(sim.power_w(), 5000);
  EXPECT_FALSE(sim.in_failsafe());

  // 59 s later the limit still holds; at 61 s it has lapsed and the pile is back at 6 A.
  clock.advance(59s);
  EXPECT_DOUBLE_EQ(sim.limit_w(), 5000);
  clock.advance(2s);
  EXPECT_TRUE(sim.in_failsafe());
  EXPECT_DOUBLE_EQ(sim.limit_w(), 1380);
  EXPECT_DOUBLE_EQ(sim.power_w(), 1380);
  // Energy follows the injected clock: 60 s at 5 kW, then 1 s at 1.38 kW.
  EXPECT_NEAR(sim.session_energy_wh(), 5000.0 * 60 / 3600 + 1380.0 * 1 / 3600, 1e-6);
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-103"].applied_limit_w == 1380; }))
      << "the gateway never saw the failsafe limit in the status";
}

TEST_F(MqttDevicesTest, FailsafeIsSetWhenThePileComesOnlineAndHoldsAfterItsTimeout) {
  ManualClock clock(std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 22h);
  MqttDevices devices(io_.get_executor(), clock, options(), rec_.events());
  auto charger = devices.add_charger("p-120", caps_7kw(), FailsafeSettings{8, 30s});
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-120"), clock);
  sim.start();
  sim.plug_in(30000, 7000);
  ASSERT_TRUE(pump_until([&] { return sim.failsafe_power_w() == 8 * 230.0; }))
      << "the pile never applied the failsafe sent on coming online; broker log:\n" << broker_->log();
  EXPECT_EQ(sim.failsafe_settings_received(), 1u);
  EXPECT_DOUBLE_EQ(sim.power_w(), 8 * 230.0) << "before any limit it runs at its (new) failsafe power";

  // A limit valid for 10 min, but the pile gives up after its 30 s communication timeout.
  charger->apply_limit(PowerLimit{5000, 600s, 1});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(1).has_value(); }));
  ASSERT_TRUE(rec_.ack_for(1)->accepted) << "a failsafe answer was taken for the limit's";
  clock.advance(29s);
  EXPECT_DOUBLE_EQ(sim.power_w(), 5000);
  clock.advance(2s);
  EXPECT_TRUE(sim.in_failsafe());
  EXPECT_DOUBLE_EQ(sim.power_w(), 8 * 230.0);
  EXPECT_NEAR(sim.session_energy_wh(), 5000.0 * 30 / 3600 + 8 * 230.0 * 1 / 3600, 1e-6);

  // A change is sent at once to a pile that is online.
  devices.set_failsafe("p-120", FailsafeSettings{10, 30s});
  ASSERT_TRUE(pump_until([&] { return sim.failsafe_power_w() == 10 * 230.0; }));
  EXPECT_EQ(sim.failsafe_settings_received(), 2u);
  // Unchanged settings are not sent again; a pile that comes back is told again (it may have
  // rebooted to its factory failsafe).
  devices.set_failsafe("p-120", FailsafeSettings{10, 30s});
  sim.set_offline(true);
  ASSERT_TRUE(pump_until([&] { return !rec_.health["p-120"].online; }));
  sim.set_offline(false);
  ASSERT_TRUE(pump_until([&] { return sim.failsafe_settings_received() == 3u; }));
  EXPECT_EQ(rec_.health["p-120"].errors, 0u) << rec_.health["p-120"].last_error;
  EXPECT_EQ(rec_.health["p-120"].timeouts, 0u);
  EXPECT_THROW(devices.set_failsafe("nobody", FailsafeSettings{}), std::invalid_argument);
}

TEST_F(MqttDevicesTest, RefusedOrOverstatedFailsafeIsAnErrorInHealth) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-121", caps_7kw(), FailsafeSettings{6, 60s});
  devices.add_charger("p-122", caps_7kw(), FailsafeSettings{6, 60s});
  devices.start();
  sim::SimMqttCharger refusing(charger_options("p-121"), clock_);
  refusing.answer_failsafe(sim::FailsafeAnswer::refuse);
  sim::SimMqttCharger overstating(charger_options("p-122"), clock_);
  overstating.answer_failsafe(sim::FailsafeAnswer::overstate);
  refusing.start();
  overstating.start();
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-121"].errors > 0 && rec_.health["p-122"].errors > 0; }))
      << "p-121: " << rec_.health["p-121"].last_error << "; p-122: " << rec_.health["p-122"].last_error;
  EXPECT_EQ(rec_.health["p-121"].last_error,
            "pile refused its failsafe settings: failsafe settings are locked by the installer");
  EXPECT_EQ(rec_.health["p-122"].last_error, "pile acknowledged a failsafe current of 16 A, above the 6 A sent");
  EXPECT_TRUE(rec_.health["p-121"].online) << "a refused failsafe does not make the pile unreachable";
  EXPECT_TRUE(rec_.acks.empty()) << "a failsafe answer must not reach the core as a limit's";
}

TEST_F(MqttDevicesTest, MalformedFailsafeAckIsRejectedAndEndsInATimeout) {
  auto o = options();
  o.ack_timeout = 500ms;
  MqttDevices devices(io_.get_executor(), clock_, o, rec_.events());
  devices.add_charger("p-123", caps_7kw(), FailsafeSettings{6, 60s});
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-123"), clock_);
  sim.answer_failsafe(sim::FailsafeAnswer::malformed);
  sim.start();
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-123"].timeouts == 1u; })) << rec_.health["p-123"].last_error;
  EXPECT_GE(rec_.health["p-123"].errors, 1u) << "the malformed answer itself is counted";
  EXPECT_EQ(rec_.health["p-123"].last_error, "failsafe settings: no acknowledgement within 0.5 s");
  EXPECT_DOUBLE_EQ(sim.failsafe_power_w(), 1380) << "the pile kept its own failsafe";
}

TEST_F(MqttDevicesTest, CarStopsDrawingWhenItsEnergyNeedIsMet) {
  ManualClock clock(std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 23h);
  MqttDevices devices(io_.get_executor(), clock, options(), rec_.events());
  auto charger = devices.add_charger("p-108", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-108"), clock);
  sim.start();
  sim.plug_in(100, 7000);
  ASSERT_TRUE(pump_until([&] { return devices.connected() && rec_.charger.count("p-108"); })) << broker_->log();
  charger->apply_limit(PowerLimit{6000, 3600s, 1});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(1).has_value(); }));
  ASSERT_TRUE(rec_.ack_for(1)->accepted) << rec_.ack_for(1)->error;
  EXPECT_DOUBLE_EQ(sim.power_w(), 6000);
  clock.advance(2min);  // 6 kW for 1 min would be 100 Wh: the car is full after 60 s
  EXPECT_DOUBLE_EQ(sim.session_energy_wh(), 100);
  EXPECT_DOUBLE_EQ(sim.power_w(), 0);
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-108"].state == ChargerState::plugged; }));
  EXPECT_DOUBLE_EQ(rec_.charger["p-108"].session_energy_wh, 100);

  // A limit below 6 A pauses the pile instead of being exceeded (IEC 61851-1 minimum).
  sim.unplug();
  sim.plug_in(10000, 7000);
  charger->apply_limit(PowerLimit{1000, 3600s, 2});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(2).has_value(); }));
  EXPECT_DOUBLE_EQ(sim.power_w(), 0);
  ASSERT_TRUE(pump_until([&] { return rec_.charger["p-108"].state == ChargerState::plugged; }));
}

TEST_F(MqttDevicesTest, BrokerRestartIsSurvivedAndSubscriptionsRenewed) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  auto charger = devices.add_charger("p-109", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-109"), clock_);
  sim.start();
  sim.plug_in(10000, 7000);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-109"].online; })) << broker_->log();

  const auto port = broker_->port();
  broker_.reset();
  ASSERT_TRUE(pump_until([&] { return !devices.connected() && !rec_.health["p-109"].online; }));
  EXPECT_THAT(rec_.health["p-109"].last_error, HasSubstr("not connected to the MQTT broker"));

  broker_ = sim::MosquittoBroker::start(port);
  ASSERT_TRUE(pump_until([&] { return devices.connected() && rec_.health["p-109"].online; }))
      << "no reconnect after the broker came back; broker log:\n" << broker_->log();
  // Subscriptions are per connection (clean session): limits and acks must flow again.
  charger->apply_limit(PowerLimit{4000, 60s, 5});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(5).has_value(); }));
  EXPECT_TRUE(rec_.ack_for(5)->accepted) << rec_.ack_for(5)->error;
  EXPECT_DOUBLE_EQ(sim.power_w(), 4000);
}

TEST_F(MqttDevicesTest, LastWillMarksTheChargerOffline) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-104", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-104"), clock_);
  sim.start();
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-104"].online; })) << broker_->log();

  sim.set_offline(true);
  // Well before the staleness timeout: the will is what tells us.
  ASSERT_TRUE(pump_until([&] { return !rec_.health["p-104"].online; }, 1000ms)) << broker_->log();
  EXPECT_THAT(rec_.health["p-104"].last_error, HasSubstr("announced offline"));
  EXPECT_FALSE(rec_.health["p-104"].online);

  sim.set_offline(false);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-104"].online; })) << "charger did not come back after reconnecting";
}

TEST_F(MqttDevicesTest, SilentChargerGoesOfflineAfterTheStalenessTimeout) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-105", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-105"), clock_);
  sim.start();
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-105"].online; })) << broker_->log();

  sim.set_silent(true);
  const auto silent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(pump_until([&] { return !rec_.health["p-105"].online; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - silent_at, 1000ms) << "offline long before stale_after (1.5 s)";
  EXPECT_THAT(rec_.health["p-105"].last_error, HasSubstr("no status for more than 1.5 s"));
  EXPECT_TRUE(sim.connected());

  sim.set_silent(false);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-105"].online; }));
}

TEST_F(MqttDevicesTest, MalformedPayloadsAreCountedAndLaterGoodOnesStillProcessed) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  devices.add_charger("p-106", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-106"), clock_);
  sim.start();
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-106"].online; })) << broker_->log();
  const auto before = rec_.health["p-106"];

  const std::string ts = R"("ts":"2026-11-23T11:07:07Z")";
  const std::vector<std::string> garbage = {
      "{\"v\":1, garbage",
      "\x01\x02\xff binary",
      R"({"v":1,)" + ts + R"(,"state":"charging","power_w":"NaN"})",
      R"({"v":1,)" + ts + R"(,"state":"charging","power_w":1e999})",
      R"({"v":1,)" + ts + R"(,"state":"teleporting","power_w":100})",
      R"({"v":1,)" + ts + R"(,"state":"charging","power_w":9000000})",
      R"({"v":9,)" + ts + R"(,"state":"charging","power_w":100})",
      R"({"v":1,)" + ts + R"(,"state":["charging"],"power_w":100})",
  };
  for (const auto& g : garbage) sim.publish_garbage(g);
  // Every one is counted and reported: at once for the first error, then by the periodic sweep
  // (a flood must not flood the core with events).
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-106"].errors >= before.errors + garbage.size(); }))
      << "health events report " << rec_.health["p-106"].errors - before.errors << " of " << garbage.size() << " errors";
  EXPECT_FALSE(rec_.health["p-106"].last_error.empty());

  // The device keeps publishing good status; it is still processed and the device stays usable.
  const auto snapshots = rec_.snapshots["p-106"];
  sim.plug_in(5000, 3000);
  ASSERT_TRUE(pump_until([&] { return rec_.snapshots["p-106"] > snapshots + 2 && rec_.charger["p-106"].state == ChargerState::charging; }));
  EXPECT_TRUE(rec_.health["p-106"].online);
  EXPECT_DOUBLE_EQ(rec_.charger["p-106"].power_w, 1380);
}

TEST_F(MqttDevicesTest, MissingAcknowledgementIsReportedAfterTheTimeout) {
  auto o = options();
  o.ack_timeout = 300ms;
  MqttDevices devices(io_.get_executor(), clock_, o, rec_.events());
  auto charger = devices.add_charger("nobody-home", caps_7kw());
  devices.start();
  ASSERT_TRUE(pump_until([&] { return devices.connected(); })) << broker_->log();

  charger->apply_limit(PowerLimit{3000, 60s, 7});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(7).has_value(); }, 3s));
  EXPECT_FALSE(rec_.ack_for(7)->accepted);
  EXPECT_EQ(rec_.ack_for(7)->error, "no acknowledgement within 0.3 s");
  EXPECT_EQ(rec_.health["nobody-home"].timeouts, 1u);
  EXPECT_FALSE(rec_.health["nobody-home"].online);
}

TEST_F(MqttDevicesTest, BrokerAbsentAtStartDoesNotThrowAndConnectsWhenItAppears) {
  const auto port = broker_->port();
  broker_.reset();  // nobody listens on `port` now
  port_without_broker_ = port;
  auto o = options();
  MqttDevices devices(io_.get_executor(), clock_, o, rec_.events());
  auto charger = devices.add_charger("p-107", caps_7kw());
  ASSERT_NO_THROW(devices.start());
  // Give it a few reconnect attempts against a closed port.
  const auto until = std::chrono::steady_clock::now() + 700ms;
  pump_until([&] { return std::chrono::steady_clock::now() >= until; });
  EXPECT_FALSE(devices.connected());
  EXPECT_FALSE(rec_.health["p-107"].online);
  EXPECT_THAT(rec_.health["p-107"].last_error, HasSubstr("not connected to the MQTT broker"));

  // apply_limit without a broker is refused at once, with the reason.
  charger->apply_limit(PowerLimit{3000, 60s, 9});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(9).has_value(); }, 1s));
  EXPECT_FALSE(rec_.ack_for(9)->accepted);
  EXPECT_THAT(rec_.ack_for(9)->error, HasSubstr("not connected"));

  broker_ = sim::MosquittoBroker::start(port);
  sim::SimMqttCharger sim(charger_options("p-107"), clock_);
  sim.start();
  ASSERT_TRUE(pump_until([&] { return devices.connected() && rec_.health["p-107"].online; }))
      << "did not connect after the broker appeared; broker log:\n" << broker_->log();
}

TEST_F(MqttDevicesTest, SimMeterSumsChargerPowerAndBaseLoad) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  auto a = devices.add_charger("p-201", caps_7kw());
  auto b = devices.add_charger("p-202", caps_7kw());
  devices.add_meter("transformer");
  devices.start();

  sim::SimMqttCharger sim_a(charger_options("p-201"), clock_);
  auto ob = charger_options("p-202");
  ob.phases = 3;
  ob.max_power_w = 11000;
  ob.failsafe_power_w = 4140;  // 6 A on three phases
  sim::SimMqttCharger sim_b(ob, clock_);
  sim::SimMqttMeter sim_meter("transformer", "127.0.0.1", broker_->port(), clock_, [](TimePoint) { return 2000.0; },
                              200ms);
  sim_meter.start();
  sim_a.start();
  sim_b.start();
  sim_a.plug_in(50000, 7000);
  sim_b.plug_in(50000, 11000);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-201"].online && rec_.health["p-202"].online && rec_.health["transformer"].online; }))
      << broker_->log();
  a->apply_limit(PowerLimit{3000, 60s, 1});
  b->apply_limit(PowerLimit{6000, 60s, 2});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(1) && rec_.ack_for(2); }));

  const double expected_w = 2000 + 3000 + 6000;
  ASSERT_TRUE(pump_until([&] { return rec_.meter.count("transformer") && std::abs(rec_.meter["transformer"].power_w - expected_w) < 1; }))
      << "meter reports " << (rec_.meter.count("transformer") ? rec_.meter["transformer"].power_w : -1) << " W";
  const auto& m = rec_.meter["transformer"];
  // Single-phase p-201 loads L1 only; three-phase p-202 loads each phase a third.
  EXPECT_NEAR(m.power_w_phase[0], 2000.0 / 3 + 3000 + 6000.0 / 3, 1);
  EXPECT_NEAR(m.power_w_phase[1], 2000.0 / 3 + 6000.0 / 3, 1);
  EXPECT_NEAR(sim_meter.last_power_w(), expected_w, 1);

  sim_meter.set_base_load_offset_w(500);
  ASSERT_TRUE(pump_until([&] { return std::abs(rec_.meter["transformer"].power_w - expected_w - 500) < 1; }));
  EXPECT_TRUE(rec_.all_on_core);
}

// 400 piles: more than the ~330 clients per process at which libmosquitto's select() loop broke
// (descriptors >= FD_SETSIZE), and more limits in one burst than Paho's default 100 buffered.
TEST_F(MqttDevicesTest, ManyChargersShareOneConnection) {
  constexpr int kChargers = 400;
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  std::vector<std::shared_ptr<ChargerDriver>> drivers;
  std::vector<std::unique_ptr<sim::SimMqttCharger>> sims;
  for (int i = 0; i < kChargers; ++i) {
    const std::string id = "p-" + std::to_string(300 + i);
    drivers.push_back(devices.add_charger(id, caps_7kw()));
    auto o = charger_options(id);
    o.publish_period = 1s;
    sims.push_back(std::make_unique<sim::SimMqttCharger>(o, clock_));
  }
  devices.start();
  for (auto& s : sims) {
    s->start();
    s->plug_in(20000, 7000);
  }
  auto online = [&] {
    return std::all_of(drivers.begin(), drivers.end(), [&](auto& d) { return rec_.health[d->id()].online; });
  };
  ASSERT_TRUE(pump_until(online, 20s)) << broker_->log();
  for (int i = 0; i < kChargers; ++i)
    drivers[static_cast<std::size_t>(i)]->apply_limit(PowerLimit{2000.0 + 5 * i, 60s, static_cast<std::uint64_t>(1000 + i)});
  ASSERT_TRUE(pump_until([&] { return rec_.acks.size() == static_cast<std::size_t>(kChargers); }, 10s)) << rec_.acks.size() << " acks";
  for (int i = 0; i < kChargers; ++i) {
    auto ack = rec_.ack_for(static_cast<std::uint64_t>(1000 + i));
    ASSERT_TRUE(ack && ack->accepted) << "charger " << i << (ack ? " error: " + ack->error : std::string(" no ack"));
    EXPECT_DOUBLE_EQ(sims[static_cast<std::size_t>(i)]->limit_w(), 2000.0 + 5 * i);
  }
  EXPECT_TRUE(rec_.all_on_core);
}

TEST_F(MqttDevicesTest, NativeChargerDeclaresWhatTheProtocolGuarantees) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  Capabilities configured;  // as the gateway configures it: electrical fields only
  configured.phases = 3;
  configured.max_power_w = 11000;
  const Capabilities c = devices.add_charger("p-110", configured)->capabilities();
  EXPECT_EQ(c.pause, PauseMethod::protocol) << "a 0 W limit pauses";
  EXPECT_TRUE(c.failsafe) << "a lapsed limit falls back to the pile's failsafe power";
  EXPECT_TRUE(c.measures_phase_currents) << "the status carries current_a per phase";
  EXPECT_EQ(c.phases, 3);
  EXPECT_DOUBLE_EQ(c.max_power_w, 11000);
}

TEST_F(MqttDevicesTest, BadDeviceIdsAndDuplicatesAreRefusedAtConfiguration) {
  MqttDevices devices(io_.get_executor(), clock_, options(), rec_.events());
  EXPECT_THROW(devices.add_charger("a/b", caps_7kw()), std::invalid_argument);
  EXPECT_THROW(devices.add_meter("#"), std::invalid_argument);
  devices.add_charger("p-1", caps_7kw());
  EXPECT_THROW(devices.add_charger("p-1", caps_7kw()), std::invalid_argument);
}

// Issue 12: the offline timeout and a pile's limit validity are ages, on the monotonic clock. A
// wall step forward takes nothing offline and expires no limit; after a step back a silent
// charger still goes offline once stale_after has passed.
TEST_F(MqttDevicesTest, WallClockStepsNeitherTakeDevicesOfflineNorKeepASilentOneOnline) {
  ManualClock clock(std::chrono::sys_days(std::chrono::year{2026} / 11 / 23) + 22h);
  MqttDevices devices(io_.get_executor(), clock, options(), rec_.events());
  auto charger = devices.add_charger("p-step", caps_7kw());
  devices.start();
  sim::SimMqttCharger sim(charger_options("p-step"), clock);
  sim.start();
  sim.plug_in(30000, 7000);
  ASSERT_TRUE(pump_until([&] { return rec_.health["p-step"].online; })) << broker_->log();
  charger->apply_limit(PowerLimit{5000, 60s, 1});
  ASSERT_TRUE(pump_until([&] { return rec_.ack_for(1).has_value(); }));

  clock.step(std::chrono::days(3 * 365));
  const int statuses = rec_.snapshots["p-step"];
  // Several sweeps (every stale_after / 4 of real time) and statuses (every 200 ms) after the step.
  ASSERT_TRUE(pump_until([&] { return rec_.snapshots["p-step"] > statuses + 5; }));
  EXPECT_TRUE(rec_.health["p-step"].online) << "offline after a wall step forward: " << rec_.health["p-step"].last_error;
  EXPECT_FALSE(sim.in_failsafe()) << "the pile's limit expired on a wall step";
  EXPECT_DOUBLE_EQ(sim.power_w(), 5000);

  clock.step(-std::chrono::hours(1));
  sim.set_silent(true);
  // Time passes in small steps (a status still in flight must not end up the newest), far less
  // than the hour the wall clock went back.
  ASSERT_TRUE(pump_until([&] {
    clock.advance(50ms);
    return !rec_.health["p-step"].online;
  }, 5s)) << "a silent charger stayed online after a step back";
  EXPECT_THAT(rec_.health["p-step"].last_error, HasSubstr("no status for more than 1.5 s"));
}

TEST(MosquittoBroker, MissingBinaryIsAClearError) {
  ::setenv("ORDERLY_MOSQUITTO", "/nonexistent/mosquitto", 1);
  try {
    sim::MosquittoBroker::start();
    ADD_FAILURE() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/mosquitto not found"));
  }
  ::unsetenv("ORDERLY_MOSQUITTO");
}

}  // namespace
}  // namespace orderly::drivers

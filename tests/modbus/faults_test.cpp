// Bad device input never crashes or corrupts: exceptions, silence, garbage and dropped
// connections become health state with one clear message; failsafe keep-alives and limit expiry
// follow the injected clock; the simulator's "ignores limits" fault is observable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/sim/modbus_sim.hpp"

namespace orderly::drivers {
namespace {

using ::testing::HasSubstr;
using testing::Core;
using testing::near;
using testing::Recorder;

DeviceProfile shipped(const std::string& id) {
  return load_profile(orderly::test::source_dir() / "drivers" / "profiles" / (id + ".toml"));
}

class Faults : public ::testing::Test {
 protected:
  void start_bus(const DeviceProfile& p, int timeout_ms = 200) {
    sim.start();
    ModbusSettings s = p.modbus;
    s.response_timeout_ms = timeout_ms;
    bus = std::make_unique<ModbusBusWorker>(ModbusEndpoint::tcp("127.0.0.1", sim.port(), s));
    options.poll_interval = std::chrono::milliseconds(50);
    options.failsafe_current_a = 8;
    options.failsafe_timeout = std::chrono::seconds(60);
  }

  // Writes to the Webasto Next's heartbeat register (6000) in the simulator's log.
  int heartbeat_writes() {
    int n = 0;
    for (const auto& r : sim.request_log())
      if (r.function == 6 && r.address == 6000) ++n;
    return n;
  }

  ManualClock clock{TimePoint{} + std::chrono::hours(24 * 365 * 50)};
  sim::ModbusSimServer sim{clock};
  Core core;
  Recorder recorder;
  std::unique_ptr<ModbusBusWorker> bus;
  ModbusDeviceOptions options;
};

TEST_F(Faults, ExceptionCodeBecomesHealthErrorNamingDeviceAndRegister) {
  auto p = shipped("eastron-sdm630");
  sim.add_device(1, p);
  start_bus(p);
  options.id = "meter-a";
  ModbusMeter meter(options, p, *bus, core.executor(), recorder.events(), clock);
  meter.start();
  ASSERT_TRUE(recorder.wait_health([](const Health& h) { return h.online && h.reads_ok > 0; }));
  sim.set_exception(1, 2);
  // The first whole poll under the fault reports the first register it asked for.
  ASSERT_TRUE(recorder.wait_health([](const Health& h) {
    return h.errors > 0 && h.last_error.find("0x0000") != std::string::npos;
  })) << recorder.health().last_error;
  const Health h = recorder.health();
  EXPECT_THAT(h.last_error, HasSubstr("register 0x0000 (voltage_l1_v, input register)"));
  EXPECT_THAT(h.last_error, HasSubstr("Modbus exception 2"));
  EXPECT_TRUE(h.online) << "a device that answers with an exception is still reachable";
  sim.set_exception(1, 0);
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.last_error.empty(); })) << "error never cleared";
}

TEST_F(Faults, SilenceBecomesTimeoutAndOffline) {
  auto p = shipped("eastron-sdm630");
  sim.add_device(1, p);
  start_bus(p);
  options.id = "meter-b";
  ModbusMeter meter(options, p, *bus, core.executor(), recorder.events(), clock);
  meter.start();
  ASSERT_TRUE(recorder.wait_health([](const Health& h) { return h.online; }));
  sim.set_no_answer(1, true);
  ASSERT_TRUE(recorder.wait_health([](const Health& h) { return !h.online && h.timeouts > 0; }));
  EXPECT_TRUE(recorder.wait_health([](const Health& h) {
    return h.last_error.find("no answer within 200 ms") != std::string::npos;
  })) << recorder.health().last_error;
  EXPECT_TRUE(recorder.health().timeouts > 0);
  sim.set_no_answer(1, false);
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.online && h.last_error.empty(); }))
      << "device never came back online";
}

TEST_F(Faults, GarbageValuesAreRejectedNotPassedOn) {
  auto p = shipped("eastron-sdm630");
  sim.add_device(1, p);
  sim.set_meter_power(1, 1500);
  start_bus(p);
  options.id = "meter-c";
  ModbusMeter meter(options, p, *bus, core.executor(), recorder.events(), clock);
  meter.start();
  ASSERT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) { return near(s.power_w, 1500, 0.5); }));
  sim.set_garbage(1, true);
  EXPECT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) { return std::isnan(s.power_w); }))
      << "a NaN power reading must arrive as 'not measured'";
  EXPECT_TRUE(recorder.wait_health([](const Health& h) {
    return h.errors > 0 && h.last_error.find("not a number; rejected") != std::string::npos;
  })) << recorder.health().last_error;
  for (const MeterSnapshot& s : recorder.meters())
    EXPECT_TRUE(std::isnan(s.power_w) || near(s.power_w, 1500, 0.5)) << "garbage passed on as " << s.power_w << " W";
}

TEST_F(Faults, OutOfRangeIntegersAreRejected) {
  auto p = shipped("webasto-next");
  sim.add_device(255, p);
  sim.plug_car(255, 16);
  start_bus(p);
  options.id = "pile-g";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.state == ChargerState::charging; }));
  sim.set_garbage(255, true);
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) {
    return s.state == ChargerState::unknown && std::isnan(s.power_w);
  }));
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.last_error.find("rejected") != std::string::npos; }))
      << recorder.health().last_error;
}

TEST_F(Faults, DroppedConnectionReconnects) {
  auto p = shipped("chint-dtsu666");
  sim.add_device(1, p);
  start_bus(p);
  options.id = "meter-d";
  ModbusMeter meter(options, p, *bus, core.executor(), recorder.events(), clock);
  meter.start();
  ASSERT_TRUE(recorder.wait_health([](const Health& h) { return h.reads_ok > 5; }));
  sim.disconnect_clients();
  const auto before = recorder.health().reads_ok;
  EXPECT_TRUE(recorder.wait_health([&](const Health& h) { return h.online && h.reads_ok > before + 20; }))
      << "driver did not reconnect after the connection was dropped";
}

TEST_F(Faults, HeartbeatWrittenAtAQuarterOfTheTimeout) {
  auto p = shipped("webasto-next");
  sim.add_device(255, p);
  start_bus(p);
  options.id = "pile-h";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(255, "failsafe_timeout_s"), 60, 0.01); }));
  auto reads = [&] { return sim.request_log().size(); };
  sim.clear_log();
  ASSERT_TRUE(orderly::test::wait_until([&] { return reads() > 30; }));
  EXPECT_EQ(heartbeat_writes(), 0) << "no heartbeat is due before a quarter of the 60 s timeout";
  clock.advance(std::chrono::seconds(16));
  EXPECT_TRUE(orderly::test::wait_until([&] { return heartbeat_writes() == 1; })) << "heartbeat not written after 16 s";
  // Let the driver note the heartbeat (reads follow it) before moving the clock again.
  const auto seen = reads();
  ASSERT_TRUE(orderly::test::wait_until([&] { return reads() > seen + 5; }));
  clock.advance(std::chrono::seconds(16));
  EXPECT_TRUE(orderly::test::wait_until([&] { return heartbeat_writes() == 2; }));
}

TEST_F(Faults, ExpiredLimitFallsBackToTheFailsafeCurrent) {
  auto p = shipped("heidelberg-energy-control");
  sim.add_device(1, p);
  sim.plug_car(1, 16);
  start_bus(p);
  options.id = "pile-e";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  charger.apply_limit(PowerLimit{14 * 690.0, std::chrono::seconds(30), 1});
  ASSERT_TRUE(recorder.wait_ack(1).has_value());
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.drawn_current_a(1), 14, 0.01); }));
  clock.advance(std::chrono::seconds(31));
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(1, "set_current_a"), 8, 0.01); }))
      << "limit expired but the charger was not set to its 8 A failsafe current";
}

TEST_F(Faults, SimulatedChargerCanIgnoreItsLimit) {
  auto p = shipped("keba-p30");
  sim.add_device(255, p);
  sim.plug_car(255, 16);
  sim.set_ignore_limits(255, true);
  start_bus(p);
  options.id = "pile-i";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  charger.apply_limit(PowerLimit{6 * 690.0, std::chrono::seconds(60), 3});
  auto ack = recorder.wait_ack(3);
  ASSERT_TRUE(ack && ack->accepted);
  EXPECT_TRUE(near(sim.point_value(255, "set_current_a"), 6, 0.01));
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return near(s.power_w, 16 * 690.0, 1); }))
      << "the ignoring charger should keep drawing the car's 16 A";
}

TEST_F(Faults, RefusedConnectionIsReportedAsOffline) {
  auto p = shipped("eastron-sdm120");
  sim.add_device(1, p);
  sim.set_refuse_connections(true);
  start_bus(p);
  options.id = "meter-r";
  ModbusMeter meter(options, p, *bus, core.executor(), recorder.events(), clock);
  meter.start();
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return !h.online && h.timeouts > 0; }));
  EXPECT_FALSE(recorder.health().last_error.empty());
  sim.set_refuse_connections(false);
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.online; }, std::chrono::seconds(15)));
}

}  // namespace
}  // namespace orderly::drivers

namespace orderly::drivers {
namespace {

TEST_F(Faults, TimeoutLongerThanTheRegisterHoldsIsCapped) {
  auto p = shipped("heidelberg-energy-control");
  sim.add_device(1, p);
  start_bus(p);
  options.id = "pile-cap";
  options.failsafe_timeout = std::chrono::seconds(120);  // the site default; 120000 ms does not fit u16
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(1, "failsafe_timeout_s"), 65, 0.001); }))
      << "timeout register holds " << sim.point_value(1, "failsafe_timeout_s") << " s";
  EXPECT_TRUE(near(sim.point_value(1, "failsafe_current_a"), 8, 0.01));
}

}  // namespace
}  // namespace orderly::drivers

namespace orderly::drivers {
namespace {

int writes_to(const sim::ModbusSimServer& sim, std::uint16_t address) {
  int n = 0;
  for (const auto& r : sim.request_log())
    if ((r.function == 6 || r.function == 16) && r.address == address) ++n;
  return n;
}

TEST_F(Faults, KebaRewritesItsTimeoutRegisterAsKeepalive) {
  auto p = shipped("keba-p30");
  sim.add_device(255, p);
  start_bus(p);
  options.id = "pile-k";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(255, "failsafe_timeout_s"), 60, 0.01); }));
  sim.clear_log();
  // Reads after the failsafe writes mean the driver has started its keep-alive period; moving
  // the clock before that would only move the period's start.
  ASSERT_TRUE(orderly::test::wait_until([&] { return sim.request_log().size() > 5; }));
  EXPECT_EQ(writes_to(sim, 5018), 0);
  clock.advance(std::chrono::seconds(16));
  EXPECT_TRUE(orderly::test::wait_until([&] { return writes_to(sim, 5018) == 1; }))
      << "KEBA's timeout (5018) not rewritten after a quarter of 60 s";
}

TEST_F(Faults, ExpiringSetpointIsRewrittenWhileTheLimitIsValid) {
  // A pile that forgets its setpoint after 20 s unless it is written again.
  const std::string text = R"(
[device]
kind = "charger"
manufacturer = "test"
model = "expiring setpoint"
documents = ["test profile"]
[transport]
type = "modbus-tcp"
unit_id = 3
[capabilities]
phases = 1
max_current_a = 16
[points.state]
address = 10
map = { 0 = "unplugged", 1 = "plugged", 2 = "charging" }
[points.set_current_a]
address = 20
access = "rw"
scale = 0.1
[failsafe]
mechanism = "expiring-setpoint"
keepalive = "rewrite-setpoint"
setpoint_expiry_s = 20
)";
  auto p = parse_profile(text, "expiring.toml");
  EXPECT_TRUE(p.capabilities.failsafe);
  sim.add_device(3, p);
  sim.plug_car(3, 16);
  start_bus(p);
  options.id = "pile-x";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  charger.apply_limit(PowerLimit{10 * 230.0, std::chrono::seconds(60), 1});
  ASSERT_TRUE(recorder.wait_ack(1).has_value());
  sim.clear_log();
  clock.advance(std::chrono::seconds(6));  // past a quarter of the 20 s expiry
  EXPECT_TRUE(orderly::test::wait_until([&] { return writes_to(sim, 20) == 1; })) << "setpoint not rewritten";
  EXPECT_TRUE(near(sim.point_value(3, "set_current_a"), 10, 0.01));
}

}  // namespace
}  // namespace orderly::drivers

namespace orderly::drivers {
namespace {

// Issue 12: keep-alives and the driver's own limit expiry run on the monotonic clock, so a wall
// clock step neither fires them all at once (forward) nor holds them past the pile's timeout (back).
TEST_F(Faults, WallClockStepsMoveNeitherKeepAlivesNorLimitExpiry) {
  auto p = shipped("webasto-next");
  sim.add_device(255, p);
  start_bus(p);
  options.id = "pile-step";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(255, "failsafe_timeout_s"), 60, 0.01); }));
  auto reads = [&] { return sim.request_log().size(); };
  sim.clear_log();
  clock.step(std::chrono::days(3 * 365));
  ASSERT_TRUE(orderly::test::wait_until([&] { return reads() > 30; }));
  EXPECT_EQ(heartbeat_writes(), 0) << "a step forward is no time passing: no heartbeat due yet";
  clock.step(-std::chrono::hours(1));
  clock.advance(std::chrono::seconds(16));
  EXPECT_TRUE(orderly::test::wait_until([&] { return heartbeat_writes() == 1; }))
      << "heartbeat not written 16 s after the last, across a step back";
}

TEST_F(Faults, AStepForwardDoesNotExpireALimit) {
  auto p = shipped("heidelberg-energy-control");
  sim.add_device(1, p);
  sim.plug_car(1, 16);
  start_bus(p);
  options.id = "pile-step-e";
  ModbusCharger charger(options, p, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  charger.apply_limit(PowerLimit{14 * 690.0, std::chrono::seconds(30), 1});
  ASSERT_TRUE(recorder.wait_ack(1).has_value());
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.drawn_current_a(1), 14, 0.01); }));
  clock.step(std::chrono::days(3 * 365));
  sim.clear_log();
  ASSERT_TRUE(orderly::test::wait_until([&] { return sim.request_log().size() > 30; }));
  EXPECT_TRUE(near(sim.point_value(1, "set_current_a"), 14, 0.01)) << "the limit was expired by a wall clock step";
  clock.advance(std::chrono::seconds(31));
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.point_value(1, "set_current_a"), 8, 0.01); }))
      << "31 s on, the limit has lapsed to the 8 A failsafe";
}

}  // namespace
}  // namespace orderly::drivers

// The Modbus profile format's finer points against the libmodbus TCP simulator: a point on a
// station unit of its own beside the socket's unit, a state read as ASCII text, a float's NaN
// meaning "not available", and a pile behind an RS-485 gateway at a wrong unit id, which must
// never be reported online.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "harness.hpp"
#include "orderly/base/units.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/sim/modbus_sim.hpp"

namespace orderly::drivers {
namespace {

using ::testing::HasSubstr;
using testing::Core;
using testing::near;
using testing::Recorder;

// Laid out like a socket-and-station pile (Alfen NG9xx style: socket registers on unit 1,
// station-wide values on unit 200); the addresses are this test's own.
constexpr const char* kStationPile = R"(
[device]
kind = "charger"
manufacturer = "test"
model = "station pile"
documents = ["this test"]
[transport]
type = "modbus-tcp"
unit_id = 1
[capabilities]
phases = 1
min_current_a = 6
max_current_a = 32
[points.state]
address = 100
type = "string"
registers = 5
map = { "Available" = "unplugged", "Occupied" = "plugged", "Charging" = "charging" }
[points.power_w]
address = 120
type = "float32"
sentinels = [nan]
[points.set_current_a]
address = 130
type = "float32"
access = "rw"
[points.total_energy_wh]
address = 300
type = "float64"
unit_id = 200
)";

class ModbusFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    profile = parse_profile(kStationPile, "station.toml");
    sim.add_device(1, profile);
    sim.start();
    ModbusSettings s = profile.modbus;
    s.response_timeout_ms = 300;
    bus = std::make_unique<ModbusBusWorker>(ModbusEndpoint::tcp("127.0.0.1", sim.port(), s));
    options.id = "station";
    options.poll_interval = std::chrono::milliseconds(100);
  }

  RealClock clock;
  sim::ModbusSimServer sim{clock};
  DeviceProfile profile;
  Core core;
  Recorder recorder;
  std::unique_ptr<ModbusBusWorker> bus;
  ModbusDeviceOptions options;
};

TEST_F(ModbusFormat, StationUnitPointIsReadOnItsOwnUnitAndTextStatesAreMapped) {
  sim.plug_car(1, 16);
  ModbusCharger charger(options, profile, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) {
    return s.state == ChargerState::charging && std::isfinite(s.total_energy_wh);
  })) << "state " << to_string(recorder.last_charger().state) << ", last error " << recorder.health().last_error;
  const auto log = sim.request_log();
  auto unit_of_address = [&](std::uint16_t address) {
    for (const auto& r : log)
      if (r.address == address) return r.unit_id;
    return -1;
  };
  EXPECT_EQ(unit_of_address(300), 200) << "the station point must be asked of the station unit";
  EXPECT_EQ(unit_of_address(100), 1) << "the socket points stay on the device's unit";

  sim.unplug_car(1);
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.state == ChargerState::unplugged; }));
  EXPECT_EQ(recorder.health().errors, 0u) << recorder.health().last_error;
}

TEST_F(ModbusFormat, SiteUnitMovesTheSocketButNotTheStationUnit) {
  sim::ModbusSimServer moved{clock};
  moved.add_device(7, profile);  // the station unit 200 comes along
  moved.start();
  ModbusBusWorker moved_bus(ModbusEndpoint::tcp("127.0.0.1", moved.port(), profile.modbus));
  options.unit_id = 7;
  ModbusCharger charger(options, profile, moved_bus, core.executor(), recorder.events(), clock);
  charger.start();
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return std::isfinite(s.total_energy_wh); }));
  for (const auto& r : moved.request_log())
    EXPECT_EQ(r.unit_id, r.address == 300 ? 200 : 7) << "address " << r.address;
  charger.apply_limit(PowerLimit{power_w_at_nominal(10, 1), std::chrono::seconds(60), 3});
  const auto ack = recorder.wait_ack(3);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->accepted) << ack->error;
  EXPECT_TRUE(near(moved.point_value(7, "set_current_a"), 10, 0.01));
}

TEST_F(ModbusFormat, NanSentinelIsNotAvailableNotAnError) {
  sim.plug_car(1, 16);
  ModbusCharger charger(options, profile, *bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.power_w > 1000; }));
  sim.set_not_available(1, "power_w", true);
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return std::isnan(s.power_w); }))
      << "power " << recorder.last_charger().power_w;
  const Health h = recorder.health();
  EXPECT_TRUE(h.online);
  EXPECT_EQ(h.errors, 0u) << h.last_error;
  EXPECT_TRUE(h.last_error.empty()) << h.last_error;
}

TEST_F(ModbusFormat, UnknownTextIsRejectedWithTheText) {
  DeviceProfile narrow = profile;
  narrow.points.at("state").text_map.erase("Charging");
  sim::ModbusSimServer other{clock};
  other.add_device(1, profile);
  other.plug_car(1, 16);  // the simulator writes "Charging", which `narrow` does not know
  other.start();
  ModbusBusWorker other_bus(ModbusEndpoint::tcp("127.0.0.1", other.port(), narrow.modbus));
  ModbusCharger charger(options, narrow, other_bus, core.executor(), recorder.events(), clock);
  charger.start();
  EXPECT_TRUE(recorder.wait_health([](const Health& h) { return h.errors > 0; }));
  EXPECT_THAT(recorder.health().last_error, HasSubstr("text \"Charging\" is not in the profile's map"));
}

// A pile at unit 255 behind something that answers for every unit id with exception 11
// (gateway target device failed to respond), driven at unit 1 as the site config used to force:
// the health must say offline and name the unit, never online.
TEST_F(ModbusFormat, APileAtAWrongUnitBehindAGatewayIsNeverOnline) {
  sim::ModbusSimServer gateway_sim{clock};
  DeviceProfile at_255 = profile;
  at_255.modbus.unit_id = 255;
  for (auto& [name, p] : at_255.points) p.unit_id.reset();
  gateway_sim.add_device(255, at_255);
  gateway_sim.set_unknown_unit_exception(11);
  gateway_sim.start();
  ModbusBusWorker gw_bus(ModbusEndpoint::tcp("127.0.0.1", gateway_sim.port(), at_255.modbus));
  options.unit_id = 1;
  ModbusCharger charger(options, at_255, gw_bus, core.executor(), recorder.events(), clock);
  charger.start();
  ASSERT_TRUE(recorder.wait_health([](const Health& h) { return h.timeouts > 0; }));
  const Health h = recorder.health();
  EXPECT_FALSE(h.online);
  EXPECT_EQ(h.reads_ok, 0u);
  EXPECT_THAT(h.last_error, HasSubstr("on unit 1: Modbus exception 11"));

  // Told the right unit, the same pile answers.
  Recorder right;
  options.unit_id = 255;
  ModbusCharger fixed(options, at_255, gw_bus, core.executor(), right.events(), clock);
  fixed.start();
  EXPECT_TRUE(right.wait_health([](const Health& h2) { return h2.online && h2.reads_ok > 0; }));
}

}  // namespace
}  // namespace orderly::drivers

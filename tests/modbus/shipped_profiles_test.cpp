// Every shipped Modbus charger and meter profile against the libmodbus TCP simulator serving the
// same profile: read every point, write a limit and see it obeyed and read back, failsafe
// registers set at start. RTU profiles run over TCP with the same register map.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "harness.hpp"
#include "orderly/base/units.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/sim/modbus_sim.hpp"

namespace orderly::drivers {
namespace {

using testing::Core;
using testing::near;
using testing::Recorder;

std::vector<std::string> shipped_modbus_profiles() {
  std::vector<std::string> ids;
  const auto catalog = ProfileCatalog::load_dir(orderly::test::source_dir() / "drivers" / "profiles");
  for (const auto& [id, p] : catalog.all())
    if (p.transport == Transport::modbus_tcp || p.transport == Transport::modbus_rtu) ids.push_back(id);
  return ids;
}

class ShippedModbusProfile : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    profile = load_profile(orderly::test::source_dir() / "drivers" / "profiles" / (GetParam() + ".toml"));
    unit = profile.modbus.unit_id;
    sim.add_device(unit, profile);
    sim.start();
    ModbusSettings s = profile.modbus;
    s.response_timeout_ms = 500;
    bus = std::make_unique<ModbusBusWorker>(ModbusEndpoint::tcp("127.0.0.1", sim.port(), s));
    options.id = GetParam();
    options.poll_interval = std::chrono::milliseconds(100);
    options.failsafe_current_a = 8;
    options.failsafe_timeout = std::chrono::seconds(60);
  }

  // Every readable point was read and none was rejected.
  void expect_every_point_read() {
    std::set<std::pair<int, std::uint16_t>> wanted;
    for (const auto& [name, p] : profile.points)
      if (p.readable) wanted.emplace(p.read_function(), p.address);
    ASSERT_TRUE(orderly::test::wait_until([&] {
      auto missing = wanted;
      for (const auto& r : sim.request_log()) missing.erase({r.function, r.address});
      return missing.empty() && recorder.health().reads_ok >= wanted.size();
    })) << "not every readable point of " << GetParam() << " was read";
    const Health h = recorder.health();
    EXPECT_TRUE(h.online);
    EXPECT_EQ(h.errors, 0u) << h.last_error;
    EXPECT_EQ(h.timeouts, 0u) << h.last_error;
  }

  RealClock clock;
  sim::ModbusSimServer sim{clock};
  DeviceProfile profile;
  int unit = 1;
  Core core;
  Recorder recorder;
  std::unique_ptr<ModbusBusWorker> bus;
  ModbusDeviceOptions options;
};

TEST_P(ShippedModbusProfile, ReadsEveryPointWritesTheLimitAndSetsTheFailsafe) {
  if (profile.kind == DeviceKind::meter) {
    sim.set_meter_power(unit, 4321);
    ModbusMeter meter(options, profile, *bus, core.executor(), recorder.events(), clock);
    meter.start();
    EXPECT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) { return near(s.power_w, 4321, 0.5); }))
        << "meter power never reached the simulated 4321 W";
    expect_every_point_read();
    EXPECT_TRUE(recorder.wait_meter([](const MeterSnapshot& s) {
      return near(s.voltage_v[0], 230, 0.5) && std::isfinite(s.import_energy_wh);
    }));
    return;
  }

  const int phases = profile.capabilities.phases;
  sim.plug_car(unit, 16);
  ModbusCharger charger(options, profile, *bus, core.executor(), recorder.events(), clock);
  EXPECT_EQ(charger.capabilities().failsafe, profile.supports_failsafe());
  charger.start();
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.state == ChargerState::charging; }))
      << "charger never reported charging; last state " << to_string(recorder.last_charger().state);
  expect_every_point_read();

  if (profile.supports_failsafe() && profile.failsafe.mechanism == FailsafeMechanism::timeout_register) {
    EXPECT_TRUE(orderly::test::wait_until([&] {
      return near(sim.point_value(unit, "failsafe_current_a"), 8, 0.01) &&
             near(sim.point_value(unit, "failsafe_timeout_s"), 60, 0.01);
    })) << "failsafe registers not written at start: current " << sim.point_value(unit, "failsafe_current_a")
        << " A, timeout " << sim.point_value(unit, "failsafe_timeout_s") << " s";
  }

  const double volts = power_w_at_nominal(1.0, phases);
  charger.apply_limit(PowerLimit{10 * volts, std::chrono::seconds(60), 7});
  auto ack = recorder.wait_ack(7);
  ASSERT_TRUE(ack.has_value()) << "no acknowledgement for limit seq 7";
  EXPECT_TRUE(ack->accepted) << ack->error;
  EXPECT_TRUE(near(ack->applied_limit_w, 10 * volts, 1)) << ack->applied_limit_w;
  EXPECT_TRUE(near(sim.point_value(unit, "set_current_a"), 10, 0.01)) << sim.point_value(unit, "set_current_a");
  EXPECT_TRUE(orderly::test::wait_until([&] { return near(sim.drawn_current_a(unit), 10, 0.01); }));
  if (profile.point("power_w") != nullptr) {
    EXPECT_TRUE(recorder.wait_charger([&](const ChargerSnapshot& s) { return near(s.power_w, 10 * volts, 1); }))
        << "snapshot power never followed the 10 A limit";
  }
  if (profile.point("applied_current_a") != nullptr) {
    EXPECT_TRUE(recorder.wait_charger([&](const ChargerSnapshot& s) { return near(s.applied_limit_w, 10 * volts, 1); }));
  }

  // A session counter where the pile has one, else the lifetime counter's rise since plug-in.
  if (profile.point("session_energy_wh") != nullptr || profile.point("total_energy_wh") != nullptr) {
    EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.session_energy_wh > 0; }))
        << "no session energy; last " << recorder.last_charger().session_energy_wh << " Wh";
  }

  charger.apply_limit(PowerLimit{0, std::chrono::seconds(60), 8});
  ASSERT_TRUE(recorder.wait_ack(8).has_value());
  EXPECT_TRUE(orderly::test::wait_until([&] { return sim.drawn_current_a(unit) == 0; })) << "pause not obeyed";
  EXPECT_TRUE(recorder.wait_charger([](const ChargerSnapshot& s) { return s.state == ChargerState::plugged; }));
}

// What a pile declares about itself comes from its profile; the site's configured ratings are
// the gateway's business.
TEST(ModbusChargerCapabilities, AreDeclaredFromTheProfile) {
  RealClock clock;
  Core core;
  ModbusBusWorker bus(ModbusEndpoint::tcp("127.0.0.1", 1, ModbusSettings{}));  // never polled
  auto declared = [&](const DeviceProfile& p) {
    ModbusDeviceOptions o;
    o.id = p.id;
    return ModbusCharger(o, p, bus, core.executor(), DeviceEvents{}, clock).capabilities();
  };
  const auto dir = orderly::test::source_dir() / "drivers" / "profiles";

  auto keba = load_profile(dir / "keba-p30.toml");
  const Capabilities k = declared(keba);
  EXPECT_EQ(k.pause, PauseMethod::enable_register);
  EXPECT_TRUE(k.failsafe);
  EXPECT_TRUE(k.measures_phase_currents);
  EXPECT_EQ(k.phases, 3);
  EXPECT_DOUBLE_EQ(k.max_current_a, keba.capabilities.max_current_a);

  const Capabilities abb = declared(load_profile(dir / "abb-terra-ac.toml"));
  EXPECT_EQ(abb.pause, PauseMethod::zero_current);
  EXPECT_FALSE(abb.failsafe) << "the Terra AC has no failsafe register";
  EXPECT_TRUE(abb.measures_phase_currents);

  keba.points.erase("current_l2_a");
  EXPECT_FALSE(declared(keba).measures_phase_currents) << "a three-phase pile that reads two phase currents";
}

INSTANTIATE_TEST_SUITE_P(Profiles, ShippedModbusProfile, ::testing::ValuesIn(shipped_modbus_profiles()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace orderly::drivers

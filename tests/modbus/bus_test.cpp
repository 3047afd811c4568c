// One worker per bus: requests never overlap, the inter-request gap is respected (measured on
// the simulator's request log), devices take turns, and a silent device does not starve others.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "orderly/drivers/modbus.hpp"
#include "orderly/sim/modbus_sim.hpp"

namespace orderly::drivers {
namespace {

using testing::Core;
using testing::Recorder;

DeviceProfile shipped(const std::string& id) {
  return load_profile(orderly::test::source_dir() / "drivers" / "profiles" / (id + ".toml"));
}

class Bus : public ::testing::Test {
 protected:
  void SetUp() override {
    sdm = shipped("eastron-sdm630");
    dtsu = shipped("chint-dtsu666");
    sim.add_device(1, sdm);
    sim.add_device(2, dtsu);
    sim.start();
    ModbusSettings s;
    s.inter_request_gap_ms = 30;
    s.response_timeout_ms = 200;
    bus = std::make_unique<ModbusBusWorker>(ModbusEndpoint::tcp("127.0.0.1", sim.port(), s));
    ModbusDeviceOptions a;
    a.id = "sdm";
    a.unit_id = 1;
    a.poll_interval = std::chrono::milliseconds(0);
    ModbusDeviceOptions b = a;
    b.id = "dtsu";
    b.unit_id = 2;
    meter_a = std::make_unique<ModbusMeter>(a, sdm, *bus, core.executor(), rec_a.events(), clock);
    meter_b = std::make_unique<ModbusMeter>(b, dtsu, *bus, core.executor(), rec_b.events(), clock);
    meter_a->start();
    meter_b->start();
  }

  RealClock clock;
  sim::ModbusSimServer sim{clock};
  DeviceProfile sdm, dtsu;
  Core core;
  Recorder rec_a, rec_b;
  std::unique_ptr<ModbusBusWorker> bus;
  std::unique_ptr<ModbusMeter> meter_a, meter_b;
};

TEST_F(Bus, RequestsNeverOverlapAndKeepTheGap) {
  ASSERT_TRUE(orderly::test::wait_until([&] { return sim.request_log().size() >= 60; }));
  const auto log = sim.request_log();
  int unit1 = 0, unit2 = 0;
  for (std::size_t i = 0; i < log.size(); ++i) {
    (log[i].unit_id == 1 ? unit1 : unit2)++;
    if (i == 0) continue;
    // The next request starts only after the previous reply left, plus the bus gap.
    EXPECT_GE(log[i].received, log[i - 1].replied + std::chrono::milliseconds(30)) << "request " << i;
  }
  EXPECT_GT(unit1, 10);
  EXPECT_GT(unit2, 10);
}

TEST_F(Bus, DevicesTakeTurns) {
  ASSERT_TRUE(orderly::test::wait_until([&] { return sim.request_log().size() >= 80; }));
  // Each poll reads one device's points in a row; the unit must change between polls.
  const auto log = sim.request_log();
  int switches = 0;
  for (std::size_t i = 1; i < log.size(); ++i)
    if (log[i].unit_id != log[i - 1].unit_id) ++switches;
  const std::size_t points_per_poll = sdm.points.size() + dtsu.points.size();
  EXPECT_GE(switches, static_cast<int>(2 * log.size() / points_per_poll) - 2);
}

TEST_F(Bus, SilentDeviceDoesNotStarveTheOther) {
  ASSERT_TRUE(orderly::test::wait_until([&] { return rec_a.meter_count() > 2 && rec_b.meter_count() > 2; }));
  sim.set_no_answer(2, true);
  ASSERT_TRUE(rec_b.wait_health([](const Health& h) { return !h.online; }));
  const auto before = rec_a.meter_count();
  // The silent meter costs one 200 ms timeout every 2 s (no retries while offline); the other
  // meter's polls (12 reads with a 30 ms gap) keep coming in between.
  EXPECT_TRUE(orderly::test::wait_until([&] { return rec_a.meter_count() >= before + 5; }, std::chrono::seconds(20)))
      << "the answering meter was starved by the silent one";
  EXPECT_TRUE(rec_a.health().online);
}

}  // namespace
}  // namespace orderly::drivers

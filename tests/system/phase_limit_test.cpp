// Issue 12: per-phase limits hold. The normal Chinese community: single-phase 7 kW home piles,
// here 25 of them all wired to phase A, under a transformer whose total limit they could never
// reach but whose phase A they could overload twice over. Real Mosquitto on a free loopback
// port, simulated piles and a simulated transformer meter (per-phase power) as their own
// libmosquitto clients, the gateway core on its own thread. The verdict is what the meter
// published on phase A, as an inspector reading the real meter would judge it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int kPiles = 25;
constexpr double kPileW = 7'000;
constexpr double kLimitKw = 300;       // the total: 25 x 7 = 175 kW + base never reach it
constexpr double kPhaseALimitKw = 80;  // phase A: 175 kW of piles + its base would be 195
constexpr double kBaseW = 45'000;      // 15 kW per phase (the meter spreads it evenly)

std::string site_config(int mqtt_port, const std::filesystem::path& db) {
  std::ostringstream t;
  t << test::site_toml({.limit_kw = kLimitKw,
                        .transformer = "phase_a_limit_kw = 80\nphase_b_limit_kw = 100\nphase_c_limit_kw = 100\n",
                        .mqtt_port = mqtt_port,
                        .db = db})
    << "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n";
  for (int i = 0; i < kPiles; ++i)
    t << "[[charger]]\nid = \"a" << i + 1 << "\"\nkind = \"private\"\nhousehold = \"2-1-" << 100 + i
      << "\"\nphase = \"A\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n";
  return t.str();
}

TEST(PhaseLimit, TwentyFiveSinglePhasePilesOnPhaseAHoldThePhaseLimit) {
  test::TempDir dir;
  RealClock clock;
  auto broker = sim::MosquittoBroker::start();
  test::RunningGateway site(clock, gateway::parse_config(site_config(broker->port(), dir / "orderly.db"), "phase.toml"));
  sim::SimMqttMeter meter("tm-1", "127.0.0.1", broker->port(), clock, [](TimePoint) { return kBaseW; }, 1000ms);
  std::mutex mutex;
  std::vector<sim::MeterReading> readings;
  meter.on_reading([&](const sim::MeterReading& r) {
    std::lock_guard lock(mutex);
    readings.push_back(r);
  });
  meter.start();
  std::vector<std::unique_ptr<sim::SimMqttCharger>> piles;
  for (int i = 0; i < kPiles; ++i) {
    sim::SimChargerOptions o;
    o.id = "a" + std::to_string(i + 1);
    o.port = broker->port();
    o.max_power_w = kPileW;
    piles.push_back(std::make_unique<sim::SimMqttCharger>(o, clock));
    piles.back()->start();
  }
  // Every car wants its full power now ("charge now"): only the phase limit stands in the way.
  for (auto& p : piles) p->plug_in(100'000, kPileW);
  for (auto& p : piles)
    ASSERT_EQ(test::boost_when_plugged(site.io(), site.gateway(), p->id()), "") << p->id() << ": boost not taken";

  auto charging_w = [&] {
    double sum = 0;
    for (const auto& p : piles) sum += p->power_w();
    return sum;
  };
  // Settled: the cars take what phase A leaves them (80 - 2 margin - 15 base = 63 kW, 9 cars'
  // worth), and no more than that.
  ASSERT_TRUE(test::wait_until([&] { return charging_w() >= 55'000; }, 30s))
      << "the cars never used phase A's headroom: " << charging_w() << " W";

  // Then 15 s more. While the cars ramp up one by one, a meter sample can pair with pile
  // reports from another moment and phase A can pass its limit for a reading or two (the same
  // lag the total has, tests/system/overload_test.cpp): the promise is that no reading over the
  // limit lasts more than 2 s, and that once settled, phase A stays under it.
  const auto watch_until = steady::now() + 15s;
  ASSERT_TRUE(test::wait_until([&] { return steady::now() >= watch_until; }, 20s));
  std::vector<sim::MeterReading> seen;
  {
    std::lock_guard lock(mutex);
    seen = readings;
  }
  ASSERT_GE(seen.size(), 15u) << "the meter published too little to judge";
  std::ostringstream trace;
  std::optional<steady::time_point> over_since;
  std::chrono::milliseconds longest_over{0};
  double settled_peak_a = 0;
  for (const auto& r : seen) {
    trace << "  A " << r.power_w_phase[0] << " W, B " << r.power_w_phase[1] << " W, C " << r.power_w_phase[2]
          << " W, total " << r.power_w << " W\n";
    if (r.power_w_phase[0] > kPhaseALimitKw * 1000) {
      if (!over_since) over_since = r.published_at;
      longest_over = std::max(longest_over, std::chrono::duration_cast<std::chrono::milliseconds>(r.published_at - *over_since));
    } else {
      over_since.reset();
    }
    if (r.published_at >= watch_until - 10s) settled_peak_a = std::max(settled_peak_a, r.power_w_phase[0]);
  }
  EXPECT_LE(longest_over, 2s) << "phase A over its limit for too long:\n" << trace.str();
  EXPECT_LE(settled_peak_a, kPhaseALimitKw * 1000) << "phase A over its limit once settled:\n" << trace.str();
  EXPECT_GE(settled_peak_a, (kPhaseALimitKw - 2 - 15 - 10) * 1000) << "phase A's headroom left unused:\n" << trace.str();
  for (auto& p : piles) p->stop();
  meter.stop();
}

}  // namespace
}  // namespace orderly

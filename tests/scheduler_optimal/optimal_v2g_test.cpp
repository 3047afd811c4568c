// V2G: a bidirectional car discharges in the expensive evening when the spread to the night
// valley beats what the owner is paid, never below its reserve, and still leaves full.
#include <gtest/gtest.h>

#include <string>

#include "checks.hpp"
#include "hand_instances.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::Plan;

// Slots 0-2 sharp (1.1365), 3-7 valley (0.3071); 30 kW base load the discharge can offset.
scheduler::Problem evening_and_night(double discharge_price, double initial_kwh) {
  auto p = hourly(8, 60.0);
  p.price_per_kwh = {1.1365, 1.1365, 1.1365, 0.3071, 0.3071, 0.3071, 0.3071, 0.3071};
  p.nodes[0].base_load_kw.assign(8, 30.0);
  auto car = ev("v2g", 0, 8, 10, 7);
  car.discharge_max_kw = 7;
  car.battery_kwh = 60;
  car.initial_kwh = initial_kwh;
  car.reserve_kwh = 15;
  car.discharge_price_per_kwh = discharge_price;
  p.evs = {car};
  return p;
}

double discharged_kwh(const scheduler::Problem& p, const Plan& plan) {
  double out = 0;
  for (double kw : plan.ev_kw[0]) out += kw < 0 ? -kw * p.slot_hours() : 0;
  return out;
}

TEST(OptimalV2g, DischargesAtPeakWhenTheSpreadPays) {
  // Spread 0.8294 yuan/kWh > 0.2 paid to the owner: discharge 7 kW for 3 h (21 kWh would go
  // below the 15 kWh reserve from 30 kWh, so 15 kWh), recharge 25 kWh at night.
  const auto p = evening_and_night(0.2, 30);
  const auto plan = scheduler::plan_optimal(p);
  expect_plan_valid(p, plan, "worth it");
  EXPECT_EQ(plan.status, Plan::Status::optimal);
  EXPECT_NEAR(discharged_kwh(p, plan), 15.0, 1e-9);
  EXPECT_NEAR(scheduler::delivered_kwh(p, plan)[0], 10.0, 1e-9);
  for (int t = 0; t < 3; ++t) EXPECT_LE(plan.ev_kw[0][static_cast<std::size_t>(t)], 0.0);
}

TEST(OptimalV2g, DoesNotDischargeWhenTheOwnerCostsMoreThanTheSpread) {
  const auto p = evening_and_night(0.9, 30);
  const auto plan = scheduler::plan_optimal(p);
  expect_plan_valid(p, plan, "not worth it");
  EXPECT_EQ(discharged_kwh(p, plan), 0.0);
  EXPECT_NEAR(scheduler::delivered_kwh(p, plan)[0], 10.0, 1e-9);
}

TEST(OptimalV2g, NeverBelowReserve) {
  // Arrives at its reserve: nothing to give in the evening.
  const auto p = evening_and_night(0.2, 15);
  const auto plan = scheduler::plan_optimal(p);
  expect_plan_valid(p, plan, "at reserve");
  EXPECT_EQ(discharged_kwh(p, plan), 0.0);
}

TEST(OptimalV2g, DischargeLetsOthersChargeUnderATightFeeder) {
  // The transformer is full in slot 0 (base == limit): no room, yet the V2G neighbour
  // discharging there makes room for a charge-only car that leaves after slot 0; the V2G car
  // recharges later when there is room.
  auto p = evening_and_night(0.2, 30);
  p.nodes[0].limit_kw.assign(8, 40.0);
  p.nodes[0].base_load_kw[0] = 40.0;
  auto other = ev("leaves-early", 0, 1, 5, 7);
  p.evs.push_back(other);
  const auto plan = scheduler::plan_optimal(p);
  expect_plan_valid(p, plan, "neighbour");
  EXPECT_NEAR(scheduler::delivered_kwh(p, plan)[1], 5.0, 1e-9);
  EXPECT_LE(plan.ev_kw[0][0], -5.0 + 1e-9);
}

TEST(OptimalV2g, RandomV2gCommunitiesKeepSocWithinBounds) {
  for (int seed = 1; seed <= 6; ++seed) {
    InstanceSpec s;
    s.evs = 30;
    s.v2g_share = 0.6;
    s.root_tightness = 0.3;
    const auto p = make_instance(s, static_cast<std::uint64_t>(seed));
    const auto plan = scheduler::plan_optimal(p);
    expect_plan_valid(p, plan, "seed " + std::to_string(seed));
    const auto oracle = lp_oracle(p);
    if (oracle.all_met) {
      EXPECT_NEAR(plan_cost_yuan(p, plan.ev_kw), oracle.cost_yuan,
                  1e-6 * std::max(1.0, std::abs(oracle.cost_yuan)));
    }
  }
}

}  // namespace
}  // namespace orderly::test

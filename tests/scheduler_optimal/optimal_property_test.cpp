// Properties on random instances (seeded, deterministic) and small hand-made cases for
// priority, fairness and valley filling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "checks.hpp"
#include "hand_instances.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::OptimalOptions;
using scheduler::Plan;

TEST(OptimalProperties, RandomInstancesKeepEveryInvariant) {
  for (int seed = 1; seed <= 24; ++seed) {
    InstanceSpec s;
    s.evs = 10 + seed % 5 * 10;
    s.slots = seed % 4 == 0 ? 288 : 96;
    s.phases = seed % 3;
    s.root_tightness = 0.05 + 0.1 * (seed % 7);
    s.v2g_share = seed % 2 == 0 ? 0.3 : 0.0;
    s.priorities = 1 + seed % 3;
    s.ac_rounding = seed % 5 == 0;
    const auto p = make_instance(s, static_cast<std::uint64_t>(seed));
    for (const bool round : {false, true}) {
      OptimalOptions o;
      o.round_setpoints = round;
      const auto result = scheduler::solve_optimal(p, o);
      expect_plan_valid(p, result.plan, "seed " + std::to_string(seed) + (round ? " rounded" : ""));
      EXPECT_GE(result.rounding_loss_kwh, 0.0);
    }
  }
}

TEST(OptimalProperties, SameInputSamePlanBitForBit) {
  InstanceSpec s;
  s.evs = 60;
  s.v2g_share = 0.2;
  s.root_tightness = 0.1;
  s.priorities = 2;
  const auto p = make_instance(s, 7);
  const auto a = scheduler::plan_optimal(p);
  const auto b = scheduler::plan_optimal(p);
  EXPECT_EQ(a.ev_kw, b.ev_kw);
  EXPECT_EQ(a.charging_kw, b.charging_kw);
  EXPECT_EQ(a.status, b.status);
}

TEST(OptimalProperties, HigherPriorityIsServedFirst) {
  auto p = hourly(2, 5.0);
  p.evs = {ev("low", 0, 2, 8, 10, 1), ev("high", 0, 2, 8, 10, 2)};
  const auto plan = scheduler::plan_optimal(p);
  const auto got = scheduler::delivered_kwh(p, plan);
  EXPECT_EQ(plan.status, Plan::Status::capacity_short);
  EXPECT_NEAR(got[1], 8.0, 1e-9);
  EXPECT_NEAR(got[0], 2.0, 1e-9);
}

TEST(OptimalProperties, EqualPriorityShortageIsSharedInEqualFractions) {
  // 12 kWh of room for 8 + 16 kWh of need: each gets half its need, 4 and 8 kWh.
  auto p = hourly(2, 6.0);
  p.evs = {ev("a", 0, 2, 8, 10), ev("b", 0, 2, 16, 10)};
  const auto plan = scheduler::plan_optimal(p);
  const auto got = scheduler::delivered_kwh(p, plan);
  EXPECT_NEAR(got[0] + got[1], 12.0, 1e-9);
  EXPECT_NEAR(got[0], 4.0, 1e-3);
  EXPECT_NEAR(got[1], 8.0, 1e-3);
  EXPECT_GT(got[0], 0.0);
}

TEST(OptimalProperties, CheapestSlotsFirst) {
  auto p = hourly(4, 10.0);
  p.price_per_kwh = {1.0, 0.3, 0.6, 0.3};
  p.evs = {ev("a", 0, 4, 12, 7)};
  const auto plan = scheduler::plan_optimal(p);
  EXPECT_NEAR(plan.ev_kw[0][1] + plan.ev_kw[0][3], 12.0, 1e-9);
  EXPECT_EQ(plan.ev_kw[0][0], 0.0);
}

TEST(OptimalProperties, ValleyFillingFlattensEqualPriceSlots) {
  // Four equally priced slots with base load 8, 2, 4, 2 kW: 10 kWh of charging flattens the
  // transformer load; without valley filling any split costs the same.
  auto p = hourly(4, 20.0);
  p.nodes[0].base_load_kw = {8, 2, 4, 2};
  p.evs = {ev("a", 0, 4, 5, 7), ev("b", 0, 4, 5, 7)};
  OptimalOptions o;
  o.valley_pieces = 64;
  const auto plan = scheduler::plan_optimal(p, o);
  const auto load = scheduler::node_load_kw(p, plan);
  const double peak = *std::max_element(load[0].begin(), load[0].end());
  // Flat optimum is 6 kW in slots 1-3 (8 kW slot untouched); one piece is (20-2)/64 kW.
  EXPECT_LE(peak, 8.0 + 1e-9);
  EXPECT_NEAR(load[0][1], 6.0, 20.0 / 64 + 1e-6);
  EXPECT_NEAR(load[0][2], 6.0, 20.0 / 64 + 1e-6);
  EXPECT_NEAR(load[0][3], 6.0, 20.0 / 64 + 1e-6);
}

TEST(OptimalProperties, BaseAboveLimitLeavesNoChargingThere) {
  auto p = hourly(3, 10.0);
  p.nodes[0].base_load_kw = {12, 4, 12};
  p.evs = {ev("a", 0, 3, 10, 7)};
  const auto plan = scheduler::plan_optimal(p);
  EXPECT_EQ(plan.ev_kw[0][0], 0.0);
  EXPECT_EQ(plan.ev_kw[0][2], 0.0);
  EXPECT_NEAR(plan.ev_kw[0][1], 6.0, 1e-9);
  EXPECT_EQ(plan.status, Plan::Status::capacity_short);
}

TEST(OptimalProperties, ChildLimitsBindBelowTheRoot) {
  auto p = hourly(2, 100.0);
  p.nodes.push_back(p.nodes[0]);
  p.nodes[1].id = "feeder";
  p.nodes[1].parent = 0;
  p.nodes[1].limit_kw = {3, 3};
  p.evs = {ev("a", 0, 2, 10, 7)};
  p.evs[0].node = 1;
  const auto plan = scheduler::plan_optimal(p);
  EXPECT_NEAR(plan.ev_kw[0][0], 3.0, 1e-9);
  EXPECT_NEAR(plan.ev_kw[0][1], 3.0, 1e-9);
}

int setpoint_changes(const scheduler::Problem& p, const scheduler::Plan& plan) {
  int changes = 0;
  for (std::size_t e = 0; e < p.evs.size(); ++e)
    for (std::size_t t = 1; t < plan.ev_kw[e].size(); ++t)
      if (std::abs(plan.ev_kw[e][t] - plan.ev_kw[e][t - 1]) > 1e-9) ++changes;
  return changes;
}

TEST(OptimalProperties, SmoothingCutsSetpointChangesAndChangesNothingElse) {
  for (int seed = 1; seed <= 4; ++seed) {
    InstanceSpec s;
    s.evs = 80;
    s.root_tightness = 0.1 * seed;
    s.v2g_share = seed == 4 ? 0.3 : 0.0;
    const auto p = make_instance(s, static_cast<std::uint64_t>(seed));
    OptimalOptions raw;
    raw.round_setpoints = false;
    raw.smooth_setpoints = false;
    OptimalOptions smooth = raw;
    smooth.smooth_setpoints = true;
    const auto a = scheduler::plan_optimal(p, raw);
    const auto b = scheduler::plan_optimal(p, smooth);
    const std::string label = "seed " + std::to_string(seed);
    expect_plan_valid(p, b, label);
    const auto load_a = scheduler::node_load_kw(p, a), load_b = scheduler::node_load_kw(p, b);
    for (std::size_t n = 0; n < load_a.size(); ++n)
      for (std::size_t t = 0; t < load_a[n].size(); ++t)
        EXPECT_NEAR(load_a[n][t], load_b[n][t], 1e-9) << label << " node " << n << " slot " << t;
    const auto got_a = scheduler::delivered_kwh(p, a), got_b = scheduler::delivered_kwh(p, b);
    for (std::size_t e = 0; e < got_a.size(); ++e) EXPECT_NEAR(got_a[e], got_b[e], 1e-9) << label;
    EXPECT_NEAR(plan_cost_yuan(p, a.ev_kw), plan_cost_yuan(p, b.ev_kw), 1e-9) << label;
    EXPECT_LT(setpoint_changes(p, b), setpoint_changes(p, a)) << label;
  }
}

TEST(OptimalProperties, NoCarsAndEmptyWindowsGiveEmptyPlans) {
  auto p = hourly(3, 10.0);
  const auto none = scheduler::plan_optimal(p);
  EXPECT_TRUE(none.ev_kw.empty());
  EXPECT_EQ(none.charging_kw, std::vector<double>(3, 0.0));
  EXPECT_EQ(none.status, Plan::Status::optimal);
  p.evs = {ev("gone", 2, 2, 5, 7), ev("nothing-needed", 0, 3, 0, 7)};
  const auto plan = scheduler::plan_optimal(p);
  EXPECT_EQ(plan.ev_kw, std::vector<std::vector<double>>(2, std::vector<double>(3, 0.0)));
  EXPECT_EQ(plan.status, Plan::Status::capacity_short);
}

TEST(OptimalProperties, MalformedProblemsAreRejected) {
  auto p = hourly(2, 10.0);
  p.evs = {ev("a", 1, 5, 10, 7)};
  EXPECT_THROW(scheduler::plan_optimal(p), std::invalid_argument);
  p.evs = {ev("a", 0, 2, 10, 7)};
  p.price_per_kwh.pop_back();
  EXPECT_THROW(scheduler::plan_optimal(p), std::invalid_argument);
  p.price_per_kwh.push_back(0.5);
  p.nodes[0].limit_kw[1] = std::numeric_limits<double>::infinity();
  EXPECT_THROW(scheduler::plan_optimal(p), std::invalid_argument);
}

}  // namespace
}  // namespace orderly::test

// Rounding to what AC piles accept (0 or >= 6 A, whole amps) never breaks a limit. A remainder
// smaller than one accepted increment is placed as one increment and the surplus taken back
// from the car's other slots, so a plan ends at most one whole-amp step x slot above the
// request (exactly on it where the pile is continuous above its minimum); the remainder is
// reported lost only when no slot can take that increment under every limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "checks.hpp"
#include "hand_instances.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::OptimalOptions;
using scheduler::Plan;

bool accepted(const scheduler::EvRequest& ev, double kw) {
  if (kw == 0 || std::abs(kw - ev.max_kw) < 1e-9 || std::abs(kw - ev.min_kw) < 1e-9) return true;
  if (kw < ev.min_kw - 1e-9) return false;
  if (ev.power_step_kw <= 0) return true;
  const double steps = kw / ev.power_step_kw;
  return std::abs(steps - std::round(steps)) < 1e-6;
}

// Smallest power above kw the pile accepts (kw itself at max_kw), worked out from the
// definition of an accepted setpoint, not from the planner's code.
double next_accepted(const scheduler::EvRequest& ev, double kw) {
  if (kw >= ev.max_kw - 1e-9) return kw;
  if (kw < ev.min_kw - 1e-9) return std::min(ev.min_kw, ev.max_kw);
  if (ev.power_step_kw <= 0) return kw;
  return std::min(ev.max_kw, (std::floor(kw / ev.power_step_kw + 1e-6) + 1) * ev.power_step_kw);
}

double planned_kwh(const scheduler::Problem& p, const Plan& plan, std::size_t e) {
  double kwh = 0;
  for (double kw : plan.ev_kw[e]) kwh += kw * p.slot_hours();
  return kwh;
}

// Would raising EV e in slot t to its next accepted power keep every node on its path within
// its limit (or its base, where the base alone is above it)?
bool increment_fits(const scheduler::Problem& p, const Plan& plan, std::size_t e, std::size_t t) {
  const auto& ev = p.evs[e];
  const double add = next_accepted(ev, plan.ev_kw[e][t]) - plan.ev_kw[e][t];
  if (add <= 1e-9) return false;
  const auto load = scheduler::node_load_kw(p, plan);
  for (int n = ev.node; n >= 0; n = p.nodes[static_cast<std::size_t>(n)].parent) {
    const auto& node = p.nodes[static_cast<std::size_t>(n)];
    const double base = node.base_load_kw.empty() ? 0.0 : node.base_load_kw[t];
    if (load[static_cast<std::size_t>(n)][t] + add > std::max(node.limit_kw[t], base) + 1e-6)
      return false;
  }
  return true;
}

void expect_setpoints_accepted(const scheduler::Problem& p, const Plan& plan,
                               const std::string& label) {
  for (std::size_t e = 0; e < p.evs.size(); ++e)
    for (double kw : plan.ev_kw[e])
      EXPECT_TRUE(accepted(p.evs[e], kw)) << label << " " << p.evs[e].id << " at " << kw << " kW";
}

TEST(OptimalRounding, SetpointsAreAcceptedAndLimitsHold) {
  for (int seed = 1; seed <= 8; ++seed) {
    InstanceSpec s;
    s.evs = 40;
    s.ac_rounding = true;
    s.root_tightness = 0.1 + 0.1 * seed;
    const auto p = make_instance(s, static_cast<std::uint64_t>(seed));
    const auto continuous = solve_exact(p);
    const auto rounded = scheduler::solve_optimal(p, {});
    const std::string label = "seed " + std::to_string(seed);
    expect_plan_valid(p, rounded.plan, label);
    expect_setpoints_accepted(p, rounded.plan, label);
    EXPECT_EQ(rounded.plan.status, continuous.plan.status) << label << ": rounding decides no status";
    double before = 0, after = 0;
    for (double kwh : scheduler::delivered_kwh(p, continuous.plan)) before += kwh;
    for (double kwh : scheduler::delivered_kwh(p, rounded.plan)) after += kwh;
    EXPECT_NEAR(before - after, rounded.rounding_loss_kwh, 1e-6) << label;
    // Whole-amp steps on 15-min slots leave at most a fraction of a step per car unplaced.
    EXPECT_LE(rounded.rounding_loss_kwh, 0.25 * 1.38 * static_cast<double>(p.evs.size())) << label;
  }
}

TEST(OptimalRounding, OpeningASlotAtTheMinimumMovesPowerInsteadOfOverDelivering) {
  // The exact plan gives 7 kW in the cheap slot and 0.5 kW in the dear one; 0.5 kW is below
  // the 1.38 kW minimum. The pile gets 1.38 kW there, and the cheap slot gives back whole amps
  // until the plan is less than one step (0.23 kWh) above the 7.5 kWh: 6.21 + 1.38 kW.
  auto p = hourly(2, 100.0);
  p.price_per_kwh = {0.3, 0.6};
  auto car = ev("ac", 0, 2, 7.5, 7);
  car.min_kw = 1.38;
  car.power_step_kw = 0.23;
  p.evs = {car};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  expect_setpoints_accepted(p, result.plan, "hand");
  EXPECT_NEAR(result.plan.ev_kw[0][0], 6.21, 1e-9);
  EXPECT_NEAR(result.plan.ev_kw[0][1], 1.38, 1e-9);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  EXPECT_EQ(result.plan.status, Plan::Status::optimal);
  const double planned = planned_kwh(p, result.plan, 0);
  EXPECT_GE(planned, 7.5 - 1e-9);
  EXPECT_LE(planned, 7.5 + 0.23 + 1e-9);
  // Counted at the request, not at the ceiling: 6.21 kWh cheap, the rest dear.
  const auto k = scheduler::compute_kpi(p, result.plan);
  EXPECT_NEAR(k.energy_delivered_kwh, 7.5, 1e-9);
  EXPECT_EQ(k.sessions_met, 1);
  EXPECT_NEAR(k.cost_yuan, 6.21 * 0.3 + (7.5 - 6.21) * 0.6, 1e-9);
}

TEST(OptimalRounding, ContinuousAboveTheMinimumGetsExactlyItsRequest) {
  // The same car on a pile continuous above 1.38 kW: the dear slot opens at the minimum and
  // the cheap one gives back exactly the surplus, 6.12 + 1.38 = 7.5 kWh.
  auto p = hourly(2, 100.0);
  p.price_per_kwh = {0.3, 0.6};
  auto car = ev("ac", 0, 2, 7.5, 7);
  car.min_kw = 1.38;
  p.evs = {car};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  EXPECT_NEAR(result.plan.ev_kw[0][0], 6.12, 1e-9);
  EXPECT_NEAR(result.plan.ev_kw[0][1], 1.38, 1e-9);
  EXPECT_NEAR(planned_kwh(p, result.plan, 0), 7.5, 1e-9);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
}

TEST(OptimalRounding, ANeedBelowOneSlotAtTheMinimumIsOneSlotAtTheMinimum) {
  // 0.2 kWh on 15-minute slots with a 1.38 kW minimum (0.345 kWh a slot) has no exact plan;
  // the car gets one slot at its minimum as a ceiling rather than nothing.
  auto p = hourly(4, 100.0);
  p.slot_minutes = 15;
  auto car = ev("ac", 0, 4, 0.2, 7);
  car.min_kw = 1.38;
  p.evs = {car};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  int on = 0;
  for (double kw : result.plan.ev_kw[0])
    if (kw > 0) {
      ++on;
      EXPECT_NEAR(kw, 1.38, 1e-9);
    }
  EXPECT_EQ(on, 1);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  EXPECT_NEAR(scheduler::delivered_kwh(p, result.plan)[0], 0.2, 1e-9);
}

TEST(OptimalRounding, RemainderIsLostOnlyWhereNoIncrementFits) {
  // Same car, but only 1 kW is free in the second slot (base 7 kW under an 8 kW limit): the
  // 1.38 kW minimum would overload the transformer, so the 0.5 kWh is reported lost. The
  // continuous problem is feasible, so the status stays optimal.
  auto p = hourly(2, 100.0);
  p.price_per_kwh = {0.3, 0.6};
  p.nodes[0].limit_kw = {100, 8};
  p.nodes[0].base_load_kw = {0, 7};
  auto car = ev("ac", 0, 2, 7.5, 7);
  car.min_kw = 1.38;
  car.power_step_kw = 0.23;
  p.evs = {car};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  EXPECT_NEAR(result.plan.ev_kw[0][0], 7.0, 1e-9);
  EXPECT_EQ(result.plan.ev_kw[0][1], 0.0);
  EXPECT_NEAR(result.rounding_loss_kwh, 0.5, 1e-9);
  EXPECT_EQ(result.plan.status, Plan::Status::optimal);
  EXPECT_EQ(scheduler::compute_kpi(p, result.plan).sessions_met, 0);
}

TEST(OptimalRounding, OvershootIsLessThanOneIncrementAndTakesTheCheapestSlot) {
  // 10 kWh at whole amps (0.23 kW) on hourly slots is not a whole number of steps: the last
  // step overshoots by less than 0.23 kWh, in the cheaper of the slots that can take it.
  auto p = hourly(3, 100.0);
  p.price_per_kwh = {0.6, 0.3, 0.3};
  auto car = ev("ac", 0, 3, 10.0, 7);
  car.min_kw = 1.38;
  car.power_step_kw = 0.23;
  p.evs = {car};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  expect_setpoints_accepted(p, result.plan, "hand");
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  EXPECT_EQ(result.plan.ev_kw[0][0], 0.0) << "the dear slot is not needed";
  const double planned = planned_kwh(p, result.plan, 0);
  EXPECT_GT(planned, 10.0);
  EXPECT_LT(planned, 10.0 + 0.23);
  EXPECT_NEAR(scheduler::delivered_kwh(p, result.plan)[0], 10.0, 1e-9);
}

TEST(OptimalRounding, ANeighbourStepsAsideWhereTheNodeIsFull) {
  // An 8 kW feeder, full in the cheap slot: a one-slot car needs 4 kWh, a long-stay car takes
  // the other 4 kW there and 6 kW later. Rounded to whole amps the feeder keeps 0.18 kW free,
  // less than the one-slot car's next step: the long-stay car steps down there and up later.
  auto p = hourly(2, 100.0);
  p.price_per_kwh = {0.3, 0.6};
  p.nodes.push_back(p.nodes[0]);
  p.nodes[1].id = "feeder";
  p.nodes[1].parent = 0;
  p.nodes[1].limit_kw = {8, 8};
  auto short_stay = ev("short-stay", 0, 1, 4.0, 7);
  auto long_stay = ev("long-stay", 0, 2, 10.0, 7);
  for (auto* car : {&short_stay, &long_stay}) {
    car->node = 1;
    car->min_kw = 1.38;
    car->power_step_kw = 0.23;
  }
  p.evs = {short_stay, long_stay};
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "hand");
  expect_setpoints_accepted(p, result.plan, "hand");
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  EXPECT_EQ(result.solves, 1) << "made room without solving again";
  EXPECT_GE(result.plan.ev_kw[0][0], 4.0);
  EXPECT_LE(result.plan.ev_kw[0][0] + result.plan.ev_kw[1][0], 8.0 + 1e-9);
  EXPECT_EQ(scheduler::compute_kpi(p, result.plan).sessions_met, 2);
}

TEST(OptimalRounding, EveryFeasibleRequestIsMetOnLooseCommunities) {
  for (int seed = 1; seed <= 6; ++seed) {
    InstanceSpec s;
    s.evs = 60;
    s.ac_rounding = true;
    s.root_tightness = 1.0;
    s.dr_event = false;
    const auto p = make_instance(s, static_cast<std::uint64_t>(100 + seed));
    const auto result = scheduler::solve_optimal(p, {});
    const std::string label = "seed " + std::to_string(100 + seed);
    if (result.plan.status != Plan::Status::optimal) continue;  // capacity bound, not rounding
    expect_plan_valid(p, result.plan, label);
    expect_setpoints_accepted(p, result.plan, label);
    EXPECT_EQ(result.rounding_loss_kwh, 0.0) << label;
    const auto k = scheduler::compute_kpi(p, result.plan);
    EXPECT_EQ(k.sessions_met, k.sessions_total) << label;
    EXPECT_EQ(k.overload_slots, 0) << label;
  }
}

TEST(OptimalRounding, LossOnlyWhereNoSlotCanTakeTheNextIncrement) {
  int overshoots = 0, losses = 0;
  for (int seed = 1; seed <= 12; ++seed) {
    InstanceSpec s;
    s.evs = 50;
    s.ac_rounding = true;
    s.root_tightness = 0.05 * seed;
    s.priorities = 1 + seed % 2;
    const auto p = make_instance(s, static_cast<std::uint64_t>(200 + seed));
    const auto continuous = solve_exact(p).plan;
    const auto result = scheduler::solve_optimal(p, {});
    const std::string label = "seed " + std::to_string(200 + seed);
    expect_plan_valid(p, result.plan, label);
    expect_setpoints_accepted(p, result.plan, label);
    EXPECT_EQ(result.plan.status, continuous.status) << label;
    const auto exact_got = scheduler::delivered_kwh(p, continuous);
    const auto got = scheduler::delivered_kwh(p, result.plan);
    for (std::size_t e = 0; e < p.evs.size(); ++e) {
      const auto& ev = p.evs[e];
      if (planned_kwh(p, result.plan, e) > ev.energy_kwh + 1e-6) ++overshoots;
      const bool exact_met = exact_got[e] >= ev.energy_kwh - scheduler::kSessionMetToleranceKwh;
      if (!exact_met || got[e] >= ev.energy_kwh - scheduler::kSessionMetToleranceKwh) continue;
      ++losses;
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t)
        EXPECT_FALSE(increment_fits(p, result.plan, e, static_cast<std::size_t>(t)))
            << label << " " << ev.id << " lost " << ev.energy_kwh - got[e]
            << " kWh although slot " << t << " could take one more increment";
    }
  }
  EXPECT_GT(overshoots, 0) << "the instances exercise the overshooting increment";
  RecordProperty("losses", losses);
}

TEST(OptimalRounding, BidirectionalPilesAreLeftAsSolved) {
  // V2G piles are DC and take fine setpoints; even when they carry AC-style figures the
  // rounding (and its overshoot) must not touch them, and their counted energy is the net plan.
  InstanceSpec s;
  s.evs = 60;
  s.ac_rounding = true;
  s.v2g_share = 0.4;
  s.root_tightness = 0.3;
  auto p = make_instance(s, 31);
  int v2g = 0;
  for (auto& ev : p.evs)
    if (ev.discharge_max_kw > 0) {
      ev.min_kw = 1.38;
      ev.power_step_kw = 0.23;
      ++v2g;
    }
  ASSERT_GT(v2g, 0);
  const auto continuous = solve_exact(p).plan;
  const auto rounded = scheduler::solve_optimal(p, {}).plan;
  expect_plan_valid(p, rounded, "v2g");
  const auto got_exact = scheduler::delivered_kwh(p, continuous);
  const auto got = scheduler::delivered_kwh(p, rounded);
  for (std::size_t e = 0; e < p.evs.size(); ++e) {
    if (p.evs[e].discharge_max_kw == 0) continue;
    EXPECT_EQ(rounded.ev_kw[e], continuous.ev_kw[e]) << p.evs[e].id;
    EXPECT_NEAR(got[e], planned_kwh(p, rounded, e), 1e-9) << p.evs[e].id;
    EXPECT_NEAR(got[e], got_exact[e], 1e-9) << p.evs[e].id;
  }
}

TEST(OptimalRounding, OffGivesTheExactPlan) {
  auto p = hourly(2, 100.0);
  auto car = ev("ac", 0, 2, 7.5, 7);
  car.min_kw = 1.38;
  p.evs = {car};
  OptimalOptions o;
  o.round_setpoints = false;
  const auto result = scheduler::solve_optimal(p, o);
  EXPECT_NEAR(scheduler::delivered_kwh(p, result.plan)[0], 7.5, 1e-9);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
}

TEST(OptimalRounding, SameInputSameRoundedPlanBitForBit) {
  InstanceSpec s;
  s.evs = 80;
  s.ac_rounding = true;
  s.root_tightness = 0.2;
  s.priorities = 2;
  const auto p = make_instance(s, 5);
  const auto a = scheduler::solve_optimal(p, {});
  const auto b = scheduler::solve_optimal(p, {});
  EXPECT_EQ(a.plan.ev_kw, b.plan.ev_kw);
  EXPECT_EQ(a.rounding_loss_kwh, b.rounding_loss_kwh);
  EXPECT_EQ(a.plan.status, b.plan.status);
}

}  // namespace
}  // namespace orderly::test

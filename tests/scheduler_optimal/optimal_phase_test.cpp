// The exact planner under per-phase limits (docs/scheduler.md, "Phase limits"): against the
// GLPK oracle with phase rows, on mixed single- and three-phase sites with binding phase limits
// on the transformer and on feeders, in both the fast path (the flow's optimum keeps every
// phase) and the LP fallback.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "checks.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::OptimalOptions;
using scheduler::PhaseSet;
using scheduler::Plan;

struct Tally {
  int fast = 0;      // solved by the flow alone
  int fallback = 0;  // the phase LP decided
  int short_seeds = 0;
};

// Same cost (fits) or same delivered energy per priority and cost given the split (short) as
// the oracle, every phase within its limit.
void compare_with_oracle(const scheduler::Problem& p, const std::string& label, bool valley, Tally& tally) {
  SCOPED_TRACE(label);
  OptimalOptions o;
  o.round_setpoints = false;
  o.valley_filling = valley;
  const auto got = scheduler::solve_optimal(p, o);
  (got.lp_solves > 0 ? tally.fallback : tally.fast)++;
  // Every phase within its limit, or adding nothing where its base load alone is over it.
  expect_plan_valid(p, got.plan, label);
  const auto oracle = lp_oracle(p);
  const auto delivered = scheduler::delivered_kwh(p, got.plan);
  if (oracle.all_met) {
    EXPECT_EQ(got.plan.status, Plan::Status::optimal);
    EXPECT_NEAR(plan_cost_yuan(p, got.plan.ev_kw), oracle.cost_yuan, 1e-6 * std::max(1.0, std::abs(oracle.cost_yuan)));
    return;
  }
  ++tally.short_seeds;
  EXPECT_EQ(got.plan.status, Plan::Status::capacity_short);
  std::vector<double> by_priority(oracle.delivered_by_priority.size(), 0.0);
  double total = 0;
  for (std::size_t e = 0; e < p.evs.size(); ++e) {
    by_priority[static_cast<std::size_t>(p.evs[e].priority)] += delivered[e];
    total += delivered[e];
  }
  EXPECT_NEAR(total, oracle.delivered_kwh, 1e-6 * std::max(1.0, oracle.delivered_kwh));
  for (std::size_t q = 0; q < by_priority.size(); ++q)
    EXPECT_NEAR(by_priority[q], oracle.delivered_by_priority[q], 1e-6 * std::max(1.0, oracle.delivered_by_priority[q]))
        << "priority " << q;
  const double given = lp_min_cost_given(p, delivered);
  EXPECT_NEAR(plan_cost_yuan(p, got.plan.ev_kw), given, 1e-6 * std::max(1.0, std::abs(given)));
}

InstanceSpec mixed(int evs, double phase_tightness, bool feeders) {
  InstanceSpec s;
  s.evs = evs;
  s.single_phase_share = 0.6;
  s.any_one_share = 0.2;
  s.phase_tightness = phase_tightness;
  s.feeder_phase_limits = feeders;
  return s;
}

TEST(OptimalPhases, MixedSitesWithBindingPhaseLimitsMatchTheOracle) {
  Tally tally;
  for (const bool feeders : {false, true})
    for (const double tightness : {1.3, 1.6})
      for (int seed = 1; seed <= 4; ++seed) {
        const auto p = make_instance(mixed(24, tightness, feeders), static_cast<std::uint64_t>(seed));
        compare_with_oracle(p, "tightness " + std::to_string(tightness) + (feeders ? " feeders" : "") + " seed " + std::to_string(seed),
                            seed % 2 == 0, tally);
      }
  EXPECT_GT(tally.fallback, 4) << "binding phase limits must exercise the LP";
  EXPECT_GT(16 - tally.short_seeds, 3) << "and seeds that fit, where the cost is compared; fallback " << tally.fallback;
}

TEST(OptimalPhases, CapacityShortWithPrioritiesMatchesTheOracle) {
  Tally tally;
  for (int seed = 1; seed <= 6; ++seed) {
    auto spec = mixed(30, 0.75, true);
    spec.root_tightness = 0.3;
    spec.priorities = 3;
    compare_with_oracle(make_instance(spec, static_cast<std::uint64_t>(seed)), "short seed " + std::to_string(seed), true, tally);
  }
  EXPECT_GT(tally.short_seeds, 3);
  EXPECT_GT(tally.fallback, 0);
}

TEST(OptimalPhases, LooseOrBalancedPhaseLimitsTakeTheFastPath) {
  Tally tally;
  for (int seed = 1; seed <= 6; ++seed) {
    // Loose phase limits: the flow's optimum keeps them, and that proves it optimal.
    compare_with_oracle(make_instance(mixed(24, 3.0, true), static_cast<std::uint64_t>(seed)), "loose seed " + std::to_string(seed),
                        true, tally);
  }
  EXPECT_EQ(tally.fallback, 0);
  EXPECT_EQ(tally.fast, 6);
}

TEST(OptimalPhases, V2gUnderPhaseLimitsMatchesTheOracle) {
  Tally tally;
  for (int seed = 1; seed <= 4; ++seed) {
    auto spec = mixed(16, 0.9, true);
    spec.v2g_share = 0.3;
    compare_with_oracle(make_instance(spec, static_cast<std::uint64_t>(seed)), "v2g seed " + std::to_string(seed), false, tally);
  }
  EXPECT_GT(tally.fast + tally.fallback, 0);
}

TEST(OptimalPhases, RoundedSetpointsKeepEveryPhaseLimit) {
  for (int seed = 1; seed <= 6; ++seed) {
    auto spec = mixed(24, 0.9, true);
    spec.ac_rounding = true;
    const auto p = make_instance(spec, static_cast<std::uint64_t>(seed));
    const auto got = scheduler::solve_optimal(p);
    expect_plan_valid(p, got.plan, "rounded seed " + std::to_string(seed));
    EXPECT_EQ(scheduler::compute_kpi(p, got.plan).overload_slots, 0) << "seed " << seed;
  }
}

// 25 single-phase 7 kW piles on phase A (the case): the total has room, phase A not.
TEST(OptimalPhases, SinglePhasePilesOnOnePhaseHoldThatPhase) {
  scheduler::Problem p;
  p.slots = 4;
  p.slot_minutes = 60;
  scheduler::CapacityNode root;
  root.id = "transformer";
  root.limit_kw.assign(4, 400);
  root.base_load_kw.assign(4, 60);
  for (auto& limit : root.phase_limit_kw) limit.assign(4, 100);
  p.nodes.push_back(root);
  p.price_per_kwh = {0.3, 0.3, 1.0, 1.0};
  p.period.assign(4, scheduler::Period::flat);
  for (int i = 0; i < 25; ++i) {
    scheduler::EvRequest ev;
    ev.id = "a-" + std::to_string(i);
    ev.departure_slot = 4;
    ev.energy_kwh = 12;
    ev.max_kw = 7;
    ev.phases = PhaseSet::a;
    p.evs.push_back(ev);
  }
  OptimalOptions o;
  o.round_setpoints = false;
  const auto got = scheduler::solve_optimal(p, o);
  expect_plan_valid(p, got.plan, "phase A");
  // Phase A: 100 - 20 base = 80 kW per slot; 300 kWh wanted: the two cheap slots are full, the
  // rest in the dear ones.
  const auto load = scheduler::node_phase_load_kw(p, got.plan);
  EXPECT_NEAR(load[0][0][0], 100, 1e-6);
  EXPECT_NEAR(load[0][0][1], 100, 1e-6);
  EXPECT_NEAR(load[0][1][0], 20, 1e-6) << "phase B carries its base only";
  EXPECT_EQ(got.plan.status, Plan::Status::optimal);
  EXPECT_NEAR(plan_cost_yuan(p, got.plan.ev_kw), lp_oracle(p).cost_yuan, 1e-6);
}

TEST(OptimalPhases, AnIterationLimitStopsTheLpWithAClearError) {
  const auto p = make_instance(mixed(24, 0.9, true), 1);
  OptimalOptions o;
  o.round_setpoints = false;
  ASSERT_GT(scheduler::solve_optimal(p, o).lp_solves, 0) << "the case must need the LP";
  o.phase_lp_iteration_limit = 10;
  EXPECT_THROW(scheduler::solve_optimal(p, o), std::runtime_error);
}

// Without phase limits the phases of the loads change nothing: the same code path, bit for bit.
TEST(OptimalPhases, WithoutPhaseLimitsPlansAreBitIdentical) {
  for (int seed = 1; seed <= 4; ++seed) {
    auto spec = mixed(40, 0, false);
    spec.ac_rounding = true;
    const auto with_phases = make_instance(spec, static_cast<std::uint64_t>(seed));
    auto all_three = with_phases;
    for (auto& ev : all_three.evs) ev.phases = PhaseSet::abc;
    const auto a = scheduler::solve_optimal(with_phases);
    const auto b = scheduler::solve_optimal(all_three);
    EXPECT_EQ(a.plan.ev_kw, b.plan.ev_kw) << "seed " << seed;
    EXPECT_EQ(a.lp_solves, 0);
  }
}

}  // namespace
}  // namespace orderly::test

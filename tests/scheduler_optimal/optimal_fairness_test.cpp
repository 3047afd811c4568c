// Capacity short: the planner's split is the lexicographically max-min fair one (the smallest
// served fraction delivered / need as large as possible, then the next, ...), priority by
// priority, checked against the GLPK oracle's progressive filling on random communities.
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

using scheduler::Plan;

// Shares are whole Wh, floored; what the floors leave goes to whoever can take it, a few Wh
// per bounding set.
constexpr double kShareToleranceKwh = 0.02;

void expect_max_min_fair(const scheduler::Problem& p, const std::string& label) {
  SCOPED_TRACE(label);
  const auto result = solve_exact(p);
  expect_plan_valid(p, result.plan, label);
  const auto got = scheduler::delivered_kwh(p, result.plan);
  const auto fair = lp_max_min_fair(p);
  for (std::size_t e = 0; e < p.evs.size(); ++e)
    EXPECT_NEAR(got[e], fair[e], kShareToleranceKwh)
        << p.evs[e].id << " priority " << p.evs[e].priority << " need " << p.evs[e].energy_kwh;
}

TEST(OptimalFairness, RandomShortCommunitiesAreMaxMinFairAgainstTheOracle) {
  int short_seeds = 0;
  for (int seed = 1; seed <= 8; ++seed) {
    InstanceSpec s;
    s.evs = 12;
    s.root_tightness = 0.02 * seed;
    s.priorities = 1 + seed % 2;
    const auto p = make_instance(s, static_cast<std::uint64_t>(600 + seed));
    if (solve_exact(p).plan.status == Plan::Status::capacity_short) ++short_seeds;
    expect_max_min_fair(p, "seed " + std::to_string(600 + seed));
  }
  EXPECT_GE(short_seeds, 6) << "the instances are capacity short";
}

TEST(OptimalFairness, FeedersOfDifferentTightnessGiveDifferentLevels) {
  // Root only binds loosely; the feeders bind at different depths, so the fair split has
  // several levels, each found and frozen in its own round.
  for (int seed = 1; seed <= 4; ++seed) {
    InstanceSpec s;
    s.evs = 14;
    s.root_tightness = 0.15;
    auto p = make_instance(s, static_cast<std::uint64_t>(700 + seed));
    for (std::size_t n = 1; n < p.nodes.size(); ++n)
      for (auto& kw : p.nodes[n].limit_kw) kw *= 0.3 + 0.1 * static_cast<double>(n % 5);
    expect_max_min_fair(p, "feeders seed " + std::to_string(700 + seed));
  }
}

TEST(OptimalFairness, ACarCappedByItsOwnWindowLeavesTheRestToTheOthers) {
  // 12 kWh over two hours for three cars of 8 kWh: the one that can only charge 1 kW for an
  // hour gets its 1 kWh (its most); the other two share the 11 kWh left, 5.5 each.
  auto p = hourly(2, 6.0);
  p.evs = {ev("a", 0, 2, 8, 10), ev("b", 0, 2, 8, 10), ev("short", 0, 1, 8, 1)};
  const auto got = scheduler::delivered_kwh(p, solve_exact(p).plan);
  EXPECT_NEAR(got[2], 1.0, 1e-9);
  EXPECT_NEAR(got[0], 5.5, 1e-3);
  EXPECT_NEAR(got[1], 5.5, 1e-3);
}

TEST(OptimalFairness, V2gCommunitiesShortOfCapacityStayFair) {
  for (int seed = 1; seed <= 3; ++seed) {
    InstanceSpec s;
    s.evs = 10;
    s.root_tightness = 0.05;
    s.v2g_share = 0.3;
    expect_max_min_fair(make_instance(s, static_cast<std::uint64_t>(800 + seed)),
                        "v2g seed " + std::to_string(800 + seed));
  }
}

}  // namespace
}  // namespace orderly::test

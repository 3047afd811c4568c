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

// Shares are whole Wh, floored; what the floors leave (under 1 Wh per car of a bounding set)
// goes to whoever can take it, so one car may get up to 1 Wh per car of the community more.
double share_tolerance_kwh(const scheduler::Problem& p) {
  return std::max(0.02, 0.001 * static_cast<double>(p.evs.size()));
}

void expect_max_min_fair(const scheduler::Problem& p, const std::string& label) {
  SCOPED_TRACE(label);
  const auto result = solve_exact(p);
  expect_plan_valid(p, result.plan, label);
  const auto got = scheduler::delivered_kwh(p, result.plan);
  const auto fair = lp_max_min_fair(p);
  for (std::size_t e = 0; e < p.evs.size(); ++e)
    EXPECT_NEAR(got[e], fair[e], share_tolerance_kwh(p))
        << p.evs[e].id << " priority " << p.evs[e].priority << " need " << p.evs[e].energy_kwh;
}

// Eight random communities from `instance(seed)`, 1..8, most of them capacity short.
template <typename MakeInstance>
void expect_random_short_communities_fair(const std::string& label, MakeInstance instance) {
  int short_seeds = 0;
  for (int seed = 1; seed <= 8; ++seed) {
    const scheduler::Problem p = instance(seed);
    if (solve_exact(p).plan.status == Plan::Status::capacity_short) ++short_seeds;
    expect_max_min_fair(p, label + " seed " + std::to_string(seed));
  }
  EXPECT_GE(short_seeds, 6) << "the instances are capacity short";
}

TEST(OptimalFairness, RandomShortCommunitiesAreMaxMinFairAgainstTheOracle) {
  expect_random_short_communities_fair("random", [](int seed) {
    InstanceSpec s;
    s.evs = 12;
    s.root_tightness = 0.02 * seed;
    s.priorities = 1 + seed % 2;
    return make_instance(s, static_cast<std::uint64_t>(600 + seed));
  });
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

// Cars in groups of identical windows, needs and piles (and groups that share a window but not
// a need) bound the fraction together: whole sets tie at each level and freeze in one round.
scheduler::Problem with_ties(const InstanceSpec& spec, std::uint64_t seed, int copies) {
  auto p = make_instance(spec, seed);
  const auto originals = p.evs;
  for (std::size_t e = 0; e < originals.size(); ++e)
    for (int c = 1; c < copies + static_cast<int>(e % 2); ++c) {
      auto copy = originals[e];
      copy.id += "-copy" + std::to_string(c);
      // Every other copy asks twice as much over the same window: the same fraction is then
      // twice the energy, a tie in the served fraction but not in kWh.
      if (c % 2 == 0) copy.energy_kwh *= 2;
      p.evs.push_back(copy);
    }
  return p;
}

TEST(OptimalFairness, RandomCommunitiesWithManyTiesAreMaxMinFairAgainstTheOracle) {
  expect_random_short_communities_fair("ties", [](int seed) {
    InstanceSpec s;
    s.evs = 5;
    s.root_tightness = 0.03 * seed;
    s.priorities = 1 + seed % 3;
    return with_ties(s, static_cast<std::uint64_t>(900 + seed), 3);
  });
}

TEST(OptimalFairness, ABenchmarkShapedDayWithManyLevelsIsMaxMinFair) {
  // The capacity-short benchmark's shape (limit = base peak, evening arrivals) at 120 EVs: many
  // levels, so the search's later rounds start from bounds found in earlier ones.
  InstanceSpec s;
  s.evs = 120;
  s.root_tightness = 0.0;
  s.use_trondheim = true;
  expect_max_min_fair(make_instance(s, 42), "benchmark shape");
}

TEST(OptimalFairness, IdenticalCarsShareExactlyEqually) {
  // 10 kWh for four identical cars of 5 kWh each: 2.5 each, whatever order they are listed in.
  auto p = hourly(2, 5.0);
  p.evs = {ev("a", 0, 2, 5, 7), ev("b", 0, 2, 5, 7), ev("c", 0, 2, 5, 7), ev("d", 0, 2, 5, 7)};
  const auto got = scheduler::delivered_kwh(p, solve_exact(p).plan);
  for (double kwh : got) EXPECT_NEAR(kwh, 2.5, 1e-3);
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

// The shipped scenarios (docs/examples) through the scenario parser and the exact planner with
// its default rounding: a feasible community is planned optimal, every request met, nothing
// lost to rounding, no limit exceeded.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "checks.hpp"
#include "orderly/gateway/scenario.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"

namespace orderly::test {
namespace {

scheduler::Problem example(const std::string& name) {
  const std::string path = std::string(ORDERLY_EXAMPLES_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return gateway::parse_scenario(text.str(), path);
}

TEST(OptimalExamples, FeederIsOptimalWithNothingLostToRounding) {
  const auto p = example("feeder.json");
  bool rounded_piles = false;
  for (const auto& ev : p.evs) rounded_piles = rounded_piles || ev.min_kw > 0;
  ASSERT_TRUE(rounded_piles) << "feeder.json exercises the rounding (min_kw on AC piles)";
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "feeder.json");
  EXPECT_EQ(result.plan.status, scheduler::Plan::Status::optimal);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  const auto k = scheduler::compute_kpi(p, result.plan);
  EXPECT_EQ(k.sessions_met, k.sessions_total);
  EXPECT_NEAR(k.energy_delivered_kwh, k.energy_requested_kwh, 1e-6);
  EXPECT_EQ(k.overload_slots, 0);
}

TEST(OptimalExamples, V2gExampleIsOptimalAndMet) {
  const auto p = example("v2g.json");
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "v2g.json");
  EXPECT_EQ(result.plan.status, scheduler::Plan::Status::optimal);
  EXPECT_EQ(result.rounding_loss_kwh, 0.0);
  const auto k = scheduler::compute_kpi(p, result.plan);
  EXPECT_EQ(k.sessions_met, k.sessions_total);
}

TEST(OptimalExamples, CapacityShortStaysShortWithoutOverload) {
  const auto p = example("capacity-short.json");
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "capacity-short.json");
  EXPECT_EQ(result.plan.status, scheduler::Plan::Status::capacity_short);
  EXPECT_EQ(scheduler::compute_kpi(p, result.plan).overload_slots, 0);
}

// 25 single-phase piles on phase A: the total has room, phase A does not. Uncontrolled, phase
// A overloads at the evening peak; the exact plan keeps every phase and serves every car.
TEST(OptimalExamples, PhasesExampleKeepsEveryPhaseAndMeetsEveryRequest) {
  const auto p = example("phases.json");
  const auto result = scheduler::solve_optimal(p, {});
  expect_plan_valid(p, result.plan, "phases.json");
  EXPECT_EQ(result.plan.status, scheduler::Plan::Status::optimal);
  const auto kpi = scheduler::compute_kpi(p, result.plan);
  EXPECT_EQ(kpi.overload_slots, 0);
  EXPECT_EQ(kpi.sessions_met, kpi.sessions_total);
  EXPECT_GT(scheduler::compare_with_uncontrolled(p, result.plan).uncontrolled.overload_slots, 0);
}

}  // namespace
}  // namespace orderly::test

#include "orderly/scheduler/validate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_problems.hpp"

namespace orderly::scheduler {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::make_ev;
using testing::make_problem;

TEST(Validate, AWellFormedProblemHasNoProblems) {
  auto p = make_problem(4, 10.0, {5.0});
  p.evs = {make_ev("a", 0, 4, 10.0, 7.0, 1)};
  EXPECT_TRUE(problems(p).empty());
}

TEST(Validate, FirstSlotFractionIsThePartOfSlotZeroAhead) {
  auto p = make_problem(4, 10.0);
  for (const double bad : {0.0, -0.5, 1.5}) {
    p.first_slot_fraction = bad;
    EXPECT_THAT(problems(p), Contains(HasSubstr("first_slot_fraction"))) << bad;
  }
  p.first_slot_fraction = 0.25;
  EXPECT_TRUE(problems(p).empty());
}

TEST(Validate, NamesTheEvAndTheField) {
  auto p = make_problem(96, 10.0);
  for (int i = 0; i < 4; ++i) p.evs.push_back(make_ev("ev-" + std::to_string(i + 1), 0, 10, 5, 7));
  p.evs[3].arrival_slot = 20;
  p.evs[2].energy_kwh = -3;
  p.evs[1].node = 5;
  p.evs[0].id = "ev-4";
  const auto found = problems(p);
  EXPECT_THAT(found, Contains(std::string("evs[3] (id \"ev-4\"): departure_slot 10 is before arrival_slot 20")));
  EXPECT_THAT(found, Contains(HasSubstr("evs[2] (id \"ev-3\"): energy_kwh -3")));
  EXPECT_THAT(found, Contains(HasSubstr("evs[1] (id \"ev-2\"): node index 5")));
  EXPECT_THAT(found, Contains(HasSubstr("evs[3] (id \"ev-4\"): duplicate id")));
}

TEST(Validate, LengthsAndTreeShape) {
  auto p = make_problem(4, 10.0, {5.0});
  p.price_per_kwh.pop_back();
  p.nodes[1].parent = 1;
  p.nodes[1].base_load_kw = {1, 2};
  const auto found = problems(p);
  EXPECT_THAT(found, Contains(HasSubstr("price_per_kwh: has 3 values, expected slots = 4")));
  EXPECT_THAT(found, Contains(HasSubstr("(id \"feeder-1\"): parent 1 must name an earlier node")));
  EXPECT_THAT(found, Contains(HasSubstr("base_load_kw has 2 values")));
}

TEST(Validate, PhaseLimitsAndPhaseBaseLoads) {
  auto p = make_problem(2, 10.0, {5.0});
  p.nodes[0].phase_limit_kw[1] = {4};
  p.nodes[1].phase_limit_kw[2] = {4, -1};
  p.nodes[1].base_load_phase_kw[0] = {1, 1};
  const auto found = problems(p);
  EXPECT_THAT(found, Contains(HasSubstr("(id \"transformer\"): phase_limit_kw B has 1 values, expected 2")));
  EXPECT_THAT(found, Contains(HasSubstr("(id \"feeder-1\"): phase_limit_kw C[1] must be a finite number >= 0")));
  EXPECT_THAT(found, Contains(HasSubstr("(id \"feeder-1\"): base_load_phase_kw must give all three phases or none")));
}

TEST(Validate, BatteryBoundsForV2g) {
  auto p = make_problem(4, 10.0);
  p.evs = {make_ev("v", 0, 4, 30, 7)};
  p.evs[0].discharge_max_kw = 5;
  p.evs[0].battery_kwh = 40;
  p.evs[0].initial_kwh = 20;
  p.evs[0].min_kw = 9;
  const auto found = problems(p);
  EXPECT_THAT(found, Contains(HasSubstr("exceeds battery_kwh 40")));
  EXPECT_THAT(found, Contains(HasSubstr("min_kw 9 is above max_kw 7")));
}

}  // namespace
}  // namespace orderly::scheduler

#include "orderly/scheduler/baselines.hpp"

#include <gtest/gtest.h>

#include <random>

#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/plan.hpp"
#include "test_problems.hpp"

namespace orderly::scheduler {
namespace {

using testing::make_ev;
using testing::make_problem;

TEST(Uncontrolled, ChargesAtFullPowerFromArrivalIgnoringLimits) {
  auto p = make_problem(6, 5.0);
  p.evs = {make_ev("a", 1, 6, 10.0, 4.0), make_ev("b", 1, 6, 3.0, 7.0)};
  const auto plan = plan_uncontrolled(p);
  EXPECT_EQ(plan.ev_kw[0], (std::vector<double>{0, 4, 4, 2, 0, 0}));
  EXPECT_EQ(plan.ev_kw[1], (std::vector<double>{0, 3, 0, 0, 0, 0}));
  EXPECT_EQ(plan.status, Plan::Status::optimal);
  EXPECT_EQ(plan.kpi.overload_slots, 1) << "slot 1 draws 7 kW against a 5 kW limit";
  EXPECT_DOUBLE_EQ(plan.kpi.peak_kw, 7.0);
  EXPECT_EQ(plan.charging_kw, (std::vector<double>{0, 7, 4, 2, 0, 0}));
}

TEST(Uncontrolled, ShortWindowLeavesTheSessionUnmet) {
  auto p = make_problem(4, 100.0);
  p.evs = {make_ev("a", 2, 4, 20.0, 7.0)};
  const auto plan = plan_uncontrolled(p);
  EXPECT_EQ(plan.status, Plan::Status::capacity_short);
  EXPECT_EQ(plan.kpi.sessions_met, 0);
  EXPECT_DOUBLE_EQ(plan.kpi.energy_delivered_kwh, 14.0);
}

TEST(Edf, EarliestDeparturePlacedFirstUnderTheRootLimit) {
  auto p = make_problem(4, 7.0);
  p.evs = {make_ev("late", 0, 4, 14.0, 7.0), make_ev("early", 0, 2, 14.0, 7.0)};
  const auto plan = plan_edf(p);
  EXPECT_EQ(plan.ev_kw[1], (std::vector<double>{7, 7, 0, 0}));
  EXPECT_EQ(plan.ev_kw[0], (std::vector<double>{0, 0, 7, 7}));
  EXPECT_EQ(plan.status, Plan::Status::optimal);
  EXPECT_EQ(plan.kpi.overload_slots, 0);
}

TEST(Edf, FeederLimitBindsBelowTheRoot) {
  auto p = make_problem(2, 100.0, {5.0});
  p.evs = {make_ev("a", 0, 2, 14.0, 7.0, 1), make_ev("b", 0, 2, 14.0, 7.0, 0)};
  const auto plan = plan_edf(p);
  EXPECT_EQ(plan.ev_kw[0], (std::vector<double>{5, 5}));
  EXPECT_EQ(plan.ev_kw[1], (std::vector<double>{7, 7}));
  EXPECT_EQ(plan.status, Plan::Status::capacity_short);
  EXPECT_EQ(plan.kpi.sessions_met, 1);
}

TEST(Edf, BaseLoadTakesHeadroomFirst) {
  auto p = make_problem(2, 10.0);
  p.nodes[0].base_load_kw = {8.0, 2.0};
  p.evs = {make_ev("a", 0, 2, 9.0, 7.0)};
  const auto plan = plan_edf(p);
  EXPECT_EQ(plan.ev_kw[0], (std::vector<double>{2, 7}));
}

TEST(Edf, MinimumPowerSwitchesOffInsteadOfTrickling) {
  auto p = make_problem(2, 5.0);
  p.evs = {make_ev("a", 0, 2, 8.0, 4.0), make_ev("b", 0, 2, 8.0, 7.0)};
  p.evs[1].min_kw = 1.4;
  p.evs[1].departure_slot = 2;
  p.evs[0].departure_slot = 1;  // a first: leaves 1 kW, below b's minimum
  p.evs[0].energy_kwh = 4.0;
  const auto plan = plan_edf(p);
  EXPECT_EQ(plan.ev_kw[0], (std::vector<double>{4, 0}));
  EXPECT_EQ(plan.ev_kw[1], (std::vector<double>{0, 5}));
}

TEST(Edf, LastFractionMayBeBelowTheMinimum) {
  auto p = make_problem(3, 50.0);
  p.evs = {make_ev("a", 0, 3, 7.5, 7.0)};
  p.evs[0].min_kw = 1.4;
  const auto plan = plan_edf(p);
  EXPECT_NEAR(plan.ev_kw[0][1], 0.5, 1e-12);
  EXPECT_EQ(plan.status, Plan::Status::optimal);
}

TEST(Edf, PhaseLimitsBindByEachPilesShare) {
  // Phase A: limit 9, base 3 (a third of 9): 6 kW for phase-A loads; the three-phase car takes
  // a third of its power from A as well.
  auto p = make_problem(1, 100.0);
  p.nodes[0].base_load_kw = {9};
  p.nodes[0].phase_limit_kw[0] = {9};
  p.evs = {make_ev("abc", 0, 1, 6.0, 6.0), make_ev("a", 0, 1, 7.0, 7.0), make_ev("b", 0, 1, 7.0, 7.0)};
  p.evs[1].phases = PhaseSet::a;
  p.evs[2].phases = PhaseSet::b;
  const auto plan = plan_edf(p);
  EXPECT_DOUBLE_EQ(plan.ev_kw[0][0], 6.0);
  EXPECT_DOUBLE_EQ(plan.ev_kw[1][0], 4.0) << "phase A: 6 - 6/3";
  EXPECT_DOUBLE_EQ(plan.ev_kw[2][0], 7.0);
  EXPECT_EQ(compute_kpi(p, plan).overload_slots, 0);
}

TEST(Llf, TightCarBeforeLooseCarWithTheSameDeparture) {
  auto p = make_problem(4, 7.0);
  // Same departure: EDF keeps list order (the loose car first); LLF sees the tight one.
  p.evs = {make_ev("loose", 0, 4, 7.0, 7.0), make_ev("tight", 0, 4, 21.0, 7.0)};
  const auto edf = plan_edf(p);
  const auto llf = plan_llf(p);
  EXPECT_EQ(edf.kpi.sessions_met, 2);
  EXPECT_EQ(llf.ev_kw[1][0], 7.0);
  EXPECT_EQ(llf.ev_kw[0][0], 0.0);
  EXPECT_EQ(llf.kpi.sessions_met, 2);
}

TEST(Llf, BeatsEdfWhenTheLaterCarHasNoSlack) {
  auto p = make_problem(4, 10.0);
  // "soon" leaves first but has slack; "full" needs its whole window at 7 kW. EDF serves
  // "soon" at full power in slot 0, leaving "full" 3 kWh short; LLF serves "full" first.
  p.evs = {make_ev("soon", 0, 3, 6.0, 10.0), make_ev("full", 0, 4, 28.0, 7.0)};
  const auto edf = plan_edf(p);
  const auto llf = plan_llf(p);
  EXPECT_EQ(edf.kpi.sessions_met, 1);
  EXPECT_EQ(edf.status, Plan::Status::capacity_short);
  EXPECT_EQ(llf.kpi.sessions_met, 2);
  EXPECT_EQ(llf.status, Plan::Status::optimal);
  EXPECT_EQ(llf.kpi.overload_slots, 0);
}

TEST(Baselines, RespectLimitsOnRandomProblemsAndMakePlanCompletesThem) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int round = 0; round < 50; ++round) {
    auto p = make_problem(24, 40 + 60 * u(rng), {20 + 30 * u(rng), 20 + 30 * u(rng)});
    for (auto& n : p.nodes) {
      n.base_load_kw.resize(24);
      for (auto& b : n.base_load_kw) b = 10 * u(rng);
    }
    p.nodes[0].base_load_kw.assign(24, 25.0);
    for (int i = 0; i < 20; ++i) {
      const int a = static_cast<int>(u(rng) * 20);
      auto ev = make_ev("ev-" + std::to_string(i), a, a + 1 + static_cast<int>(u(rng) * (24 - a - 1)), 30 * u(rng),
                        3.5 + 7 * u(rng), static_cast<int>(u(rng) * 3));
      ev.min_kw = u(rng) < 0.5 ? 1.4 : 0.0;
      p.evs.push_back(ev);
    }
    for (const auto algo : {Algorithm::edf, Algorithm::llf}) {
      const auto plan = make_plan(p, algo);
      EXPECT_EQ(plan.kpi.overload_slots, 0) << to_string(algo) << " round " << round;
      const auto delivered = delivered_kwh(p, plan);
      for (std::size_t i = 0; i < p.evs.size(); ++i) {
        EXPECT_LE(delivered[i], p.evs[i].energy_kwh + 1e-9);
        for (int t = 0; t < p.slots; ++t) {
          const double kw = plan.ev_kw[i][static_cast<std::size_t>(t)];
          EXPECT_GE(kw, 0.0);
          EXPECT_LE(kw, p.evs[i].max_kw + 1e-9);
          if (t < p.evs[i].arrival_slot || t >= p.evs[i].departure_slot) {
            EXPECT_EQ(kw, 0.0);
          }
        }
      }
      EXPECT_EQ(plan.charging_kw, total_charging_kw(p, plan));
    }
  }
}

TEST(MakePlan, ParsesAlgorithmNames) {
  EXPECT_EQ(parse_algorithm("optimal"), Algorithm::optimal);
  EXPECT_EQ(parse_algorithm("uncontrolled"), Algorithm::uncontrolled);
  EXPECT_EQ(parse_algorithm("edf"), Algorithm::edf);
  EXPECT_EQ(parse_algorithm("llf"), Algorithm::llf);
  EXPECT_FALSE(parse_algorithm("greedy"));
  EXPECT_STREQ(to_string(Period::valley), "valley");
  EXPECT_STREQ(to_string(Period::sharp), "sharp");
}

TEST(MakePlan, OptimalMeetsEveryLimitOnAFeasibleProblem) {
  auto p = make_problem(8, 10.0, {6.0});
  p.evs = {make_ev("a", 0, 8, 20.0, 7.0, 1), make_ev("b", 0, 8, 20.0, 7.0)};
  const auto plan = make_plan(p, Algorithm::optimal);
  EXPECT_EQ(plan.status, Plan::Status::optimal);
  EXPECT_EQ(plan.kpi.sessions_met, 2);
  EXPECT_EQ(plan.kpi.overload_slots, 0);
}

}  // namespace
}  // namespace orderly::scheduler

#include "orderly/scheduler/kpi.hpp"

#include <gtest/gtest.h>

#include "orderly/scheduler/baselines.hpp"
#include "test_problems.hpp"

namespace orderly::scheduler {
namespace {

using testing::make_ev;
using testing::make_problem;

TEST(Kpi, EnergyCostValleyShareAndSessionsFromAHandMadePlan) {
  auto p = make_problem(4, 20.0);
  p.price_per_kwh = {0.3, 0.3, 0.6, 1.0};
  p.period = {Period::valley, Period::valley, Period::flat, Period::peak};
  p.evs = {make_ev("home", 0, 4, 10.0, 7.0), make_ev("shared", 0, 4, 8.0, 7.0)};
  p.evs[1].is_private = false;
  Plan plan;
  plan.ev_kw = {{5, 5, 0, 0}, {0, 0, 4, 2}};
  const auto k = compute_kpi(p, plan);
  EXPECT_DOUBLE_EQ(k.energy_requested_kwh, 18.0);
  EXPECT_DOUBLE_EQ(k.energy_delivered_kwh, 16.0);
  EXPECT_EQ(k.sessions_total, 2);
  EXPECT_EQ(k.sessions_met, 1);
  EXPECT_DOUBLE_EQ(k.cost_yuan, 10 * 0.3 + 4 * 0.6 + 2 * 1.0);
  EXPECT_DOUBLE_EQ(k.valley_share, 10.0 / 16.0);
  EXPECT_DOUBLE_EQ(k.valley_share_private, 1.0);
  EXPECT_DOUBLE_EQ(k.peak_kw, 5.0);
  EXPECT_EQ(k.overload_slots, 0);
}

TEST(Kpi, HalfHourSlotsHalveEnergy) {
  auto p = make_problem(2, 20.0);
  p.slot_minutes = 30;
  p.evs = {make_ev("a", 0, 2, 7.0, 7.0)};
  Plan plan;
  plan.ev_kw = {{7, 7}};
  const auto k = compute_kpi(p, plan);
  EXPECT_DOUBLE_EQ(k.energy_delivered_kwh, 7.0);
  EXPECT_EQ(k.sessions_met, 1);
}

TEST(Kpi, DischargeIsPaidAtTheOwnersPriceAndNetted) {
  auto p = make_problem(3, 20.0);
  p.price_per_kwh = {0.3, 1.2, 1.2};
  p.evs = {make_ev("v2g", 0, 3, 4.0, 7.0)};
  p.evs[0].discharge_max_kw = 5;
  p.evs[0].battery_kwh = 60;
  p.evs[0].discharge_price_per_kwh = 0.9;
  Plan plan;
  plan.ev_kw = {{7, -3, 0}};
  const auto k = compute_kpi(p, plan);
  EXPECT_DOUBLE_EQ(k.energy_delivered_kwh, 4.0);
  EXPECT_DOUBLE_EQ(k.energy_discharged_kwh, 3.0);
  EXPECT_DOUBLE_EQ(k.cost_yuan, 7 * 0.3 - 3 * 0.9);
  EXPECT_EQ(k.sessions_met, 1);
}

TEST(Kpi, OverloadCountsAnyNodeIncludingBaseLoadBelowTheRoot) {
  auto p = make_problem(3, 100.0, {10.0});
  p.nodes[1].base_load_kw = {4, 4, 12};  // slot 2: the feeder is over on base load alone
  p.nodes[0].base_load_kw = {50, 50, 50};
  p.evs = {make_ev("a", 0, 3, 20.0, 7.0, 1)};
  Plan plan;
  plan.ev_kw = {{6, 7, 0}};  // slot 1: 4 + 7 = 11 > 10
  const auto k = compute_kpi(p, plan);
  EXPECT_EQ(k.overload_slots, 2);
  EXPECT_DOUBLE_EQ(k.peak_kw, 57.0);
  const auto load = node_load_kw(p, plan);
  EXPECT_EQ(load[1], (std::vector<double>{10, 11, 12}));
  EXPECT_EQ(load[0], (std::vector<double>{56, 57, 50}));
}

TEST(Kpi, PhaseLoadsAndPhaseOverloads) {
  // Root limit 100 in total; phase A 10 kW. Base 6 kW split in thirds (2 per phase) at the
  // root; the feeder gives its own per-phase base load.
  auto p = make_problem(3, 100.0, {100.0});
  p.nodes[0].base_load_kw = {6, 6, 6};
  p.nodes[0].phase_limit_kw[0] = {10, 10, 10};
  p.nodes[1].base_load_phase_kw = {std::vector<double>{1, 1, 1}, std::vector<double>{0, 0, 0}, std::vector<double>{0, 0, 0}};
  p.evs = {make_ev("a", 0, 3, 20.0, 7.0, 1), make_ev("abc", 0, 3, 20.0, 9.0), make_ev("any", 0, 3, 5.0, 7.0)};
  p.evs[0].phases = PhaseSet::a;
  p.evs[1].phases = PhaseSet::abc;
  p.evs[2].phases = PhaseSet::any_one;
  Plan plan;
  plan.ev_kw = {{7, 5, 0}, {3, 9, 0}, {0, 0, 2}};
  const auto load = node_phase_load_kw(p, plan);
  ASSERT_EQ(load.size(), 2u);
  // Root A: 2 + 7 + 1 (abc) = 10 in slot 0 (at the limit); 2 + 5 + 3 = 10; 2 + 2 (any_one).
  EXPECT_EQ(load[0][0], (std::vector<double>{10, 10, 4}));
  EXPECT_EQ(load[0][1], (std::vector<double>{3, 5, 4}));
  EXPECT_EQ(load[1][0], (std::vector<double>{8, 6, 1}));
  EXPECT_EQ(load[1][2], (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(compute_kpi(p, plan).overload_slots, 0);
  plan.ev_kw[0][1] = 5.5;  // phase A 10.5 in slot 1, the total far below its limit
  EXPECT_EQ(compute_kpi(p, plan).overload_slots, 1);
}

TEST(Kpi, ToleranceKeepsSolverNoiseFromCountingAsOverload) {
  auto p = make_problem(1, 7.0);
  p.evs = {make_ev("a", 0, 1, 7.0, 7.0)};
  Plan plan;
  plan.ev_kw = {{7.0 + 1e-9}};
  EXPECT_EQ(compute_kpi(p, plan).overload_slots, 0);
  plan.ev_kw = {{7.0 + 1e-3}};
  EXPECT_EQ(compute_kpi(p, plan).overload_slots, 1);
}

TEST(Kpi, ComparisonWithUncontrolledShowsWhatPlanningBuys) {
  auto p = make_problem(4, 10.0);
  p.price_per_kwh = {1.0, 1.0, 0.3, 0.3};
  p.period = {Period::peak, Period::peak, Period::valley, Period::valley};
  p.evs = {make_ev("a", 0, 4, 10.0, 7.0), make_ev("b", 0, 4, 10.0, 7.0)};
  Plan valley;
  valley.ev_kw = {{0, 0, 5, 5}, {0, 0, 5, 5}};
  const auto c = compare_with_uncontrolled(p, valley);
  EXPECT_DOUBLE_EQ(c.uncontrolled.peak_kw, 14.0);
  EXPECT_EQ(c.uncontrolled.overload_slots, 1);
  EXPECT_DOUBLE_EQ(c.plan.cost_yuan, 6.0);
  EXPECT_DOUBLE_EQ(c.cost_saving_yuan, 20.0 - 6.0);
  EXPECT_DOUBLE_EQ(c.peak_reduction_kw, 4.0);
  EXPECT_EQ(c.overload_slots_avoided, 1);
  EXPECT_DOUBLE_EQ(c.valley_share_gain, 1.0);
}

TEST(Kpi, SetpointsAreCeilingsACarStopsAtItsRequest) {
  // 5 kWh requested, setpoints allowing 4 + 1.5 + 1.5: the car draws 4, 1 and nothing.
  auto p = make_problem(3, 20.0);
  p.price_per_kwh = {0.3, 0.6, 1.0};
  p.period = {Period::valley, Period::flat, Period::peak};
  p.evs = {make_ev("ac", 0, 3, 5.0, 7.0)};
  Plan plan;
  plan.ev_kw = {{4, 1.5, 1.5}};
  const auto k = compute_kpi(p, plan);
  EXPECT_DOUBLE_EQ(delivered_kwh(p, plan)[0], 5.0);
  EXPECT_DOUBLE_EQ(k.energy_delivered_kwh, 5.0);
  EXPECT_EQ(k.sessions_met, 1);
  EXPECT_DOUBLE_EQ(k.cost_yuan, 4 * 0.3 + 1 * 0.6);
  EXPECT_DOUBLE_EQ(k.valley_share, 4.0 / 5.0);
  // Loads are what the piles may draw: the full setpoints.
  EXPECT_DOUBLE_EQ(k.peak_kw, 4.0);
  EXPECT_EQ(node_load_kw(p, plan)[0], (std::vector<double>{4, 1.5, 1.5}));
}

TEST(Kpi, BidirectionalPilesAreCountedAsPlanned) {
  // Charging above the request and giving it back later is V2G's plan, not an overshoot.
  auto p = make_problem(3, 20.0);
  p.evs = {make_ev("v2g", 0, 3, 4.0, 7.0)};
  p.evs[0].discharge_max_kw = 7;
  p.evs[0].battery_kwh = 60;
  Plan plan;
  plan.ev_kw = {{7, -5, 2}};
  EXPECT_DOUBLE_EQ(delivered_kwh(p, plan)[0], 4.0);
  EXPECT_DOUBLE_EQ(compute_kpi(p, plan).energy_discharged_kwh, 5.0);
}

TEST(Kpi, CompletePlanFillsTotalsAndKpi) {
  auto p = make_problem(2, 10.0);
  p.evs = {make_ev("a", 0, 2, 4.0, 7.0), make_ev("b", 0, 2, 3.0, 7.0)};
  Plan plan;
  plan.ev_kw = {{2, 2}, {3, 0}};
  complete_plan(p, plan);
  EXPECT_EQ(plan.charging_kw, (std::vector<double>{5, 2}));
  EXPECT_EQ(plan.kpi.sessions_met, 2);
}

}  // namespace
}  // namespace orderly::scheduler

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "../gateway/config_text.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/planning.hpp"
#include "orderly/scheduler/plan.hpp"
#include "orderly/scheduler/validate.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

const std::string kConfig = R"(
[site]
name = "Planning test"
[site.transformer]
id = "tx"
limit_kw = 100

[[capacity]]
id = "feeder-1"
limit_kw = 20

)" + testing::kSimpleTariff + R"(

[control]
safety_margin_kw = 2

[[charger]]
id = "p1"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "p2"
kind = "shared"
phase = "ABC"
node = "feeder-1"
max_power_kw = 11
)";

TimePoint local(int day, int hour, int minute, int second = 0) { return testing::january_2026(day, hour, minute, second); }

Config config() { return parse_config(kConfig, "planning_test.toml"); }

ActiveSession session(const std::string& charger, double remaining_kwh, TimePoint departure) {
  ActiveSession s;
  s.session_id = charger + "-s";
  s.charger_id = charger;
  s.plugged_at = local(5, 20, 0);
  s.departure = departure;
  s.remaining_kwh = remaining_kwh;
  return s;
}

double energy_before(const ActivePlan& plan, const std::string& id, int slot_end) {
  const auto& kw = plan.chargers.at(id).kw;
  double kwh = 0;
  for (int k = 0; k < slot_end; ++k) kwh += kw[static_cast<std::size_t>(k)] * 0.25;
  return kwh;
}

TEST(SlotGrid, AlignsToLocalSlotsAndCoversTheLatestDeparture) {
  const auto g = make_slot_grid(local(5, 20, 5), minutes(15), hours(8), std::nullopt);
  EXPECT_EQ(g.start, local(5, 20, 0));
  EXPECT_NEAR(g.first_slot_fraction, 10.0 / 15.0, 1e-9);
  EXPECT_EQ(g.slots, 96);  // at least 24 h
  EXPECT_EQ(g.slot_of(local(5, 20, 14)), 0);
  EXPECT_EQ(g.slot_of(local(5, 20, 15)), 1);
  EXPECT_EQ(g.slot_of(local(5, 19, 59)), -1);

  const auto longer = make_slot_grid(local(5, 20, 5), minutes(15), hours(8), local(7, 2, 10));
  EXPECT_EQ(longer.slots, (24 + 6) * 4 + 1);  // ends at or after 02:10 on the 7th
  const auto capped = make_slot_grid(local(5, 20, 5), minutes(15), hours(8), local(9, 0, 0));
  EXPECT_EQ(capped.slots, 48 * 4);

  // A site east of UTC by 5:45 still gets slots on its own quarter hours.
  const auto nepal = make_slot_grid(TimePoint(sys_days(year{2026} / January / 5)) + minutes(20), minutes(15),
                                    hours(5) + minutes(45), std::nullopt);
  EXPECT_EQ(nepal.start, TimePoint(sys_days(year{2026} / January / 5)) + minutes(15));
}

TEST(SlotGrid, ForecastSlotsStartOnMondayLocalMidnight) {
  EXPECT_EQ(forecast_slot(local(5, 0, 0), minutes(15), hours(8)) % (96 * 7), 0);
  EXPECT_EQ(forecast_slot(local(6, 0, 14), minutes(15), hours(8)) % (96 * 7), 96);
}

TEST(CapacityTree, TransformerFirstLimitsLessTheMargin) {
  const auto t = capacity_tree(config());
  ASSERT_EQ(t.ids.size(), 2u);
  EXPECT_EQ(t.ids[0], "tx");
  EXPECT_EQ(t.parents[1], 0);
  EXPECT_DOUBLE_EQ(t.limit_kw[0], 98);
  EXPECT_DOUBLE_EQ(t.limit_kw[1], 18);
  EXPECT_EQ(t.index_of("feeder-1"), 1);
  EXPECT_EQ(t.index_of(""), 0);
  EXPECT_EQ(t.index_of("nope"), -1);
}

TEST(BuildProblem, RequestsWindowsLimitsAndDrEvents) {
  const auto c = config();
  PlanningInput in;
  in.now = local(5, 20, 5);
  in.sessions.push_back(session("p1", 20, local(6, 7, 30)));
  auto shared = session("p2", 10, local(6, 7, 30));
  shared.not_before = local(5, 23, 10);
  shared.is_private = false;
  in.sessions.push_back(shared);
  in.limit_windows.push_back({"dr-1", local(5, 21, 0), local(5, 22, 0), 50});
  const auto pp = build_problem(c, in);
  const auto& p = pp.problem;
  EXPECT_TRUE(scheduler::problems(p).empty());
  ASSERT_EQ(p.evs.size(), 2u);
  EXPECT_EQ(pp.charger_ids[0], "p1");

  const auto& ev = p.evs[0];
  EXPECT_EQ(ev.arrival_slot, 0);
  EXPECT_EQ(ev.departure_slot, 46);  // 20:00 + 46 x 15 min = 07:30
  EXPECT_DOUBLE_EQ(ev.energy_kwh, 20);
  EXPECT_NEAR(ev.min_kw, 6 * 230 / 1000.0, 1e-9);
  EXPECT_EQ(ev.power_step_kw, 0);
  // Its own leaf below the transformer caps it to what is left of slot 0.
  const auto& leaf = p.nodes[static_cast<std::size_t>(ev.node)];
  EXPECT_EQ(leaf.parent, 0);
  EXPECT_NEAR(leaf.limit_kw[0], 7 * 10.0 / 15.0, 1e-9);
  EXPECT_DOUBLE_EQ(leaf.limit_kw[1], 7);
  EXPECT_EQ(ev.priority, kPriorityNormal);

  const auto& sh = p.evs[1];
  EXPECT_EQ(sh.arrival_slot, 13);  // 23:10 is inside slot 12 (23:00): first whole slot after it
  EXPECT_EQ(p.nodes[static_cast<std::size_t>(sh.node)].parent, 1);  // the feeder
  EXPECT_NEAR(sh.min_kw, 3 * 6 * 230 / 1000.0, 1e-9);
  EXPECT_FALSE(sh.is_private);

  // Slot 0 has 10 of its 15 minutes left; the DR event covers slots 4..7 (21:00-22:00).
  EXPECT_NEAR(p.nodes[0].limit_kw[0], 98 * 10.0 / 15.0, 1e-9);
  EXPECT_DOUBLE_EQ(p.nodes[0].limit_kw[3], 98);
  EXPECT_DOUBLE_EQ(p.nodes[0].limit_kw[4], 48);
  EXPECT_DOUBLE_EQ(p.nodes[0].limit_kw[7], 48);
  EXPECT_DOUBLE_EQ(p.nodes[0].limit_kw[8], 98);
  EXPECT_DOUBLE_EQ(p.nodes[1].limit_kw[1], 18);
  EXPECT_EQ(p.period[0], scheduler::Period::peak);
  EXPECT_EQ(p.period[12], scheduler::Period::valley);
  EXPECT_DOUBLE_EQ(p.price_per_kwh[12], 0.3);
}

TEST(BuildProblem, BoostIsDueAsSoonAsFullPowerDeliversIt) {
  PlanningInput in;
  in.now = local(5, 20, 5);
  auto s = session("p1", 7, local(6, 7, 30));
  s.boost = true;
  in.sessions.push_back(s);
  const auto pp = build_problem(config(), in);
  ASSERT_EQ(pp.problem.evs.size(), 1u);
  // 7 kW: 1.17 kWh in what is left of slot 0, then 1.75 kWh a slot: done within slot 4.
  EXPECT_EQ(pp.problem.evs[0].departure_slot, 5);
  EXPECT_EQ(pp.problem.evs[0].priority, kPriorityBoost);
}

TEST(BuildProblem, OverdueCarChargesAtOnceAndMetSessionsAreIdle) {
  PlanningInput in;
  in.now = local(6, 8, 0);
  in.sessions.push_back(session("p1", 3.5, local(6, 7, 30)));
  in.sessions.push_back(session("p2", 0, local(6, 18, 0)));
  const auto pp = build_problem(config(), in);
  ASSERT_EQ(pp.problem.evs.size(), 1u);
  EXPECT_EQ(pp.problem.evs[0].priority, kPriorityOverdue);
  EXPECT_EQ(pp.problem.evs[0].departure_slot, 2);
  EXPECT_EQ(pp.idle_sessions.at("p2"), "p2-s");
}

TEST(BuildProblem, BaseLoadFollowsTheMeterNowAndReservesUnsteerableChargers) {
  PlanningInput in;
  in.now = local(5, 20, 0);
  // A flat 30 kW history for two weeks; the meter now shows 40 kW.
  BaseLoadSlots history(minutes(15), hours(8));
  for (auto t = local(5, 20, 0) - days(14); t < local(5, 20, 0); t += minutes(5)) history.add(t, 30);
  in.base_history = history.samples();
  in.measured_base_kw = 40;
  in.reserved_kw["p2"] = 4.14;  // offline three-phase pile at its 6 A failsafe
  const auto pp = build_problem(config(), in);
  const auto& root = pp.problem.nodes[0];
  EXPECT_NEAR(pp.base_kw[0], 40, 1e-6);
  EXPECT_NEAR(root.base_load_kw[0], 44.14, 1e-6);  // fraction 1: planned at the slot start
  EXPECT_LT(pp.base_kw[40], 31);                   // the deviation fades
  EXPECT_GT(pp.base_kw[40], 29.9);
  // feeder-1 has no meter and no assumed load: its share 20/100 of the forecast, plus p2.
  EXPECT_NEAR(pp.problem.nodes[1].base_load_kw[5], 0.2 * pp.base_kw[5] + 4.14, 1e-9);
}

TEST(BuildProblem, AnUnmeteredNodeIsPlannedWithItsAssumedLoad) {
  PlanningInput in;
  in.now = local(5, 20, 0);
  in.measured_base_kw = 40;
  Config c = config();
  c.capacity[0].assumed_load_kw = 7;
  auto pp = build_problem(c, in);
  EXPECT_NEAR(pp.problem.nodes[1].base_load_kw[3], 7, 1e-9);
  c.capacity[0].assumed_load_kw.reset();
  c.capacity[0].assumed_load_share = 0.5;
  pp = build_problem(c, in);
  EXPECT_NEAR(pp.problem.nodes[1].base_load_kw[3], 0.5 * pp.base_kw[3], 1e-9);
  EXPECT_GT(pp.base_kw[3], 0);
  // With a feeder meter the limiter holds the node on its measurement; the planner has no
  // per-feeder forecast and leaves it at 0.
  MeterConfig fm;
  fm.id = "fm";
  fm.role = MeterRole::feeder;
  fm.node = "feeder-1";
  c.meters.push_back(fm);
  pp = build_problem(c, in);
  EXPECT_EQ(pp.problem.nodes[1].base_load_kw[3], 0);
}

TEST(BaseLoadSlotsTest, SlotMeansAndRetention) {
  BaseLoadSlots h(minutes(15), hours(8), 1);
  h.add(local(5, 20, 0), 10);
  h.add(local(5, 20, 10), 20);
  h.add(local(5, 20, 20), 40);
  auto s = h.samples();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0].load_kw, 15);
  EXPECT_EQ(s[1].slot, s[0].slot + 1);
  h.add(local(7, 20, 0), 5);  // two days later: the first day is dropped
  EXPECT_EQ(h.slot_count(), 1u);
}

TEST(Plan, ValleyHoursChosenCeilingsAndOutlook) {
  const auto c = config();
  PlanningInput in;
  in.now = local(5, 20, 5);
  in.sessions.push_back(session("p1", 20, local(6, 7, 30)));
  in.measured_base_kw = 30;
  const auto pp = build_problem(c, in);
  const auto plan = scheduler::make_plan(pp.problem, scheduler::Algorithm::optimal);
  const auto a = make_active_plan(pp, plan, in.now, "plug-in", "optimal");
  EXPECT_NEAR(energy_before(a, "p1", 12), 0, 1e-6);  // nothing before 23:00 (peak)
  EXPECT_NEAR(energy_before(a, "p1", 46), 20, 0.01);
  EXPECT_EQ(ceiling_kw(a, "p1", in.now), 0);
  EXPECT_FALSE(ceiling_kw(a, "p2", in.now));

  const auto o = outlook(a, "p1", in.now);
  ASSERT_TRUE(o.start && o.finish);
  EXPECT_GE(*o.start, local(5, 23, 0));
  EXPECT_LE(*o.finish, local(6, 7, 0));
  EXPECT_NEAR(o.expected_kwh, 20, 0.01);
  EXPECT_NEAR(o.expected_cost_yuan, 6.0, 0.01);  // all at the 0.30 valley price
  EXPECT_EQ(o.next_kw.size(), 8u);
  // The timeline runs from the slot of now (20:00) to the grid's end, kW and price per slot.
  EXPECT_EQ(o.timeline_start, local(5, 20, 0));
  ASSERT_EQ(o.timeline_kw.size(), o.timeline_price_per_kwh.size());
  EXPECT_EQ(static_cast<int>(o.timeline_kw.size()), a.grid.slots);
  EXPECT_DOUBLE_EQ(o.timeline_price_per_kwh[0], 1.0);   // 20:00 peak
  EXPECT_DOUBLE_EQ(o.timeline_price_per_kwh[12], 0.3);  // 23:00 valley
  EXPECT_DOUBLE_EQ(o.timeline_kw[0], 0);
  // Charging now instead: 20 kWh at 7 kW from 20:05 is 2 h 51 min 26 s, all at the peak price.
  EXPECT_NEAR(o.charge_now_cost_yuan, 20.0, 0.01);
  ASSERT_TRUE(o.charge_now_finish);
  EXPECT_NEAR(duration<double>(*o.charge_now_finish - local(5, 22, 56, 26)).count(), 0, 1);

  const auto back = active_plan_from_json(active_plan_to_json(a));
  EXPECT_EQ(back.grid.start, a.grid.start);
  EXPECT_EQ(back.grid.slots, a.grid.slots);
  EXPECT_EQ(back.reason, "plug-in");
  EXPECT_EQ(back.chargers.at("p1").kw, a.chargers.at("p1").kw);
  EXPECT_EQ(ceiling_kw(back, "p1", local(6, 0, 0)), ceiling_kw(a, "p1", local(6, 0, 0)));
  EXPECT_THROW(active_plan_from_json("{\"chargers\": 3}"), std::invalid_argument);
}

TEST(Plan, SlotZeroIsSharedOutAmongAllCarsThatFit) {
  PlanningInput in;
  in.now = local(5, 20, 5);  // two thirds of the slot left
  in.measured_base_kw = 80;  // 98 - 80 = 18 kW: exactly both piles at full power
  for (const char* id : {"p1", "p2"}) {
    auto s = session(id, 30, local(6, 7, 30));
    s.boost = true;
    in.sessions.push_back(s);
  }
  const auto pp = build_problem(config(), in);
  const auto plan = scheduler::make_plan(pp.problem, scheduler::Algorithm::optimal);
  const auto a = make_active_plan(pp, plan, in.now, "request", "optimal");
  EXPECT_NEAR(*ceiling_kw(a, "p1", in.now), 7, 0.01);
  EXPECT_NEAR(*ceiling_kw(a, "p2", in.now), 11, 0.01);
}

TEST(Plan, SlotZeroPowerScaledBackToWhatIsLeftOfTheSlot) {
  ActivePlan a;
  a.grid = make_slot_grid(local(5, 20, 10), minutes(15), hours(8), std::nullopt);  // 1/3 left
  a.chargers["p1"] = {"s", std::vector<double>(96, 0.0), 7};
  a.chargers["p1"].kw[0] = 1.5;
  a.chargers["p1"].kw[1] = 7;
  EXPECT_NEAR(*ceiling_kw(a, "p1", local(5, 20, 10)), 4.5, 1e-9);
  a.chargers["p1"].kw[0] = 3;
  EXPECT_NEAR(*ceiling_kw(a, "p1", local(5, 20, 12)), 7, 1e-9);  // never above the pile
  EXPECT_NEAR(*ceiling_kw(a, "p1", local(5, 20, 15)), 7, 1e-9);
  EXPECT_FALSE(ceiling_kw(a, "p1", local(6, 20, 0)));            // past the grid
}

TEST(Limiter, NodesCarryDrLimitsAndMeasurements) {
  const auto c = config();
  const auto tree = capacity_tree(c);
  const std::vector<LimitWindow> dr{{"dr", local(5, 21, 0), local(5, 22, 0), 60}};
  auto nodes = limiter_nodes(c, tree, dr, local(5, 21, 30), NodeReading{70.0, std::nullopt}, {{"feeder-1", NodeReading{12.0, std::nullopt}}});
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_DOUBLE_EQ(nodes[0].limit_kw, 58);
  EXPECT_EQ(nodes[0].measured_kw, 70.0);
  EXPECT_EQ(nodes[1].measured_kw, 12.0);
  nodes = limiter_nodes(c, tree, dr, local(5, 22, 0), NodeReading{70.0, std::nullopt}, {});
  EXPECT_DOUBLE_EQ(nodes[0].limit_kw, 98);
  EXPECT_FALSE(nodes[1].measured_kw);
  EXPECT_DOUBLE_EQ(transformer_limit_kw(c, dr, local(5, 21, 0)), 60);
}


// ---- phases ---------------------------------------------------------------------------------

const std::string kPhaseConfig = R"(
[site]
name = "Phase test"
[site.transformer]
id = "tx"
limit_kw = 100
phase_a_limit_kw = 30
phase_b_limit_kw = 40
base_load_phase_split = [0.5, 0.25, 0.25]

[[capacity]]
id = "feeder-1"
limit_kw = 40
phase_c_limit_kw = 12

[[capacity]]
id = "board-b"
parent = "feeder-1"
limit_kw = 20
phase = "B"

)" + testing::kSimpleTariff + R"(

[control]
safety_margin_kw = 2

[[charger]]
id = "p1"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7

[[charger]]
id = "p2"
kind = "shared"
phase = "ABC"
node = "feeder-1"
max_power_kw = 11

[[charger]]
id = "p3"
kind = "private"
household = "1-1-103"
phase = "B"
node = "board-b"
max_power_kw = 7
)";

TEST(Phases, CurrentsShowWhichPhasesACarDrawsOn) {
  using scheduler::PhaseSet;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(phases_shown({16, 15.8, 16.1}), PhaseSet::abc);
  EXPECT_EQ(phases_shown({0.1, 15.9, 0.2}), PhaseSet::b);   // a single-phase car on L2
  EXPECT_EQ(phases_shown({16, 15, 0}), PhaseSet::any_one);  // two phases: counted in full on each
  EXPECT_EQ(phases_shown({0.3, 0.2, 0.1}), std::nullopt);   // not drawing: shows nothing
  EXPECT_EQ(phases_shown({16, nan, nan}), std::nullopt);    // not measured per phase
  EXPECT_EQ(counted_phases(Phase::C, PhaseSet::a), PhaseSet::c);  // wiring wins for one phase
  EXPECT_EQ(counted_phases(Phase::ABC, std::nullopt), PhaseSet::any_one);
  EXPECT_EQ(counted_phases(Phase::ABC, PhaseSet::b), PhaseSet::b);
}

TEST(Phases, TreeCarriesPhaseLimitsLessTheMarginAndSplits) {
  const auto tree = capacity_tree(parse_config(kPhaseConfig, "phase.toml"));
  ASSERT_EQ(tree.ids.size(), 3u);
  EXPECT_TRUE(tree.has_phase_limits());
  EXPECT_EQ(tree.phase_limit_kw[0][0], 28.0);
  EXPECT_EQ(tree.phase_limit_kw[0][1], 38.0);
  EXPECT_FALSE(tree.phase_limit_kw[0][2]);
  EXPECT_EQ(tree.phase_limit_kw[1][2], 10.0);
  EXPECT_EQ(tree.base_phase_split[0][0], 0.5);
  EXPECT_EQ(tree.base_phase_split[1][0], 0.5);  // the transformer's split by default
  EXPECT_EQ(tree.base_phase_split[2][1], 1.0);  // a phase-B board: all of it on B
  EXPECT_EQ(tree.base_phase_split[2][0], 0.0);
  EXPECT_FALSE(capacity_tree(config()).has_phase_limits());
}

TEST(Phases, ProblemHasPhaseLimitsBaseLoadsAndPilesOnTheirPhases) {
  const auto c = parse_config(kPhaseConfig, "phase.toml");
  PlanningInput in;
  in.now = local(5, 20, 0);
  in.measured_base_kw = 40;
  // A DR event halves the transformer from 21:00: its phase limits follow in proportion.
  in.limit_windows = {{"dr", local(5, 21, 0), local(5, 22, 0), 50}};
  in.reserved_kw["p1"] = 7;  // not following: counted at what it draws, on phase A
  in.sessions = {session("p2", 10, local(6, 7, 0)), session("p3", 10, local(6, 7, 0))};
  in.charger_phases["p2"] = scheduler::PhaseSet::c;  // its currents showed a single-phase car on C
  const auto pp = build_problem(c, in);
  const auto& root = pp.problem.nodes[0];
  ASSERT_EQ(root.phase_limit_kw[0].size(), static_cast<std::size_t>(pp.problem.slots));
  EXPECT_DOUBLE_EQ(root.phase_limit_kw[0][1], 28);
  EXPECT_DOUBLE_EQ(root.phase_limit_kw[0][4], 30 * 0.5 - 2);  // 21:00, under the DR event
  EXPECT_DOUBLE_EQ(root.phase_limit_kw[1][4], 40 * 0.5 - 2);
  EXPECT_TRUE(root.phase_limit_kw[2].empty());
  EXPECT_DOUBLE_EQ(pp.problem.nodes[1].phase_limit_kw[2][4], 10);  // feeders: no DR scaling
  // Non-EV 40 kW split 50/25/25, plus the unsteerable phase-A pile's 7 kW on A alone.
  EXPECT_NEAR(root.base_load_phase_kw[0][0], 20 + 7, 1e-9);
  EXPECT_NEAR(root.base_load_phase_kw[1][0], 10, 1e-9);
  EXPECT_NEAR(root.base_load_phase_kw[2][0], 10, 1e-9);
  // The three-phase pile with a single-phase car: on C, at one phase's current (11 kW / 3).
  ASSERT_EQ(pp.problem.evs.size(), 2u);
  EXPECT_EQ(pp.problem.evs[0].phases, scheduler::PhaseSet::c);
  EXPECT_NEAR(pp.problem.evs[0].max_kw, 11.0 / 3, 1e-9);
  EXPECT_NEAR(pp.problem.evs[0].min_kw, 6 * 0.23, 1e-9);
  EXPECT_EQ(pp.problem.evs[1].phases, scheduler::PhaseSet::b);
  EXPECT_NEAR(pp.problem.evs[1].max_kw, 7, 1e-9);

  // A per-phase meter's shares split the forecast instead of the configuration.
  in.measured_base_phase_kw = std::array<double, 3>{10, 10, 20};
  const auto measured = build_problem(c, in);
  EXPECT_NEAR(measured.problem.nodes[0].base_load_phase_kw[2][0], 20, 1e-9);
  EXPECT_NEAR(measured.problem.nodes[0].base_load_phase_kw[0][0], 10 + 7, 1e-9);
}

TEST(Phases, LimiterNodesCarryPhaseLimitsAndPerPhaseReadings) {
  const auto c = parse_config(kPhaseConfig, "phase.toml");
  const auto tree = capacity_tree(c);
  const std::vector<LimitWindow> dr{{"dr", local(5, 21, 0), local(5, 22, 0), 50}};
  const auto nodes = limiter_nodes(c, tree, dr, local(5, 21, 30), NodeReading{70.0, std::nullopt},
                                   {{"feeder-1", NodeReading{12.0, std::array<double, 3>{2, 4, 6}}}});
  EXPECT_EQ(nodes[0].phase_limit_kw[0], 30 * 0.5 - 2);
  EXPECT_FALSE(nodes[0].phase_limit_kw[2]);
  EXPECT_EQ(nodes[1].phase_limit_kw[2], 10.0);
  EXPECT_EQ(nodes[1].measured_phase_kw[2], 6.0);
  EXPECT_FALSE(nodes[0].measured_phase_kw[0]);
}

TEST(Phases, ConfigRejectsPhaseKeysThatCannotApply) {
  auto broken = [](const std::string& from, const std::string& to) {
    std::string text = kPhaseConfig;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    try {
      parse_config(text, "phase.toml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(broken("phase = \"B\"\nnode = \"board-b\"", "phase = \"A\"\nnode = \"board-b\"").find(
                "charger[3].phase: 'p3' is A but hangs from node 'board-b', which carries only phase B"),
            std::string::npos);
  EXPECT_NE(broken("phase = \"B\"\n\n", "phase = \"B\"\nphase_b_limit_kw = 10\n\n").find("carries one phase"),
            std::string::npos);
  EXPECT_NE(broken("phase_c_limit_kw = 12", "phase_c_limit_kw = 50").find("above the node's limit_kw 40"),
            std::string::npos);
  EXPECT_NE(broken("[0.5, 0.25, 0.25]", "[0.5, 0.25]").find("phase.toml:9"), std::string::npos);
  EXPECT_NE(broken("[0.5, 0.25, 0.25]", "[0.9, 0.25, 0.25]").find("summing to 1"), std::string::npos);
}

// Six phase-A cars want 240 kWh by 07:00; phase A takes 28 kW, so the flow's
// optimum breaks it and the exact phase LP plans. Capped below what that LP needs, the plan
// drops the phase limits (the limiter keeps them) instead of holding the core thread.
TEST(Phases, PhaseLpPastItsIterationsPlansWithoutPhaseLimits) {
  std::string text = kPhaseConfig;
  for (int i = 0; i < 6; ++i)
    text += "\n[[charger]]\nid = \"a" + std::to_string(i) + "\"\nkind = \"private\"\nhousehold = \"2-" +
            std::to_string(i) + "\"\nphase = \"A\"\nmax_power_kw = 7\n";
  PlanningInput in;
  in.now = local(5, 20, 0);
  in.measured_base_kw = 40;  // now; no history: the forecast after slot 0 is 0
  for (int i = 0; i < 6; ++i) in.sessions.push_back(session("a" + std::to_string(i), 40, local(6, 7, 0)));
  const auto phase_a_peak = [&](const ActivePlan& plan) {
    double peak = 0;
    for (std::size_t t = 0; t < plan.base_kw.size(); ++t) {
      double kw = 0;
      for (int i = 0; i < 6; ++i) kw += plan.chargers.at("a" + std::to_string(i)).kw[t];
      peak = std::max(peak, kw);
    }
    return peak;
  };

  const auto exact = plan_now(parse_config(text, "phase.toml"), in, "test");
  ASSERT_EQ(exact.error, "");
  EXPECT_TRUE(exact.notes.empty());
  EXPECT_LE(phase_a_peak(exact.plan), 28 + 1e-6);  // phase A 30 kW less the margin

  std::string capped_text = text;
  capped_text.replace(capped_text.find("safety_margin_kw = 2"), 20, "safety_margin_kw = 2\nphase_lp_iterations = 1");
  const auto capped = plan_now(parse_config(capped_text, "phase.toml"), in, "test");
  ASSERT_EQ(capped.error, "");
  EXPECT_EQ(capped.plan.algorithm, "optimal");
  ASSERT_EQ(capped.notes.size(), 1u) << capped.evs << " cars, phase A peak " << phase_a_peak(capped.plan);
  EXPECT_NE(capped.notes[0].find("phase_lp_iterations = 1"), std::string::npos) << capped.notes[0];
  EXPECT_GT(phase_a_peak(capped.plan), 28 + 1);  // the limiter, not the plan, keeps phase A
}

}  // namespace
}  // namespace orderly::gateway

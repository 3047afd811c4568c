#include "orderly/gateway/scenario.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/kpi.hpp"

namespace orderly::gateway {
namespace {

using ::testing::HasSubstr;
using scheduler::Period;

std::string numbers(int n, double v) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(v);
  return out + "]";
}

// The issue's example, comments included, with its placeholders filled in.
std::string issue_example() {
  return R"({ "start": "2026-01-05T12:00:00+08:00", "slot_minutes": 15, "slots": 96,
  "capacity": {"id": "transformer", "limit_kw": 500, "children": [
               {"id": "feeder-1", "limit_kw": 250, "children": []}]},
  "base_load_kw": )" + numbers(96, 120) + R"(,            // at the root
  "price_per_kwh": )" + numbers(96, 0.6) + R"(,
  "evs": [ {"id": "ev-1", "node": "feeder-1", "arrival_slot": 0, "departure_slot": 80,
            "energy_kwh": 20.5, "max_kw": 7.0,
            "min_kw": 1.4, "priority": 1, "private": true,        // optional
            "discharge_max_kw": 0, "battery_kwh": 60, "initial_kwh": 20,
            "reserve_kwh": 15, "discharge_price_per_kwh": 0.9 } ] // optional, V2G
})";
}

std::string error_of(const std::string& text) {
  try {
    parse_scenario(text, "scenario.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "(accepted)";
}

// A minimal valid scenario with 4 slots and the given EVs JSON.
std::string small(const std::string& evs, const std::string& extra = "") {
  return R"({"slots": 4, "slot_minutes": 60, "capacity": {"id": "t", "limit_kw": 20, "children": [{"id": "f", "limit_kw": 10}]},
            "price_per_kwh": [0.3, 0.3, 0.6, 1.0])" + extra + R"(, "evs": )" + evs + "}";
}

TEST(Scenario, AcceptsTheIssueFormatAsWritten) {
  const auto p = parse_scenario(issue_example(), "issue.json");
  EXPECT_EQ(p.slots, 96);
  EXPECT_DOUBLE_EQ(p.slot_minutes, 15);
  ASSERT_EQ(p.nodes.size(), 2u);
  EXPECT_EQ(p.nodes[1].id, "feeder-1");
  EXPECT_EQ(p.nodes[1].parent, 0);
  EXPECT_EQ(p.nodes[1].limit_kw, std::vector<double>(96, 250.0));
  EXPECT_EQ(p.nodes[0].base_load_kw, std::vector<double>(96, 120.0));
  ASSERT_EQ(p.evs.size(), 1u);
  EXPECT_EQ(p.evs[0].node, 1);
  EXPECT_DOUBLE_EQ(p.evs[0].energy_kwh, 20.5);
  EXPECT_DOUBLE_EQ(p.evs[0].min_kw, 1.4);
  EXPECT_DOUBLE_EQ(p.evs[0].discharge_price_per_kwh, 0.9);
  EXPECT_TRUE(p.evs[0].is_private);
  EXPECT_EQ(p.period, std::vector<Period>(96, Period::flat)) << "one price level: all flat";
}

TEST(Scenario, DefaultsForOptionalFields) {
  const auto p = parse_scenario(small(R"([{"id": "a", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7}])"), "s.json");
  EXPECT_EQ(p.evs[0].node, 0) << "no node: the root";
  EXPECT_EQ(p.evs[0].priority, 1);
  EXPECT_TRUE(p.evs[0].is_private);
  EXPECT_EQ(p.evs[0].min_kw, 0);
  EXPECT_EQ(p.evs[0].discharge_max_kw, 0);
  EXPECT_TRUE(p.nodes[0].base_load_kw.empty());
  EXPECT_EQ(p.period, (std::vector<Period>{Period::valley, Period::valley, Period::flat, Period::peak}));
}

TEST(Scenario, PerSlotLimitsAndExplicitPeriods) {
  const auto p = parse_scenario(
      R"({"slots": 3, "capacity": {"id": "t", "limit_kw": [100, 60, 100]}, "price_per_kwh": [1, 1, 1],
          "period": ["valley", "sharp", "flat"], "evs": []})",
      "s.json");
  EXPECT_EQ(p.nodes[0].limit_kw, (std::vector<double>{100, 60, 100}));
  EXPECT_EQ(p.period, (std::vector<Period>{Period::valley, Period::sharp, Period::flat}));
  EXPECT_DOUBLE_EQ(p.slot_minutes, 15) << "slot_minutes defaults to 15";
}

TEST(Scenario, DefaultPeriodsFromPriceLevels) {
  EXPECT_EQ(periods_from_prices({0.3, 1.0, 0.3}), (std::vector<Period>{Period::valley, Period::peak, Period::valley}));
  EXPECT_EQ(periods_from_prices({0.3, 0.6, 1.0, 1.3, 0.45}),
            (std::vector<Period>{Period::valley, Period::flat, Period::peak, Period::sharp, Period::flat}));
  EXPECT_EQ(periods_from_prices({0.5, 0.5}), (std::vector<Period>{Period::flat, Period::flat}));
}

TEST(Scenario, NamesTheEvAndTheFieldForEveryMistake) {
  std::string evs = "[";
  for (int i = 1; i <= 4; ++i)
    evs += std::string(i > 1 ? "," : "") + R"({"id": "ev-)" + std::to_string(i) +
           R"(", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7})";
  evs += "]";
  auto text = small(evs);
  auto with = [&](const std::string& from, const std::string& to) {
    auto t = text;
    const auto at = t.rfind(from);
    return t.replace(at, from.size(), to);
  };
  // Edits apply to the last EV (ev-4) because rfind finds its fields first.
  EXPECT_THAT(error_of(small(R"([{"id": "a", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7},
                                 {"id": "b", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7},
                                 {"id": "c", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7},
                                 {"id": "ev-4", "arrival_slot": 3, "departure_slot": 1, "energy_kwh": 5, "max_kw": 7}])")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): departure_slot 1 is before arrival_slot 3"));
  EXPECT_THAT(error_of(with(R"("energy_kwh": 5)", R"("energy_kwh": -5)")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): energy_kwh -5 must be a finite number >= 0"));
  EXPECT_THAT(error_of(with(R"("energy_kwh": 5)", R"("energy_kwh": "5")")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): energy_kwh must be a number, got string \"5\""));
  EXPECT_THAT(error_of(with(R"(, "energy_kwh": 5)", "")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): missing required field \"energy_kwh\""));
  EXPECT_THAT(error_of(with(R"("id": "ev-4")", R"("id": "ev-4", "node": "feeder-9")")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): node \"feeder-9\" is not in the capacity tree (known nodes: t, f)"));
  EXPECT_THAT(error_of(with(R"("id": "ev-4")", R"("id": "ev-1")")),
              HasSubstr("scenario.json: evs[3] (id \"ev-1\"): duplicate id \"ev-1\""));
  EXPECT_THAT(error_of(with(R"("max_kw": 7)", R"("max_kw": 7, "energy_kw": 5)")),
              HasSubstr("scenario.json: evs[3] (id \"ev-4\"): unknown field \"energy_kw\""));
  EXPECT_THAT(error_of(with(R"("departure_slot": 4)", R"("departure_slot": 4.5)")),
              HasSubstr("evs[3] (id \"ev-4\"): departure_slot must be a whole number, got number 4.5"));
  EXPECT_THAT(error_of(with(R"("departure_slot": 4)", R"("departure_slot": 9)")),
              HasSubstr("evs[3] (id \"ev-4\"): departure_slot 9 is outside 0..4"));
  EXPECT_THAT(error_of(with(R"("id": "ev-4",)", R"("private": "yes",)")),
              HasSubstr("evs[3]: missing required field \"id\""));
}

TEST(Scenario, ArraysAndTreeMistakes) {
  EXPECT_THAT(error_of(small("[]", R"(, "base_load_kw": [1, 2, 3])")),
              HasSubstr("scenario.json: base_load_kw has 3 values, expected slots = 4"));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": [1, 2, 3]}, "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("scenario.json: capacity (id \"t\"): limit_kw has 3 values, expected slots = 2"));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [1, "x"], "evs": []})"),
              HasSubstr("scenario.json: price_per_kwh[1] must be a number, got string \"x\""));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5, "children": [{"id": "t", "limit_kw": 1}]},
                          "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("duplicate node id \"t\""));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5, "children": [{"limit_kw": 1}]},
                          "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("capacity.children[0]: missing required field \"id\""));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [1, 1],
                          "period": ["valley", "cheap"], "evs": []})"),
              HasSubstr("scenario.json: period[1]: must be \"sharp\", \"peak\", \"flat\" or \"valley\", got string \"cheap\""));
  EXPECT_THAT(error_of(R"({"capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("scenario.json: missing required field \"slots\""));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [1, 1]})"),
              HasSubstr("scenario.json: missing required field \"evs\""));
  EXPECT_THAT(error_of(R"({"slots": 2, "start": "yesterday", "capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("scenario.json: start: \"yesterday\" is not an ISO 8601 time"));
}

TEST(Scenario, InvalidJsonGivesLineAndColumn) {
  EXPECT_THAT(error_of("{\n  \"slots\": 4,\n  \"evs\": [,]\n}"), HasSubstr("scenario.json:3:"));
  EXPECT_THAT(error_of("[1, 2]"), HasSubstr("scenario.json: the scenario must be a JSON object"));
}

// Issue 16: a scenario may come from anywhere; its size is bounded before anything allocates.
TEST(Scenario, SizesOverTheLimitsAreRefusedWithTheLimit) {
  EXPECT_THAT(error_of(R"({"slots": 1000000000, "capacity": {"id": "t", "limit_kw": 5}, "price_per_kwh": [], "evs": []})"),
              HasSubstr("scenario.json: slots: 1000000000 is more than the 2016 a scenario may plan"));
  std::string evs = "[";
  for (std::size_t i = 0; i <= kMaxScenarioEvs; ++i) evs += std::string(i ? "," : "") + "{}";
  EXPECT_THAT(error_of(small(evs + "]")), HasSubstr("scenario.json: evs: 5001 EVs are more than the 5000"));
  std::string children = "[";
  for (std::size_t i = 0; i < kMaxScenarioNodes; ++i)
    children += std::string(i ? "," : "") + R"({"id": "n)" + std::to_string(i) + R"(", "limit_kw": 1})";
  const auto nodes = error_of(R"({"slots": 1, "capacity": {"id": "t", "limit_kw": 5, "children": )" + children +
                              R"(]}, "price_per_kwh": [1], "evs": []})");
  EXPECT_THAT(nodes, HasSubstr("capacity.children[999]: the capacity tree has more than 1000 nodes"));
  EXPECT_EQ(nodes.find("children[998]:"), std::string::npos) << "said once, at the first node over";
  EXPECT_THAT(error_of("{\"evs\": " + std::string(40, '[') + std::string(40, ']') + "}"),
              HasSubstr("scenario.json: nested deeper than 32 levels"));
  EXPECT_THAT(error_of(std::string(kMaxScenarioBytes + 1, ' ')), HasSubstr("over the limit of 33554432 bytes"));
}

TEST(Scenario, ReportsEveryProblemNotJustTheFirst) {
  try {
    parse_scenario(small(R"([{"id": "a", "arrival_slot": 0, "departure_slot": 4, "max_kw": 7},
                            {"id": "b", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5}])"),
                   "s.json");
    FAIL() << "accepted";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.messages().size(), 2u);
  }
}

TEST(Scenario, PhasesPhaseLimitsAndPerPhaseBaseLoad) {
  const auto p = parse_scenario(
      R"({"slots": 2, "slot_minutes": 60,
          "capacity": {"id": "t", "limit_kw": 100, "phase_limit_kw": [30, [20, 25], null],
                       "children": [{"id": "f", "limit_kw": 50, "phase_limit_kw": [10, 10, 10],
                                     "base_load_phase_kw": [1, [2, 3], 0]}]},
          "base_load_kw": [9, 12], "base_load_phase_kw": [[3, 4], [3, 4], [3, 4]],
          "price_per_kwh": [1, 1],
          "evs": [{"id": "a", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 5, "max_kw": 7, "phases": "A"},
                  {"id": "b", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 5, "max_kw": 7, "phases": "ABC"},
                  {"id": "c", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 5, "max_kw": 7, "phases": "C"},
                  {"id": "d", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 5, "max_kw": 7}]})",
      "s.json");
  EXPECT_EQ(p.evs[0].phases, scheduler::PhaseSet::a);
  EXPECT_EQ(p.evs[1].phases, scheduler::PhaseSet::abc);
  EXPECT_EQ(p.evs[2].phases, scheduler::PhaseSet::c);
  EXPECT_EQ(p.evs[3].phases, scheduler::PhaseSet::abc) << "the default";
  EXPECT_EQ(p.nodes[0].phase_limit_kw[0], (std::vector<double>{30, 30}));
  EXPECT_EQ(p.nodes[0].phase_limit_kw[1], (std::vector<double>{20, 25}));
  EXPECT_TRUE(p.nodes[0].phase_limit_kw[2].empty()) << "null: no limit on phase C";
  EXPECT_EQ(p.nodes[0].base_load_phase_kw[1], (std::vector<double>{3, 4}));
  EXPECT_EQ(p.nodes[1].base_load_phase_kw[1], (std::vector<double>{2, 3}));
  EXPECT_EQ(p.nodes[1].base_load_phase_kw[2], (std::vector<double>{0, 0}));
}

TEST(Scenario, PhaseMistakesNameTheFieldAndTheIndex) {
  const std::string ev = R"([{"id": "a", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 5, "max_kw": 7, "phases": "AB"}])";
  EXPECT_THAT(error_of(small(ev)), HasSubstr("evs[0] (id \"a\"): phases must be \"A\", \"B\", \"C\" or \"ABC\", got \"AB\""));
  auto tree = [](const std::string& node_extra) {
    return R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5)" + node_extra + R"(}, "price_per_kwh": [1, 1], "evs": []})";
  };
  EXPECT_THAT(error_of(tree(R"(, "phase_limit_kw": [1, 2])")),
              HasSubstr("capacity (id \"t\"): phase_limit_kw must be an array of 3 entries [A, B, C]"));
  EXPECT_THAT(error_of(tree(R"(, "phase_limit_kw": [1, [2, 3, 4], 5])")),
              HasSubstr("capacity (id \"t\"): phase_limit_kw[1] (phase B) has 3 values, expected slots = 2"));
  EXPECT_THAT(error_of(tree(R"(, "phase_limit_kw": [1, 2, [3, "x"]])")),
              HasSubstr("capacity (id \"t\"): phase_limit_kw[2] (phase C)[1] must be a number, got string \"x\""));
  EXPECT_THAT(error_of(tree(R"(, "phase_limit_kw": [1, -2, 3])")),
              HasSubstr("phase_limit_kw B[0] must be a finite number >= 0"));
  EXPECT_THAT(error_of(tree(R"(, "base_load_phase_kw": [1, null, 3])")),
              HasSubstr("base_load_phase_kw[1] (phase B) must be a number or an array of 2 numbers, got null"));
  EXPECT_THAT(error_of(small("[]", R"(, "base_load_phase_kw": [[1, 2, 3, 4], [1, 2, 3, 4]])")),
              HasSubstr("scenario.json: base_load_phase_kw must be an array of 3 entries"));
  EXPECT_THAT(error_of(small("[]", R"(, "base_load_phase_kw": [[1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4]])")),
              HasSubstr("scenario.json: base_load_phase_kw[1] (phase B) has 3 values, expected slots = 4"));
  EXPECT_THAT(error_of(R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 5, "base_load_phase_kw": [1, 1, 1]},
                          "base_load_phase_kw": [1, 1, 1], "price_per_kwh": [1, 1], "evs": []})"),
              HasSubstr("base_load_phase_kw: given both at the top level and in capacity"));
}

TEST(Scenario, PlanJsonGivesEachNodesLoadPerPhase) {
  const auto p = parse_scenario(small(R"([{"id": "a", "node": "f", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 12, "max_kw": 7, "phases": "B"},
                                          {"id": "b", "arrival_slot": 0, "departure_slot": 1, "energy_kwh": 3, "max_kw": 3}])",
                                      R"(, "base_load_kw": [6, 6, 6, 6])"),
                                "s.json");
  const auto j = plan_to_json(p, scheduler::plan_edf(p), 1.0);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["id"], "t");
  EXPECT_EQ(j["nodes"][0]["load_kw"], nlohmann::json({16.0, 11.0, 6.0, 6.0}));
  // Root: base 2 per phase; b (three-phase, 3 kW) 1 per phase in slot 0; a on B.
  EXPECT_EQ(j["nodes"][0]["phase_load_kw"][0], nlohmann::json({3.0, 2.0, 2.0, 2.0}));
  EXPECT_EQ(j["nodes"][0]["phase_load_kw"][1], nlohmann::json({10.0, 7.0, 2.0, 2.0}));
  EXPECT_EQ(j["nodes"][1]["phase_load_kw"][1], nlohmann::json({7.0, 5.0, 0.0, 0.0}));
  EXPECT_EQ(j["nodes"][1]["phase_load_kw"][2], nlohmann::json({0.0, 0.0, 0.0, 0.0}));
}

TEST(Scenario, PlanJsonCarriesPlanTotalsAndBothKpis) {
  const auto p = parse_scenario(small(R"([{"id": "a", "node": "f", "arrival_slot": 0, "departure_slot": 4, "energy_kwh": 12, "max_kw": 7}])",
                                      R"(, "base_load_kw": [5, 5, 5, 5])"),
                                "s.json");
  const auto plan = scheduler::plan_edf(p);
  const auto j = plan_to_json(p, plan, 1.25);
  EXPECT_EQ(j["status"], "optimal");
  EXPECT_EQ(j["evs"][0]["id"], "a");
  EXPECT_EQ(j["evs"][0]["kw"], nlohmann::json({7.0, 5.0, 0.0, 0.0}));
  EXPECT_EQ(j["evs"][0]["energy_kwh"], 12.0);
  EXPECT_EQ(j["total_kw"], nlohmann::json({7.0, 5.0, 0.0, 0.0}));
  EXPECT_EQ(j["root_load_kw"], nlohmann::json({12.0, 10.0, 5.0, 5.0}));
  EXPECT_EQ(j["kpi"]["sessions_met"], 1);
  EXPECT_DOUBLE_EQ(j["kpi"]["cost_yuan"].get<double>(), 3.6) << "rounded to 4 decimals";
  EXPECT_TRUE(j.contains("kpi_uncontrolled"));
  EXPECT_EQ(j["solve_ms"], 1.25);
}

}  // namespace
}  // namespace orderly::gateway

// `orderly plan` as users run it: the built binary on the shipped examples and on broken
// scenarios, judged by exit code, stdout JSON and the stderr message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <nlohmann/json.hpp>
#include <string>

#include "orderly/test/support.hpp"

namespace {

using ::testing::HasSubstr;
using nlohmann::json;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Run run_plan(const std::string& arguments) {
  orderly::test::TempDir dir;
  const auto out = dir / "stdout";
  const auto err = dir / "stderr";
  const std::string command = "'" + orderly::test::orderly_binary().string() + "' plan " + arguments + " >'" +
                              out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(command.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = orderly::test::read_file(out);
  r.err = orderly::test::read_file(err);
  return r;
}

std::string example(const std::string& name) {
  return "'" + (orderly::test::source_dir() / "docs" / "examples" / name).string() + "'";
}

double sum_of(const json& a) {
  double s = 0;
  for (const auto& v : a) s += v.get<double>();
  return s;
}

TEST(PlanCli, EveryExampleWithEveryAlgorithmGivesAConsistentPlan) {
  for (const std::string name : {"feeder.json", "v2g.json", "capacity-short.json", "phases.json"}) {
    for (const std::string algorithm : {"optimal", "uncontrolled", "edf", "llf"}) {
      SCOPED_TRACE(name + " " + algorithm);
      const auto r = run_plan(example(name) + " --algorithm " + algorithm);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto j = json::parse(r.out);
      EXPECT_EQ(j["algorithm"], algorithm);
      EXPECT_TRUE(j["status"] == "optimal" || j["status"] == "capacity_short");
      const int slots = j["slots"];
      ASSERT_EQ(j["total_kw"].size(), static_cast<std::size_t>(slots));
      for (int t = 0; t < slots; ++t) {
        double total = 0;
        for (const auto& ev : j["evs"]) total += ev["kw"][static_cast<std::size_t>(t)].get<double>();
        EXPECT_NEAR(total, j["total_kw"][static_cast<std::size_t>(t)].get<double>(), 1e-3);
      }
      for (const auto& ev : j["evs"]) {
        ASSERT_EQ(ev["kw"].size(), static_cast<std::size_t>(slots));
        // kw are ceilings: a car stops at its request (the optimal plan's last whole-amp step
        // may overshoot it, docs/scheduler.md), so the energy counted is capped there.
        const double allowed_kwh = sum_of(ev["kw"]) * j["slot_minutes"].get<double>() / 60;
        EXPECT_NEAR(std::min(allowed_kwh, ev["requested_kwh"].get<double>()), ev["energy_kwh"].get<double>(), 1e-2);
      }
      EXPECT_GE(j["solve_ms"].get<double>(), 0.0);
      EXPECT_EQ(j["kpi"]["sessions_total"], j["evs"].size());
      EXPECT_TRUE(j["kpi_uncontrolled"].contains("peak_kw"));
      if (algorithm != "uncontrolled") {
        EXPECT_EQ(j["kpi"]["overload_slots"], 0) << "planned charging never overloads";
      }
    }
  }
}

TEST(PlanCli, OptimalIsTheDefaultAndBeatsUncontrolledWhereCapacityIsShort) {
  const auto r = run_plan(example("capacity-short.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["algorithm"], "optimal");
  EXPECT_EQ(j["status"], "capacity_short");
  EXPECT_GT(j["kpi_uncontrolled"]["overload_slots"].get<int>(), 0);
  EXPECT_EQ(j["kpi"]["overload_slots"], 0);
  EXPECT_LT(j["kpi"]["peak_kw"].get<double>(), j["kpi_uncontrolled"]["peak_kw"].get<double>());
}

TEST(PlanCli, FeasibleExamplesAreServedInFull) {
  for (const std::string name : {"feeder.json", "v2g.json"}) {
    SCOPED_TRACE(name);
    const auto edf = json::parse(run_plan(example(name) + " --algorithm edf").out);
    EXPECT_EQ(edf["status"], "optimal") << "EDF proves the example feasible";
    const auto r = run_plan(example(name));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = json::parse(r.out);
    // The exact plan, rounded to what piles accept (min_kw), may lose a little energy in the
    // rounding repair (planner.hpp: rounding_loss_kwh); it must stay within 0.5 kWh in all.
    EXPECT_NEAR(j["kpi"]["energy_delivered_kwh"].get<double>(), j["kpi"]["energy_requested_kwh"].get<double>(), 0.5);
    EXPECT_LE(j["kpi"]["cost_yuan"].get<double>(), edf["kpi"]["cost_yuan"].get<double>());
    EXPECT_GE(j["kpi"]["valley_share"].get<double>(), edf["kpi"]["valley_share"].get<double>());
  }
}

// The plan output gives each node's load per phase; on phases.json (25 single-phase piles on
// phase A) uncontrolled charging overloads phase A and the plan keeps every phase.
TEST(PlanCli, PhasesExampleGivesEveryNodesPhaseLoadsWithinTheirLimits) {
  const auto r = run_plan(example("phases.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["status"], "optimal");
  EXPECT_EQ(j["kpi"]["overload_slots"], 0);
  EXPECT_GT(j["kpi_uncontrolled"]["overload_slots"].get<int>(), 0);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_EQ(j["nodes"][0]["id"], "transformer");
  EXPECT_EQ(j["nodes"][1]["id"], "block-a");
  const std::array<double, 3> root_limits{150, 160, 160};
  for (std::size_t ph = 0; ph < 3; ++ph) {
    const auto& series = j["nodes"][0]["phase_load_kw"][ph];
    ASSERT_EQ(series.size(), 96u);
    for (const auto& kw : series) EXPECT_LE(kw.get<double>(), root_limits[ph] + 1e-3) << "phase " << ph;
  }
  for (const auto& kw : j["nodes"][1]["phase_load_kw"][0]) EXPECT_LE(kw.get<double>(), 110 + 1e-3);
  for (const auto& kw : j["nodes"][1]["phase_load_kw"][1]) EXPECT_EQ(kw.get<double>(), 0.0) << "block A's piles are all on A";
}

TEST(PlanCli, PrettyOutputParsesToTheSamePlan) {
  const auto compact = run_plan(example("feeder.json") + " --algorithm edf");
  const auto pretty = run_plan(example("feeder.json") + " --algorithm=edf --pretty");
  ASSERT_EQ(pretty.exit_code, 0) << pretty.err;
  auto a = json::parse(compact.out), b = json::parse(pretty.out);
  a.erase("solve_ms");
  b.erase("solve_ms");
  EXPECT_EQ(a, b);
  EXPECT_GT(std::count(pretty.out.begin(), pretty.out.end(), '\n'), 100);
}

TEST(PlanCli, BadScenarioExitsTwoNamingTheFieldAndTheEv) {
  orderly::test::TempDir dir;
  const auto path = orderly::test::write_file(dir / "scenario.json", R"({"slots": 24, "slot_minutes": 60,
    "capacity": {"id": "transformer", "limit_kw": 100},
    "price_per_kwh": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],
    "evs": [{"id": "ev-1", "arrival_slot": 0, "departure_slot": 10, "energy_kwh": 5, "max_kw": 7},
            {"id": "ev-2", "arrival_slot": 0, "departure_slot": 10, "energy_kwh": 5, "max_kw": 7},
            {"id": "ev-3", "arrival_slot": 0, "departure_slot": 10, "energy_kwh": 5, "max_kw": 7},
            {"id": "ev-4", "arrival_slot": 20, "departure_slot": 10, "energy_kwh": 5, "max_kw": 7}]})");
  const auto r = run_plan("'" + path.string() + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("scenario.json: evs[3] (id \"ev-4\"): departure_slot 10 is before arrival_slot 20"));
  EXPECT_TRUE(r.out.empty()) << "no plan on stdout for a rejected scenario";
}

TEST(PlanCli, EachKindOfMistakeIsRejectedWithItsMessage) {
  orderly::test::TempDir dir;
  const std::string head = R"({"slots": 2, "capacity": {"id": "t", "limit_kw": 50, "children": [{"id": "f", "limit_kw": 20}]},
                               "price_per_kwh": [1, 2], "evs": [)";
  const std::string ok = R"({"id": "a", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 5, "max_kw": 7})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"id": "b", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": -1, "max_kw": 7})",
       R"(evs[1] (id "b"): energy_kwh -1 must be a finite number >= 0)"},
      {R"({"id": "b", "node": "nowhere", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 1, "max_kw": 7})",
       R"(evs[1] (id "b"): node "nowhere" is not in the capacity tree)"},
      {R"({"id": "a", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 1, "max_kw": 7})",
       R"(evs[1] (id "a"): duplicate id "a")"},
      {R"({"id": "b", "arrival_slot": 0, "departure_slot": 2, "energy_kwh": 1})",
       R"(evs[1] (id "b"): missing required field "max_kw")"},
      {R"({"id": "b", "arrival_slot": "0", "departure_slot": 2, "energy_kwh": 1, "max_kw": 7})",
       R"(evs[1] (id "b"): arrival_slot must be a whole number, got string "0")"},
  };
  for (const auto& [ev, message] : cases) {
    const auto path = orderly::test::write_file(dir / "bad.json", head + ok + "," + ev + "]}");
    const auto r = run_plan("'" + path.string() + "'");
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_THAT(r.err, HasSubstr("bad.json: " + message));
  }
  const auto lengths = orderly::test::write_file(
      dir / "len.json", R"({"slots": 2, "capacity": {"id": "t", "limit_kw": [5, 5, 5]}, "price_per_kwh": [1, 2], "evs": []})");
  const auto r = run_plan("'" + lengths.string() + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("len.json: capacity (id \"t\"): limit_kw has 3 values, expected slots = 2"));
}

TEST(PlanCli, UsageMistakesExitTwo) {
  EXPECT_EQ(run_plan("").exit_code, 2);
  const auto unknown = run_plan(example("feeder.json") + " --algorithm magic");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown algorithm 'magic'"));
  const auto missing = run_plan("/nonexistent/scenario.json");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("cannot read scenario file '/nonexistent/scenario.json'"));
  const auto help = run_plan("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: orderly plan"));
}

}  // namespace

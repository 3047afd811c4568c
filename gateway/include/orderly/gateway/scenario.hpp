#pragma once
// Scenario files for `orderly plan`: one planning problem as JSON (format and defaults in
// docs/scenario-format.md), parsed and checked at the edge into scheduler::Problem, and a plan
// written back as JSON.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {

// Every message is prefixed with the source name and names the field (and the EV), one
// problem per line, e.g.
//   scenario.json: evs[3] (id "ev-4"): departure_slot 10 is before arrival_slot 20
class ScenarioError : public std::runtime_error {
 public:
  explicit ScenarioError(const std::vector<std::string>& messages);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

// The largest problem a scenario may describe. A file may come from anywhere; without bounds
// "slots": 1000000000 makes every per-slot array, and the planner, allocate until the box dies.
// A week of 5-minute slots, a city district's EVs, a deep distribution tree: far above any real
// community, far below what exhausts memory (EVs x slots doubles for the plan: about 80 MB).
inline constexpr std::size_t kMaxScenarioBytes = 32 * 1024 * 1024;
inline constexpr int kMaxScenarioSlots = 7 * 24 * 12;
inline constexpr std::size_t kMaxScenarioEvs = 5000;
inline constexpr std::size_t kMaxScenarioNodes = 1000;

// Throws ScenarioError listing every problem found (JSON syntax, missing or unknown fields,
// wrong types or lengths, unknown nodes, duplicate ids, sizes over the limits above, and
// scheduler::problems()).
scheduler::Problem parse_scenario(const std::string& json_text, const std::string& source_name);

// Tariff periods when a scenario gives none: the cheapest price level is valley, the most
// expensive peak (sharp, with peak the next level down, when there are 4 or more levels),
// everything else flat. One level only: all flat.
std::vector<scheduler::Period> periods_from_prices(const std::vector<double>& price_per_kwh);

nlohmann::json kpi_to_json(const scheduler::Kpi& kpi);

// {"status", "evs": [{"id", "kw", "energy_kwh", ...}], "nodes": [{"id", "load_kw",
//  "phase_load_kw": [A, B, C]}], "total_kw", "root_load_kw", "kpi", "kpi_uncontrolled",
//  "solve_ms"}; kpi_uncontrolled is the same problem planned uncontrolled.
nlohmann::json plan_to_json(const scheduler::Problem& problem, const scheduler::Plan& plan, double solve_ms);

}  // namespace orderly::gateway

#pragma once
// One entry point for every planning algorithm, so the CLI, the gateway and the benchmarks pick
// one by name and get plans completed the same way (charging_kw and kpi filled by kpi.hpp).
#include <optional>
#include <string_view>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

// The problem must be valid (validate.hpp: problems(problem) empty).
Plan make_plan(const Problem& problem, Algorithm algorithm);

// "optimal", "uncontrolled", "edf", "llf"; empty for anything else.
std::optional<Algorithm> parse_algorithm(std::string_view name);

}  // namespace orderly::scheduler

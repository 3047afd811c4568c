#pragma once
// Checks the invariants every planner relies on, so planners can assume them instead of each
// re-checking. Messages name the element and the field, e.g.
//   evs[3] (id "ev-4"): departure_slot 10 is before arrival_slot 20
// Callers (scenario parser, gateway) prefix them with where the problem came from.
#include <string>
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

// Empty when the problem is well formed.
std::vector<std::string> problems(const Problem& problem);

}  // namespace orderly::scheduler

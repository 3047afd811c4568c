#pragma once
// Shared between the flow solve (optimal.cpp) and the setpoint rounding (optimal_rounding.cpp).
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler::detail {

// Rounds every charge-only EV's charging power down to what its pile accepts, then puts the
// lost energy back where every node on the way to the root still has headroom (cheapest slots
// first, higher priority first). ev_kw is changed in place; returns the energy (kWh) that could
// not be placed again. Bidirectional piles are left as solved: they are DC piles that take
// fine setpoints, and moving their charge would move their state of charge under discharges.
double round_setpoints(const Problem& problem, std::vector<std::vector<double>>& ev_kw);

}  // namespace orderly::scheduler::detail

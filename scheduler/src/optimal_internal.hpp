#pragma once
// Shared between the flow solve (optimal.cpp) and the setpoint rounding (optimal_rounding.cpp).
#include <cstdint>
#include <vector>

#include "orderly/scheduler/planner.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler::detail {

// Rounds every charge-only EV's charging power down to what its pile accepts, then puts the
// lost energy back where every node on the way to the root still has headroom (cheapest slots
// first, higher priority first). A remainder below one accepted increment of an EV the exact
// plan serves in full is placed as one increment and the surplus taken back from the EV's
// other slots, down to min_kw: exact on piles continuous above min_kw, less than one step x
// slot over on whole-amp piles (a setpoint is a ceiling). ev_kw is changed in place; returns the energy (kWh)
// that could not be placed again. Bidirectional piles are left as solved: they are DC piles that take
// fine setpoints, and moving their charge would move their state of charge under discharges.
double round_setpoints(const Problem& problem, std::vector<std::vector<double>>& ev_kw);

// Re-deals each slot's energy among the charge-only cars of one charger node so each car gets
// an early block instead of alternating. Node loads, per-car energy, cost and valley filling
// stay exactly as solved. units[ev][slot], max_units[ev] and first_max_units[ev] (slot 0,
// Problem::first_slot_fraction) in the flow's energy units.
// True when some node has a limit on a phase.
bool has_phase_limits(const Problem& problem);

// Whether every phase of every node stays inside its limit with these powers (charging adds
// nothing to a phase its base load alone overloads).
bool phase_limits_hold(const Problem& problem, const std::vector<std::vector<double>>& ev_kw);

// The exact plan under phase limits as a sequence of LPs (optimal_lp.cpp): the flow's
// objectives in the same order, each optimum fixed before the next. [ev][slot] in kW.
std::vector<std::vector<double>> solve_phase_lp(const Problem& problem, const OptimalOptions& options);

void smooth_setpoints(const Problem& problem, const std::vector<std::int64_t>& max_units,
                      const std::vector<std::int64_t>& first_max_units,
                      std::vector<std::vector<std::int64_t>>& units);

}  // namespace orderly::scheduler::detail

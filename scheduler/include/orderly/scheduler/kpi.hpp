#pragma once
// Figures of merit for a plan, computed the same way for every algorithm so they compare.
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

// A plan overloads a node when its load exceeds the limit by more than this (kW); smaller
// excesses are floating-point noise from the solvers.
inline constexpr double kOverloadToleranceKw = 1e-6;
// A session is met when it is short by at most 1 Wh.
inline constexpr double kSessionMetToleranceKwh = 1e-3;

// Load per node and slot: the node's own base_load_kw plus every EV charging anywhere in its
// subtree (discharge counts negative), at the full setpoints: what the piles are allowed to
// draw, so peak_kw and overload_slots are never understated. [node][slot].
std::vector<std::vector<double>> node_load_kw(const Problem& problem, const Plan& plan);

// Load per node, phase and slot: the node's base load on that phase (base_load_phase_at) plus
// every EV below it at its full setpoint x phase_share. [node][phase][slot]; kPhases phases.
std::vector<std::vector<std::vector<double>>> node_phase_load_kw(const Problem& problem, const Plan& plan);

// Energy delivered (net) per EV, kWh. A setpoint is a ceiling: a charge-only car stops at its
// request, so energy above energy_kwh (the exact planner's last rounded increment may overshoot
// it) is not counted, here nor in compute_kpi's energy, cost, valley shares and sessions met.
std::vector<double> delivered_kwh(const Problem& problem, const Plan& plan);

// Reads plan.ev_kw only (charging_kw and kpi of the plan are ignored and may be stale).
Kpi compute_kpi(const Problem& problem, const Plan& plan);

// A plan's KPIs beside those of the uncontrolled plan (every car at full power on arrival) of
// the same problem: what orderly charging buys on that day.
struct KpiComparison {
  Kpi plan;
  Kpi uncontrolled;
  double cost_saving_yuan = 0;       // uncontrolled - plan
  double peak_reduction_kw = 0;      // uncontrolled - plan
  int overload_slots_avoided = 0;    // uncontrolled - plan
  double valley_share_gain = 0;      // plan - uncontrolled (fraction, 0..1)
};
KpiComparison compare_with_uncontrolled(const Problem& problem, const Plan& plan);

// Sum over EVs per slot, as Plan::charging_kw.
std::vector<double> total_charging_kw(const Problem& problem, const Plan& plan);

// Fills plan.charging_kw and plan.kpi from plan.ev_kw; every planner's result passes here so the
// figures are computed one way.
void complete_plan(const Problem& problem, Plan& plan);

}  // namespace orderly::scheduler

#pragma once
// The exact planner: the plan for the whole horizon as one min-cost flow (LEMON network
// simplex), in whole energy units so the same problem always gives the same plan, bit for bit. The formulation,
// and why it is exact, is in docs/scheduler.md.
//
// Objectives, strictly in this order:
//   1. no capacity node (transformer, phase, feeder, cabinet) above its limit in any slot;
//   2. every EV's energy by its departure; when capacity is short, the most energy that fits,
//      higher priority first, then within a priority the lexicographically max-min fair served
//      fractions (delivered / need: the smallest as large as possible, then the next, ...);
//   3. lowest energy cost under the time-of-use tariff (V2G discharge where it pays);
//   4. among equally cheap plans, the flattest transformer load (valley filling);
//   5. optionally (smooth_setpoints), fewer setpoint changes: cars on one charger node charge
//      in blocks, not alternately.
// Then, optionally, setpoints are rounded to what AC piles accept (0 or >= min_kw, whole-amp
// steps) and repaired without ever raising a node above its limit, moving power between a
// car's slots rather than over-delivering: a pile continuous above min_kw gets exactly its
// request, a whole-amp pile less than one step x slot more (a setpoint is a ceiling: the car
// stops drawing at its request; kpi.hpp counts its energy up to the request only).
// plan.status is the exact plan's.
#include <cstdint>
#include <stdexcept>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

struct OptimalOptions {
  // Objective 4. Off leaves ties between equally cheap slots to the solver (still exact in cost).
  bool valley_filling = true;
  // Convex penalty pieces per slot on the transformer load, evenly spaced between the lowest
  // base load and the highest load the EVs could cause: the peak is flattest to within one
  // piece width (about (max limit - min base) / pieces); 1..1000. More pieces, flatter but slower; see docs/benchmarks.md.
  int valley_pieces = 16;
  // Objective 5: re-deal each slot's energy among the cars on the same charger node so each
  // car charges in an early block instead of alternating with its neighbours. Changes nothing
  // else (node loads, energy per car, cost, valley filling). Halves the setpoint changes but
  // one flow per charger node doubles the solve time (1000 x 96: 22 -> 45 ms), which would
  // miss the 30 ms target; off by default, worth turning on where time allows.
  bool smooth_setpoints = false;
  // Round setpoints to min_kw / power_step_kw of each pile, then repair. Off gives the exact
  // continuous plan (what the oracle tests compare).
  bool round_setpoints = true;
  // Energy quantum of the flow model, Wh. Capacities are floored to it (so no limit is ever
  // exceeded by quantisation) and needs floored too (so no EV gets more than it asked).
  double energy_unit_wh = 1.0;
  // Simplex iterations the phase LP (docs/scheduler.md, "Phase limits") may take over all its
  // stages; 0 = no limit. Past it solve_optimal throws PhaseLpIterationLimit, so a caller that
  // cannot wait seconds (the gateway plans on its core thread) can fall back to something
  // safe. Iterations, not time, so the same input still gives the same answer on every box.
  long phase_lp_iteration_limit = 0;
};

// Thrown by solve_optimal when the phase LP would need more than phase_lp_iteration_limit.
struct PhaseLpIterationLimit : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptimalResult {
  Plan plan;                        // status, ev_kw and charging_kw; kpi left default
  double rounding_loss_kwh = 0;     // energy the rounding could not place again (all EVs):
                                    // only where no slot could take one more accepted
                                    // increment under every limit (docs/scheduler.md)
  int graph_nodes = 0;              // size of the first flow network solved
  int graph_arcs = 0;
  int solves = 0;                   // network simplex runs: 1 when every request fits;
                                    // when capacity is short 1-2 (3 with V2G piles); up to
                                    // 4 more when rounding lost energy (the margin retry);
                                    // with V2G piles the fair-share steps too
  int fair_share_flows = 0;         // capacity short without V2G piles: warm-started
                                    // maximum flows of the fair-share search (one per step)
  int lp_solves = 0;                // exact plans made by the phase LP because the flow's
                                    // optimum broke a phase limit (docs/scheduler.md)
};

// Throws std::invalid_argument when the problem is malformed (sizes, parent indices, windows);
// the scenario and gateway validation (validate.hpp) catches these earlier with better messages.
OptimalResult solve_optimal(const Problem& problem, const OptimalOptions& options = {});

// As solve_optimal, returning the plan only.
Plan plan_optimal(const Problem& problem);
Plan plan_optimal(const Problem& problem, const OptimalOptions& options);

}  // namespace orderly::scheduler

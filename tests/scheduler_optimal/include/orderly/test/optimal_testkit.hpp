#pragma once
// Instances and an independent LP oracle for the exact planner's tests and benchmarks.
#include <cstdint>
#include <string>
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::test {

struct InstanceSpec {
  int evs = 20;
  int slots = 96;                 // 96 (15 min) or 288 (5 min), horizon starts at 12:00
  int phases = 3;                 // root -> phases -> feeders (2 per phase); 0 = root only
  double root_tightness = 0.6;    // root limit = base peak + this x (sum of EV max_kw) / 4
  double v2g_share = 0;           // fraction of EVs on bidirectional piles
  bool ac_rounding = false;       // min 1.38 kW (6 A) and 0.23 kW (1 A) steps on AC piles
  bool dr_event = true;           // root limit lowered 18:00-20:00
  bool use_trondheim = false;     // draw sessions from the Trondheim data set when available
  int priorities = 1;             // priorities drawn from 1..priorities
  // Electrical phases. This share of the EVs is on single-phase piles (phase A, B or C at
  // random, at most 7 kW), the rest three-phase; of those, this share charges a car on an
  // unknown single phase (PhaseSet::any_one). All 0: every EV three-phase, as before.
  double single_phase_share = 0;
  double any_one_share = 0;
  // > 0: the transformer gets a limit per phase of this x its limit / 3 and an unbalanced
  // per-phase base load (40 / 30 / 30 %); with feeder_phase_limits, feeder-1 and feeder-4 get
  // per-phase limits of this x 0.4 x their limit as well, so phase limits sit both above and
  // below the "phase-k" nodes' own totals (the constraint family is not laminar).
  double phase_tightness = 0;
  bool feeder_phase_limits = false;
};

// Deterministic for a given spec and seed. Every figure is a whole Wh per slot and prices have
// 4 decimals, so the flow model's integer units represent the instance exactly and the LP and
// the flow planner solve the same problem.
scheduler::Problem make_instance(const InstanceSpec& spec, std::uint64_t seed);

// True when make_instance(spec with use_trondheim) used the data file (false: synthetic).
bool trondheim_available();

// Cost as the planner minimises it: tariff x net energy at the transformer plus V2G
// compensation (yuan).
double plan_cost_yuan(const scheduler::Problem& problem,
                      const std::vector<std::vector<double>>& ev_kw);

struct OracleResult {
  bool all_met = false;                       // every need can be delivered in full
  double delivered_kwh = 0;                   // lexicographic max by priority, total
  std::vector<double> delivered_by_priority;  // indexed by priority value (0..max)
  double cost_yuan = 0;                       // min cost given that delivery
  std::vector<std::vector<double>> ev_kw;     // an optimal plan [ev][slot]
};

// Two (or more) stage LP with GLPK (per-phase rows where nodes have phase limits): maximise delivered energy priority by priority, then
// minimise cost with those deliveries fixed. Written from the problem statement, not from the
// flow network: one variable per EV, slot and direction; one row per node and slot.
OracleResult lp_oracle(const scheduler::Problem& problem);

// Minimum cost (yuan) when EV e must get exactly delivered_kwh[e]; checks the cost part of a
// capacity-short plan, whose split the planner chose by priority and fairness.
double lp_min_cost_given(const scheduler::Problem& problem,
                         const std::vector<double>& delivered_kwh);

// Each EV's delivery (kWh) in the lexicographically max-min fair plan: priority by priority,
// highest first, the smallest served fraction (delivered / need) as large as possible, then
// the next smallest, and so on (progressive filling, one LP per car and round).
std::vector<double> lp_max_min_fair(const scheduler::Problem& problem);

}  // namespace orderly::test

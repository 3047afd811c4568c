#pragma once
// The real-time limiter: between plans, from the measured load, cuts charger setpoints so every
// capacity node is back inside its limit at once (one call, from an overload of any size).
//
// Assumption, stated once: the non-EV part of a measured load is
//   measured node load - sum of the measured power of the chargers below that node
// (clamped at 0). A charger whose power is not measured counts as 0 in that sum, so whatever it
// really draws stays in the non-EV part; its future load is then counted again on top (its new
// setpoint, or its max_kw when unresponsive). Unknown power is double-counted, never missed.
// A node without a measurement uses LimitNode::base_load_kw (e.g. the forecast) as its non-EV
// load.
// Per phase the same: non-EV on a phase = measured phase load - sum of the measured power of
// the chargers below x phase_share (clamped at 0; an any_one pile's measured power is taken
// off no phase, since its car's phase is unknown); an unmeasured phase uses base_load_phase_kw,
// else base_load_kw / 3. A phase limit cuts only the chargers that load that phase (a phase-A
// pile for phase A, a three-phase pile for any of its phases); the node total cuts them all.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

struct LimitNode {
  int parent = -1;                       // index of the parent, smaller than own index; -1 root
  double limit_kw = 0;                   // the limit now (DR events included)
  std::optional<double> measured_kw;     // measured total load at this node; required at the root
  double base_load_kw = 0;               // non-EV load estimate used when measured_kw is empty
  // Per phase (A, B, C): the limit (empty = none), the measured load, and the non-EV estimate
  // used when that phase is not measured (default: base_load_kw / 3).
  std::array<std::optional<double>, kPhases> phase_limit_kw{};
  std::array<std::optional<double>, kPhases> measured_phase_kw{};
  std::array<std::optional<double>, kPhases> base_load_phase_kw{};
};

struct ChargerSetpoint {
  int node = 0;                          // capacity node the charger hangs from
  double setpoint_kw = 0;                // planned/current setpoint: never raised
  std::optional<double> measured_kw;     // what it draws now, if known
  double min_kw = 0;                     // 0, or the pile's minimum: 0 or >= min_kw
  double max_kw = 0;
  PhaseSet phases = PhaseSet::abc;       // how its power spreads over the phases
  int priority = 0;                      // higher keeps its minimum first when cut hard
  bool responsive = true;                // follows setpoints; false = taken as fixed load
  std::int64_t pause_order = 0;          // equal priority: the larger pauses first (ShareRequest)
};

// One limit that fixed load alone exceeds: the node total (phase -1) or one phase (0 = A).
struct NodeOverload {
  int node = 0;
  int phase = -1;
  bool operator==(const NodeOverload&) const = default;
};

struct LimiterResult {
  std::vector<double> setpoint_kw;       // one per charger; unresponsive ones keep their input
  bool limits_hold = true;               // false when fixed load alone (non-EV and unresponsive
                                         // chargers) is over a limit: responsive are at 0 there
  std::vector<int> overloaded_nodes;     // nodes with a limit (total or phase) that fixed load
                                         // alone exceeds, ascending
  std::vector<NodeOverload> overloads;   // which limits: by node, then phase (total first)
  std::vector<double> expected_node_load_kw;  // per node, with the new setpoints applied
  std::vector<std::array<double, kPhases>> expected_node_phase_load_kw;  // per node and phase
};

// Never raises a setpoint; cuts responsive chargers by water filling (equal power levels,
// minimum power respected: a charger whose share would fall below its minimum is switched off,
// lowest priority first, then the largest pause_order), bottom-up so that cutting for a parent never breaks a child.
LimiterResult limit_setpoints(const std::vector<LimitNode>& nodes, const std::vector<ChargerSetpoint>& chargers);

// The tree of a problem at one slot, without measurements (base loads from the problem).
std::vector<LimitNode> limit_nodes_at(const Problem& problem, int slot);

}  // namespace orderly::scheduler

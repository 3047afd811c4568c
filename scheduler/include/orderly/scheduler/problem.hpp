#pragma once
// The planning problem and its answer as plain data. Built by gateway (from live state) or by
// `orderly plan` (from a scenario file); the scheduler never does I/O and never reads a clock.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace orderly::scheduler {

enum class Period { sharp, peak, flat, valley };
const char* to_string(Period p);

// The phases a load draws from. A single-phase load takes its whole power from one phase, a
// balanced three-phase load a third from each. `any_one` is a three-phase pile charging a car
// on a single phase it cannot tell (no per-phase current measurement): it is counted in full
// on every phase, which is safe whichever phase the car uses.
enum class PhaseSet { a, b, c, abc, any_one };
const char* to_string(PhaseSet s);
inline constexpr int kPhases = 3;
// The share of a load's power that phase `phase` (0 = A, 1 = B, 2 = C) carries.
inline double phase_share(PhaseSet s, int phase) {
  switch (s) {
    case PhaseSet::a: return phase == 0 ? 1.0 : 0.0;
    case PhaseSet::b: return phase == 1 ? 1.0 : 0.0;
    case PhaseSet::c: return phase == 2 ? 1.0 : 0.0;
    case PhaseSet::abc: return 1.0 / 3.0;
    case PhaseSet::any_one: return 1.0;
  }
  return 1.0;
}

// One node of the capacity tree, flattened: nodes[0] is the root (the transformer); every other
// node names its parent by index, which is always smaller than its own index.
struct CapacityNode {
  std::string id;
  int parent = -1;                     // -1 only for the root
  std::vector<double> limit_kw;        // per slot (size == Problem::slots); may vary (DR events)
  std::vector<double> base_load_kw;    // non-EV load measured/forecast at this node, per slot;
                                       // empty = 0. The root's includes everything below it.
  // Per-phase limits (A, B, C), each per slot; an empty vector = no limit on that phase. Every
  // load below the node counts on a phase by phase_share() of its power.
  std::array<std::vector<double>, kPhases> phase_limit_kw;
  // The non-EV load per phase, per slot; all three empty = base_load_kw split in thirds.
  std::array<std::vector<double>, kPhases> base_load_phase_kw;
};

// The non-EV load of one phase of a node at slot t: its base_load_phase_kw, or a third of
// base_load_kw when none is given (empty base loads are 0).
inline double base_load_phase_at(const CapacityNode& node, int phase, std::size_t t) {
  const auto& own = node.base_load_phase_kw[static_cast<std::size_t>(phase)];
  if (!own.empty()) return t < own.size() ? own[t] : 0.0;
  for (const auto& other : node.base_load_phase_kw)
    if (!other.empty()) return 0.0;
  return t < node.base_load_kw.size() ? node.base_load_kw[t] / kPhases : 0.0;
}

inline bool has_phase_base_load(const CapacityNode& node) {
  for (const auto& base : node.base_load_phase_kw)
    if (!base.empty()) return true;
  return false;
}

inline bool has_phase_limit(const CapacityNode& node) {
  for (const auto& limit : node.phase_limit_kw)
    if (!limit.empty()) return true;
  return false;
}

struct EvRequest {
  std::string id;
  int node = 0;                        // index into Problem::nodes the charger hangs from
  int arrival_slot = 0;                // charges in arrival_slot <= t < departure_slot
  int departure_slot = 0;
  double energy_kwh = 0;               // net energy to deliver by departure
  double max_kw = 0;                   // charger and car limit
  PhaseSet phases = PhaseSet::abc;     // the phases its power is drawn from
  double min_kw = 0;                   // 0, or the pile's minimum: power is 0 or >= min_kw
  int priority = 1;                    // higher is served first when capacity is short
  // Setpoint granularity of the pile when charging (kW); 0 = continuous. AC piles take whole
  // amps (IEC 61851-1 PWM duty cycle encodes current), so e.g. 0.23 for 230 V x 1 A single
  // phase, 0.69 for three phases. Added for the exact planner's rounding step (planner.hpp).
  double power_step_kw = 0;
  bool is_private = true;              // private pile (policy valley-share target 80%)
  // Bidirectional (V2G) piles only; discharge_max_kw == 0 means charge-only.
  double discharge_max_kw = 0;
  double battery_kwh = 0;
  double initial_kwh = 0;
  double reserve_kwh = 0;              // never discharge below this
  double discharge_price_per_kwh = 0;  // paid to the owner per kWh discharged
};

struct Problem {
  int slots = 96;
  double slot_minutes = 15;
  std::vector<CapacityNode> nodes;     // nodes[0] = root
  std::vector<double> price_per_kwh;   // size == slots
  std::vector<Period> period;          // size == slots
  std::vector<EvRequest> evs;
  // Planning mid-slot: the part of slot 0 still ahead, (0, 1]. The caller scales slot 0's
  // limits and base loads (energy per slot) by it; the exact planner then also holds each
  // pile to max_kw x this in slot 0 and rounds there to min_kw / power_step_kw x this, the
  // average over the whole slot of a pile running at those powers for the rest of it.
  double first_slot_fraction = 1.0;

  double slot_hours() const { return slot_minutes / 60.0; }
};

enum class Algorithm { optimal, uncontrolled, edf, llf };
const char* to_string(Algorithm a);

struct Kpi {
  double energy_requested_kwh = 0;
  double energy_delivered_kwh = 0;     // net of V2G discharge
  double energy_discharged_kwh = 0;    // V2G
  int sessions_total = 0;
  int sessions_met = 0;                // delivered >= requested - 1 Wh
  double cost_yuan = 0;                // charging cost minus V2G compensation
  double peak_kw = 0;                  // max over slots of root base load + charging
  int overload_slots = 0;              // slots where any node exceeds its limit, total or on a
                                       // phase (must be 0)
  double valley_share = 0;             // valley energy / charging energy, all piles
  double valley_share_private = 0;     // same, private piles only
};

struct Plan {
  enum class Status { optimal, capacity_short };
  Status status = Status::optimal;
  std::vector<std::vector<double>> ev_kw;  // [ev][slot]; negative = discharge
  std::vector<double> charging_kw;         // [slot] sum over EVs
  Kpi kpi;
};

}  // namespace orderly::scheduler

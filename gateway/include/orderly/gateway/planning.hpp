#pragma once
// From live state to a scheduler::Problem and back: the slot grid, the capacity tree, DR limits,
// the base-load forecast and one EvRequest per open session; then, from the plan, each charger's
// ceiling for the current moment and what the resident page says ("full by 07:10, about 8.40
// yuan"). Pure functions of their arguments: no clock, no I/O. docs/control.md has the rules.
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/scheduler/forecast.hpp"
#include "orderly/scheduler/limiter.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {

// Slots of `slot` length aligned to the site's local clock (00:00, 00:15, ...). Slot 0 is the
// slot `now` falls in, so only `first_slot_fraction` of it is still ahead.
struct SlotGrid {
  TimePoint start{};                  // local-aligned start of slot 0 (a UTC instant)
  std::chrono::minutes slot{15};
  int slots = 0;
  double first_slot_fraction = 1;     // (end of slot 0 - now) / slot, in (0, 1]

  TimePoint slot_start(int k) const { return start + k * slot; }
  TimePoint end() const { return slot_start(slots); }
  // Slot containing t (may be < 0 or >= slots).
  int slot_of(TimePoint t) const;
};

inline constexpr std::chrono::hours kMinHorizon{24};
inline constexpr std::chrono::hours kMaxHorizon{48};

// The grid from `now`: at least 24 h, long enough to end at or after `latest_departure`, at most
// 48 h.
SlotGrid make_slot_grid(TimePoint now, std::chrono::minutes slot, std::chrono::minutes utc_offset,
                        std::optional<TimePoint> latest_departure);

// The forecast's slot numbering (scheduler/forecast.hpp): slot 0 starts on a Monday 00:00 local.
std::int64_t forecast_slot(TimePoint t, std::chrono::minutes slot, std::chrono::minutes utc_offset);

// The capacity tree as the planner and the limiter see it: index 0 is the transformer; every
// [[capacity]] node follows its parent. Limits are the configured ones minus the safety margin.
struct CapacityTree {
  std::vector<std::string> ids;
  std::vector<int> parents;
  std::vector<double> limit_kw;       // configured limit - [control] safety_margin_kw, >= 0
  // Per node: phase limits (A, B, C) minus the safety margin, where configured; and how its
  // non-EV load spreads over the phases without a per-phase meter (a single-phase node: all on
  // its phase).
  std::vector<std::array<std::optional<double>, 3>> phase_limit_kw;
  std::vector<std::array<double, 3>> base_phase_split;
  bool has_phase_limits() const;
  int index_of(const std::string& node_id) const;  // -1 when unknown; "" = root
};
CapacityTree capacity_tree(const Config& config);

// What a charger's measured currents show about the phases it draws from: nullopt when they show
// nothing (not drawing, not measured). A phase counts when it carries at least 1 A and a fifth of
// the largest; one such phase is a single-phase car, three are balanced; two (a two-phase car) are
// counted in full on every phase.
std::optional<scheduler::PhaseSet> phases_shown(const std::array<double, 3>& current_a);
// The phases the planner and the limiter count a charger on: a single-phase pile its wiring; a
// three-phase pile what its currents last showed in this session, else every phase in full
// (scheduler::PhaseSet::any_one), since a single-phase car may be on any of them.
scheduler::PhaseSet counted_phases(Phase wired, std::optional<scheduler::PhaseSet> shown);
// Phases a car actually draws on: 3 for a balanced load, 1 otherwise (its power per phase is
// what sets its minimum and maximum power).
inline int drawn_phase_count(scheduler::PhaseSet s) { return s == scheduler::PhaseSet::abc ? 3 : 1; }

// A demand-response event: the transformer may draw at most limit_kw in [start, end).
struct LimitWindow {
  std::string id;
  TimePoint start{};
  TimePoint end{};
  double limit_kw = 0;
};

// The transformer limit in force at `t`: the configured one, lowered by every DR event active
// then (the lowest wins). Safety margin not subtracted.
double transformer_limit_kw(const Config& config, const std::vector<LimitWindow>& windows, TimePoint t);

// Non-EV transformer load as slot means, for the forecast: fed with every meter sample (measured
// load minus measured charging) and, at start, with what the store kept. Keeps `keep_days`.
class BaseLoadSlots {
 public:
  BaseLoadSlots(std::chrono::minutes slot, std::chrono::minutes utc_offset, int keep_days = 28);
  void add(TimePoint at, double base_kw);
  // One sample per slot that has data, oldest first (scheduler::LoadSample numbering).
  std::vector<scheduler::LoadSample> samples() const;
  std::size_t slot_count() const { return slots_.size(); }

 private:
  std::chrono::minutes slot_;
  std::chrono::minutes utc_offset_;
  int keep_days_;
  std::map<std::int64_t, std::pair<double, int>> slots_;  // slot -> (sum kW, count)
};

struct PlanningInput {
  TimePoint now{};
  std::vector<ActiveSession> sessions;
  std::vector<LimitWindow> limit_windows;            // DR events (active and upcoming)
  std::vector<scheduler::LoadSample> base_history;   // BaseLoadSlots::samples()
  std::optional<double> measured_base_kw;            // non-EV load now, when the meter is fresh
  // The same per phase, when the transformer meter measures its phases: its shares split the
  // forecast instead of the configured base_load_phase_split.
  std::optional<std::array<double, 3>> measured_base_phase_kw;
  // Chargers counted on other phases than their wiring says (counted_phases()); absent = wiring.
  std::map<std::string, scheduler::PhaseSet> charger_phases;
  // Chargers the plan cannot steer (offline, not following): the load counted for them on their
  // node for the whole horizon (failsafe or maximum power, or what they draw).
  std::map<std::string, double> reserved_kw;
};

// A built problem and what its indices mean.
struct PlanningProblem {
  scheduler::Problem problem;
  SlotGrid grid;
  std::vector<std::string> charger_ids;    // per EV of problem.evs
  std::vector<std::string> session_ids;    // per EV
  std::vector<std::string> notes;          // sessions left out and why (for the log)
  // Open sessions with nothing to plan (request met, car full, not_before beyond the horizon):
  // charger id -> session id. They get a plan entry of zeros, not an open ceiling.
  std::map<std::string, std::string> idle_sessions;
  std::vector<double> base_kw;             // forecast non-EV load per slot, before slot-0 scaling
};

inline constexpr int kPriorityNormal = 1;
inline constexpr int kPriorityOverdue = 2;   // departure passed, car still plugged in and short
inline constexpr int kPriorityBoost = 3;

// The problem the optimal planner solves now. Slot 0 is partly gone: its node limits and base
// load are scaled by first_slot_fraction, so the plan's slot-0 energy is what fits in the rest
// of the slot (ceiling_kw() scales the power back). Throws nothing; sessions that cannot be
// planned (unknown charger) are left out with a note.
PlanningProblem build_problem(const Config& config, const PlanningInput& input);

// ---- the plan in force ----------------------------------------------------------------------

struct ChargerPlan {
  std::string session_id;
  std::vector<double> kw;                  // per slot of the grid, as the planner gave it
  double max_kw = 0;
  // Boost ("charge now") or past its departure: full power while the limiter allows, whatever
  // the forecast made of the headroom; kw is then the outlook only.
  bool asap = false;
};

struct ActivePlan {
  SlotGrid grid;
  TimePoint created_at{};
  std::string reason;                      // "slot", "plug-in", "request", "dr-event", ...
  std::string algorithm;                   // "optimal", or "share" when the planner failed
  bool capacity_short = false;
  std::map<std::string, ChargerPlan> chargers;
  std::vector<double> base_kw;             // forecast non-EV load per slot (unscaled)
  std::vector<double> price_per_kwh;       // per slot
};

// The plan from a solved problem.
ActivePlan make_active_plan(const PlanningProblem& planning, const scheduler::Plan& plan, TimePoint created_at,
                            std::string reason, std::string algorithm);

// What planning now gave: the optimal plan, or, when the problem is malformed or the planner
// throws, a `share` plan without entries (every car then shares the headroom under the limiter:
// safe, only not cheapest) and the error.
struct PlanAttempt {
  ActivePlan plan;
  std::vector<std::string> notes;          // sessions left out and why
  std::string error;                       // empty: planned
  std::size_t evs = 0;                     // cars planned
};
PlanAttempt plan_now(const Config& config, const PlanningInput& input, const std::string& reason);

// The ceiling for charger `id` at `t`: the plan's power for the slot t falls in (slot 0 scaled
// back from its remaining fraction), never above the pile's maximum; the maximum for an asap
// car. nullopt: no entry (not in the plan, or t outside the grid).
std::optional<double> ceiling_kw(const ActivePlan& plan, const std::string& charger_id, TimePoint t);

// The forecast non-EV load for the slot t falls in; nullopt outside the grid.
std::optional<double> forecast_base_kw(const ActivePlan& plan, TimePoint t);

// What the resident page shows about one car's plan from `now` on.
struct PlanOutlook {
  std::optional<TimePoint> start;          // first moment the plan charges it
  std::optional<TimePoint> finish;         // when its planned energy is complete
  double expected_kwh = 0;                 // planned energy from now on
  double expected_cost_yuan = 0;           // at the tariff of each slot
  std::vector<double> next_kw;             // planned kW for the next slots, slot of `now` first
  // Every remaining slot of the grid from the slot of `now`: the resident page's timeline.
  TimePoint timeline_start{};              // start of the slot of `now`
  std::vector<double> timeline_kw;         // planned kW per slot
  std::vector<double> timeline_price_per_kwh;
  // The same expected_kwh at the pile's full power from now on ("charge now"), at each slot's
  // tariff: what the resident saves by the plan. No finish when the grid ends first.
  double charge_now_cost_yuan = 0;
  std::optional<TimePoint> charge_now_finish;
};
PlanOutlook outlook(const ActivePlan& plan, const std::string& charger_id, TimePoint now, int next_slots = 8);

// {"created_at_ms", "slot_start_ms", "slot_minutes", "first_slot_fraction", "reason",
//  "algorithm", "capacity_short", "chargers": {"<id>": {"session", "max_kw", "kw": [...]}},
//  "base_kw": [...], "price": [...]} and back. from_json throws std::invalid_argument.
std::string active_plan_to_json(const ActivePlan& plan);
ActivePlan active_plan_from_json(const std::string& text);

// The limiter's view of the capacity tree now: node limits (DR included, margin subtracted),
// the transformer measured when the meter is fresh, feeder nodes measured when their meter is.
// Phase limits follow a DR event in proportion: an event lowering the transformer to 60 % of
// its limit lowers every phase limit to 60 % of its own.
struct NodeReading {
  double kw = 0;
  std::optional<std::array<double, 3>> phase_kw;  // when the meter measures each phase
};
std::vector<scheduler::LimitNode> limiter_nodes(const Config& config, const CapacityTree& tree,
                                                const std::vector<LimitWindow>& windows, TimePoint now,
                                                std::optional<NodeReading> transformer,
                                                const std::map<std::string, NodeReading>& node_measured);

}  // namespace orderly::gateway

#include "orderly/gateway/planning.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "orderly/base/units.hpp"
#include "orderly/gateway/meter_check.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"
#include "orderly/scheduler/validate.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

// How long a measured deviation from the forecast is carried into the next slots (e-folding,
// in slots): the same fade the forecast gives its own recent-error correction.
constexpr double kMeasuredCorrectionDecaySlots = 8;
// One Wh in a 15-minute slot is 4 W: ceilings this close to the pile's maximum mean it.
constexpr double kMaxSnapKw = 0.01;
// 1970-01-05 was a Monday: the forecast's day 0.
constexpr milliseconds kMondayEpoch = days(4);

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t to_ms(TimePoint t) { return duration_cast<milliseconds>(t.time_since_epoch()).count(); }

// Lowest limit of the windows overlapping [from, to), or the configured one.
double transformer_limit_over(const Config& config, const std::vector<LimitWindow>& windows, TimePoint from,
                              TimePoint to) {
  double limit = config.site.transformer.limit_kw;
  for (const auto& w : windows)
    if (w.start < to && from < w.end) limit = std::min(limit, w.limit_kw);
  return limit;
}

}  // namespace

int SlotGrid::slot_of(TimePoint t) const {
  const auto slot_ms = duration_cast<milliseconds>(slot).count();
  return static_cast<int>(floor_div(to_ms(t) - to_ms(start), slot_ms));
}

SlotGrid make_slot_grid(TimePoint now, minutes slot, minutes utc_offset, std::optional<TimePoint> latest_departure) {
  SlotGrid g;
  g.slot = slot;
  const std::int64_t slot_ms = duration_cast<milliseconds>(slot).count();
  const std::int64_t local_ms = to_ms(now) + duration_cast<milliseconds>(utc_offset).count();
  const std::int64_t start_local_ms = floor_div(local_ms, slot_ms) * slot_ms;
  g.start = TimePoint(duration_cast<Duration>(milliseconds(start_local_ms))) - utc_offset;
  g.first_slot_fraction =
      std::clamp(static_cast<double>(start_local_ms + slot_ms - local_ms) / static_cast<double>(slot_ms), 1e-6, 1.0);
  const int min_slots = static_cast<int>(duration_cast<minutes>(kMinHorizon) / slot);
  const int max_slots = static_cast<int>(duration_cast<minutes>(kMaxHorizon) / slot);
  int slots = min_slots;
  if (latest_departure) {
    const auto need = floor_div(to_ms(*latest_departure) - to_ms(g.start) + slot_ms - 1, slot_ms);
    slots = static_cast<int>(std::clamp<std::int64_t>(need, min_slots, max_slots));
  }
  g.slots = slots;
  return g;
}

std::int64_t forecast_slot(TimePoint t, minutes slot, minutes utc_offset) {
  const std::int64_t local_ms = to_ms(t) + duration_cast<milliseconds>(utc_offset).count() - kMondayEpoch.count();
  return floor_div(local_ms, duration_cast<milliseconds>(slot).count());
}

int CapacityTree::index_of(const std::string& node_id) const {
  if (node_id.empty()) return 0;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == node_id) return static_cast<int>(i);
  return -1;
}

CapacityTree capacity_tree(const Config& config) {
  CapacityTree t;
  const double margin = config.control.safety_margin_kw;
  t.ids.push_back(config.site.transformer.id);
  t.parents.push_back(-1);
  t.limit_kw.push_back(std::max(config.site.transformer.limit_kw - margin, 0.0));
  // The margin is kept free below every phase limit too: each is a limit of its own.
  const auto less_margin = [margin](const std::array<std::optional<double>, 3>& limits) {
    std::array<std::optional<double>, 3> out{};
    for (std::size_t p = 0; p < 3; ++p)
      if (limits[p]) out[p] = std::max(*limits[p] - margin, 0.0);
    return out;
  };
  t.phase_limit_kw.push_back(less_margin(config.site.transformer.phase_limit_kw));
  t.base_phase_split.push_back(config.site.transformer.base_load_phase_split);
  // Config validation puts parents before children; anything else would be a bug there.
  for (const auto& n : config.capacity) {
    const int parent = t.index_of(n.parent);
    if (parent < 0)
      throw std::invalid_argument("capacity node '" + n.id + "' names parent '" + n.parent +
                                  "' before it is defined; check [[capacity]] in the configuration");
    t.ids.push_back(n.id);
    t.parents.push_back(parent);
    t.limit_kw.push_back(std::max(n.limit_kw - margin, 0.0));
    t.phase_limit_kw.push_back(less_margin(n.phase_limit_kw));
    if (n.phase != Phase::ABC) {
      std::array<double, 3> one{0, 0, 0};
      one[static_cast<std::size_t>(n.phase)] = 1;
      t.base_phase_split.push_back(one);
    } else {
      t.base_phase_split.push_back(n.base_load_phase_split.value_or(config.site.transformer.base_load_phase_split));
    }
  }
  return t;
}

bool CapacityTree::has_phase_limits() const {
  for (const auto& node : phase_limit_kw)
    for (const auto& l : node)
      if (l) return true;
  return false;
}

std::optional<scheduler::PhaseSet> phases_shown(const std::array<double, 3>& current_a) {
  double largest = 0;
  for (const double a : current_a) {
    if (!std::isfinite(a)) return std::nullopt;
    largest = std::max(largest, std::fabs(a));
  }
  if (largest < 1.0) return std::nullopt;
  int carrying = 0;
  int last = 0;
  for (int p = 0; p < 3; ++p)
    if (std::fabs(current_a[static_cast<std::size_t>(p)]) >= std::max(1.0, 0.2 * largest)) {
      ++carrying;
      last = p;
    }
  if (carrying == 3) return scheduler::PhaseSet::abc;
  if (carrying == 2) return scheduler::PhaseSet::any_one;
  return last == 0 ? scheduler::PhaseSet::a : last == 1 ? scheduler::PhaseSet::b : scheduler::PhaseSet::c;
}

scheduler::PhaseSet counted_phases(Phase wired, std::optional<scheduler::PhaseSet> shown) {
  switch (wired) {
    case Phase::A: return scheduler::PhaseSet::a;
    case Phase::B: return scheduler::PhaseSet::b;
    case Phase::C: return scheduler::PhaseSet::c;
    case Phase::ABC: break;
  }
  return shown.value_or(scheduler::PhaseSet::any_one);
}

double transformer_limit_kw(const Config& config, const std::vector<LimitWindow>& windows, TimePoint t) {
  double limit = config.site.transformer.limit_kw;
  for (const auto& w : windows)
    if (w.start <= t && t < w.end) limit = std::min(limit, w.limit_kw);
  return limit;
}

// ---- base-load history ----------------------------------------------------------------------

BaseLoadSlots::BaseLoadSlots(minutes slot, minutes utc_offset, int keep_days)
    : slot_(slot), utc_offset_(utc_offset), keep_days_(keep_days) {}

void BaseLoadSlots::add(TimePoint at, double base_kw) {
  if (!std::isfinite(base_kw)) return;
  const auto s = forecast_slot(at, slot_, utc_offset_);
  auto& [sum, n] = slots_[s];
  sum += base_kw;
  ++n;
  const std::int64_t keep_slots = static_cast<std::int64_t>(keep_days_) * (24 * 60 / slot_.count());
  while (!slots_.empty() && slots_.begin()->first < s - keep_slots) slots_.erase(slots_.begin());
}

std::vector<scheduler::LoadSample> BaseLoadSlots::samples() const {
  std::vector<scheduler::LoadSample> out;
  out.reserve(slots_.size());
  for (const auto& [slot, acc] : slots_) out.push_back({slot, acc.first / acc.second});
  return out;
}

// ---- the problem ----------------------------------------------------------------------------

PlanningProblem build_problem(const Config& config, const PlanningInput& input) {
  PlanningProblem out;
  const minutes slot{config.control.slot_minutes};
  const minutes offset = config.site.utc_offset;
  std::optional<TimePoint> latest;
  for (const auto& s : input.sessions)
    if (!latest || s.departure > *latest) latest = s.departure;
  out.grid = make_slot_grid(input.now, slot, offset, latest);
  const auto& grid = out.grid;
  const int n = grid.slots;
  const double f = grid.first_slot_fraction;
  const double h = static_cast<double>(slot.count()) / 60.0;

  auto& p = out.problem;
  p.slots = n;
  p.slot_minutes = static_cast<double>(slot.count());
  for (const auto& t : tariff_series(config.tariff, grid.start, slot, n, offset)) {
    p.price_per_kwh.push_back(t.price_yuan_per_kwh);
    p.period.push_back(t.period);
  }

  // Capacity tree, DR events on the root slot by slot (an event touching a slot limits all of it).
  const CapacityTree tree = capacity_tree(config);
  const double margin = config.control.safety_margin_kw;
  for (std::size_t i = 0; i < tree.ids.size(); ++i) {
    scheduler::CapacityNode node;
    node.id = tree.ids[i];
    node.parent = tree.parents[i];
    node.limit_kw.assign(static_cast<std::size_t>(n), tree.limit_kw[i]);
    node.base_load_kw.assign(static_cast<std::size_t>(n), 0.0);
    p.nodes.push_back(std::move(node));
  }
  for (int k = 0; k < n; ++k) {
    const double limit = transformer_limit_over(config, input.limit_windows, grid.slot_start(k), grid.slot_start(k + 1));
    p.nodes[0].limit_kw[static_cast<std::size_t>(k)] = std::max(limit - margin, 0.0);
  }
  // Phase limits, slot by slot: the transformer's lowered by DR in proportion (limiter_nodes()).
  for (std::size_t i = 0; i < tree.ids.size(); ++i)
    for (std::size_t ph = 0; ph < 3; ++ph) {
      const auto& limit = tree.phase_limit_kw[i][ph];
      if (!limit) continue;
      auto& series = p.nodes[i].phase_limit_kw[ph];
      series.assign(static_cast<std::size_t>(n), *limit);
      if (i != 0) continue;
      const auto& configured = config.site.transformer.phase_limit_kw[ph];
      for (int k = 0; k < n; ++k) {
        const double dr_share = transformer_limit_over(config, input.limit_windows, grid.slot_start(k), grid.slot_start(k + 1)) /
                                config.site.transformer.limit_kw;
        if (dr_share < 1) series[static_cast<std::size_t>(k)] = std::max(*configured * dr_share - margin, 0.0);
      }
    }
  const bool phases = tree.has_phase_limits();

  // Base load: the forecast, pulled to what the meter shows now, fading back over the horizon.
  auto base = scheduler::forecast_base_load(input.base_history, forecast_slot(grid.start, slot, offset), n);
  if (input.measured_base_kw && n > 0) {
    const double delta = *input.measured_base_kw - base[0];
    for (int k = 0; k < n; ++k)
      base[static_cast<std::size_t>(k)] += delta * std::exp(-static_cast<double>(k) / kMeasuredCorrectionDecaySlots);
  }
  for (auto& b : base) b = std::max(b, 0.0);
  // No transformer meter: nothing to learn a forecast from, so the installer's figure stands in.
  const auto& tx = config.site.transformer;
  const auto metered = [&](const std::string& node, MeterRole role) {
    return std::any_of(config.meters.begin(), config.meters.end(),
                       [&](const MeterConfig& m) { return m.role == role && (role == MeterRole::transformer || m.node == node); });
  };
  if (tx.assumed_load_kw && !metered(tx.id, MeterRole::transformer)) base.assign(base.size(), *tx.assumed_load_kw);
  out.base_kw = base;
  p.nodes[0].base_load_kw = base;
  // Nodes below without a meter carry their assumed non-EV load, never 0 (docs/control.md).
  for (std::size_t i = 1; i < tree.ids.size(); ++i) {
    if (metered(tree.ids[i], MeterRole::feeder)) continue;
    for (std::size_t k = 0; k < base.size(); ++k) p.nodes[i].base_load_kw[k] = assumed_load_kw(config, tree.ids[i], base[k]);
  }

  // The non-EV load per phase, where phases are limited: the meter's phase shares now when it
  // measures them (the root), else the node's configured split.
  const auto phases_of = [&](const std::string& charger_id, const ChargerConfig& c) {
    const auto it = input.charger_phases.find(charger_id);
    return it != input.charger_phases.end() ? it->second : counted_phases(c.phase, std::nullopt);
  };
  if (phases) {
    for (std::size_t i = 0; i < tree.ids.size(); ++i) {
      auto split = tree.base_phase_split[i];
      if (i == 0 && input.measured_base_phase_kw) {
        const auto& m = *input.measured_base_phase_kw;
        const double sum = std::max(m[0], 0.0) + std::max(m[1], 0.0) + std::max(m[2], 0.0);
        if (sum > 0)
          for (std::size_t ph = 0; ph < 3; ++ph) split[ph] = std::max(m[ph], 0.0) / sum;
      }
      auto& node = p.nodes[i];
      for (std::size_t ph = 0; ph < 3; ++ph) {
        node.base_load_phase_kw[ph] = node.base_load_kw;
        for (auto& b : node.base_load_phase_kw[ph]) b *= split[ph];
      }
    }
  }

  // Chargers the plan cannot steer load their node and every node above it, on their phases.
  for (const auto& [charger_id, kw] : input.reserved_kw) {
    const auto* c = config.find_charger(charger_id);
    if (!c) continue;
    const auto on = phases_of(charger_id, *c);
    for (int node = std::max(tree.index_of(c->node), 0); node >= 0; node = tree.parents[static_cast<std::size_t>(node)]) {
      auto& pn = p.nodes[static_cast<std::size_t>(node)];
      for (auto& b : pn.base_load_kw) b += kw;
      if (phases)
        for (int ph = 0; ph < 3; ++ph)
          for (auto& b : pn.base_load_phase_kw[static_cast<std::size_t>(ph)]) b += kw * scheduler::phase_share(on, ph);
    }
  }

  // Slot 0 is partly gone: the planner thinks in energy per slot, so both sides of every node's
  // constraint shrink to the fraction still ahead. ceiling_kw() turns the slot-0 power back.
  for (auto& node : p.nodes) {
    node.limit_kw[0] *= f;
    node.base_load_kw[0] *= f;
    for (std::size_t ph = 0; ph < 3; ++ph) {
      if (!node.phase_limit_kw[ph].empty()) node.phase_limit_kw[ph][0] *= f;
      if (!node.base_load_phase_kw[ph].empty()) node.base_load_phase_kw[ph][0] *= f;
    }
  }
  // ...and the planner holds each pile to max_kw x f there and rounds its minimum and power
  // steps to the same fraction, so a car can still start in a nearly elapsed slot.
  p.first_slot_fraction = f;

  for (const auto& s : input.sessions) {
    const auto* c = config.find_charger(s.charger_id);
    if (!c) {
      out.notes.push_back("session " + s.session_id + ": charger '" + s.charger_id + "' is not configured; left out");
      continue;
    }
    // A single-phase car on a three-phase pile draws on one phase only: its maximum and minimum
    // are the pile's currents on that one phase.
    const auto on = phases_of(s.charger_id, *c);
    const double max_current_a = current_a_at_nominal(c->max_power_kw * 1000.0, phase_count(c->phase));
    const int drawn = c->phase == Phase::ABC && on != scheduler::PhaseSet::any_one ? drawn_phase_count(on) : phase_count(c->phase);
    const double max_kw = std::min(c->max_power_kw, power_w_at_nominal(max_current_a, drawn) / 1000.0);
    int arrival = 0;
    if (s.not_before && *s.not_before > input.now) {
      arrival = grid.slot_of(*s.not_before);
      if (grid.slot_start(arrival) < *s.not_before) ++arrival;  // never charge before it
    }
    if (s.remaining_kwh <= 0 || s.full || arrival >= n || max_kw <= 0) {
      out.idle_sessions[s.charger_id] = s.session_id;
      continue;
    }
    // As soon as full power can deliver it: slots at max power from arrival, slot 0 counted at
    // what is left of it.
    const auto asap_departure = [&] {
      double left = s.remaining_kwh;
      int k = arrival;
      while (left > 1e-9 && k < n) {
        left -= max_kw * h * (k == 0 ? f : 1.0);
        ++k;
      }
      return std::max(k, arrival + 1);
    };
    const double min_kw = std::min(power_w_at_nominal(c->min_current_a, drawn) / 1000.0, max_kw);
    // Each car hangs from a leaf node of its own that holds its maximum to what is left of slot
    // 0 (max_kw x fraction), so slot 0 is shared out fairly, not handed whole to a few cars.
    scheduler::CapacityNode leaf;
    leaf.id = "ev:" + s.session_id;
    leaf.parent = std::max(tree.index_of(c->node), 0);
    leaf.limit_kw.assign(static_cast<std::size_t>(n), max_kw);
    leaf.limit_kw[0] = max_kw * f;
    p.nodes.push_back(std::move(leaf));

    scheduler::EvRequest ev;
    ev.id = s.session_id;
    ev.node = static_cast<int>(p.nodes.size()) - 1;
    ev.arrival_slot = arrival;
    ev.energy_kwh = s.remaining_kwh;
    ev.max_kw = max_kw;
    ev.min_kw = min_kw;
    ev.phases = on;
    // Continuous above the minimum: whole amps are the pile's own (it floors its IEC 61851-1
    // PWM duty cycle), and in slot 0 a whole-amp step of the scaled power would become a step
    // of 1 A / fraction once scaled back. docs/control.md.
    ev.power_step_kw = 0;
    ev.is_private = s.is_private;
    if (s.boost) {
      ev.departure_slot = asap_departure();
      ev.priority = kPriorityBoost;
    } else {
      const int departure = grid.slot_of(s.departure);  // slots that end by the departure
      if (departure <= arrival) {
        ev.departure_slot = asap_departure();
        ev.priority = kPriorityOverdue;
      } else {
        ev.departure_slot = std::min(departure, n);
        ev.priority = kPriorityNormal;
      }
    }
    ev.departure_slot = std::min(ev.departure_slot, n);
    // V2G needs the car's battery size and state of charge and a discharge price, which no
    // session carries yet: bidirectional piles are planned charge-only (docs/control.md).
    p.evs.push_back(std::move(ev));
    out.charger_ids.push_back(s.charger_id);
    out.session_ids.push_back(s.session_id);
  }
  return out;
}

// ---- the plan in force ----------------------------------------------------------------------

ActivePlan make_active_plan(const PlanningProblem& planning, const scheduler::Plan& plan, TimePoint created_at,
                            std::string reason, std::string algorithm) {
  ActivePlan a;
  a.grid = planning.grid;
  a.created_at = created_at;
  a.reason = std::move(reason);
  a.algorithm = std::move(algorithm);
  a.capacity_short = plan.status == scheduler::Plan::Status::capacity_short;
  const auto n = static_cast<std::size_t>(planning.grid.slots);
  for (std::size_t i = 0; i < planning.charger_ids.size() && i < plan.ev_kw.size(); ++i) {
    ChargerPlan cp;
    cp.session_id = planning.session_ids[i];
    cp.kw = plan.ev_kw[i];
    cp.kw.resize(n, 0.0);
    cp.max_kw = planning.problem.evs[i].max_kw;
    cp.asap = planning.problem.evs[i].priority >= kPriorityOverdue;
    a.chargers[planning.charger_ids[i]] = std::move(cp);
  }
  for (const auto& [charger, session] : planning.idle_sessions) {
    ChargerPlan cp;
    cp.session_id = session;
    cp.kw.assign(n, 0.0);
    a.chargers[charger] = std::move(cp);
  }
  a.base_kw = planning.base_kw;
  a.price_per_kwh = planning.problem.price_per_kwh;
  return a;
}

PlanAttempt plan_now(const Config& config, const PlanningInput& input, const std::string& reason) {
  PlanAttempt attempt;
  try {
    auto planning = build_problem(config, input);
    attempt.notes = planning.notes;
    attempt.evs = planning.problem.evs.size();
    if (const auto problems = scheduler::problems(planning.problem); !problems.empty())
      throw std::runtime_error("the planning problem is malformed: " + problems.front());
    scheduler::OptimalOptions options;
    options.phase_lp_iteration_limit = config.control.phase_lp_iterations;
    scheduler::Plan plan;
    try {
      plan = scheduler::plan_optimal(planning.problem, options);
    } catch (const scheduler::PhaseLpIterationLimit&) {
      // The exact phase LP would hold the core thread for seconds. The plan without phase
      // limits keeps every other objective (valley, departures, node limits); the per-phase
      // limiter cuts the piles of a phase over its limit in real time.
      for (auto& node : planning.problem.nodes)
        for (auto& limit : node.phase_limit_kw) limit.clear();
      plan = scheduler::plan_optimal(planning.problem, options);
      attempt.notes.push_back("the phase LP needs more than [control] phase_lp_iterations = " +
                              std::to_string(config.control.phase_lp_iterations) +
                              " simplex iterations; planned without phase limits, the limiter keeps them");
    }
    scheduler::complete_plan(planning.problem, plan);
    attempt.plan = make_active_plan(planning, plan, input.now, reason, "optimal");
  } catch (const std::exception& e) {
    attempt.plan = ActivePlan{};
    attempt.plan.grid = make_slot_grid(input.now, minutes(config.control.slot_minutes), config.site.utc_offset, std::nullopt);
    attempt.plan.created_at = input.now;
    attempt.plan.reason = reason;
    attempt.plan.algorithm = "share";
    attempt.error = e.what();
  }
  return attempt;
}

std::optional<double> ceiling_kw(const ActivePlan& plan, const std::string& charger_id, TimePoint t) {
  const auto it = plan.chargers.find(charger_id);
  if (it == plan.chargers.end()) return std::nullopt;
  const int k = plan.grid.slot_of(t);
  if (k < 0 || k >= plan.grid.slots || static_cast<std::size_t>(k) >= it->second.kw.size()) return std::nullopt;
  const auto& cp = it->second;
  if (cp.asap) return cp.max_kw;
  double kw = std::max(cp.kw[static_cast<std::size_t>(k)], 0.0);
  if (k == 0) kw /= plan.grid.first_slot_fraction;
  // The planner floors energy to whole Wh; scaled back from a short slot 0 that is a few W
  // below the pile's maximum where the plan meant the maximum.
  if (kw >= cp.max_kw - kMaxSnapKw / plan.grid.first_slot_fraction) kw = cp.max_kw;
  return std::min(kw, cp.max_kw);
}

std::optional<double> forecast_base_kw(const ActivePlan& plan, TimePoint t) {
  const int k = plan.grid.slot_of(t);
  if (k < 0 || static_cast<std::size_t>(k) >= plan.base_kw.size()) return std::nullopt;
  return plan.base_kw[static_cast<std::size_t>(k)];
}

PlanOutlook outlook(const ActivePlan& plan, const std::string& charger_id, TimePoint now, int next_slots) {
  PlanOutlook o;
  const auto it = plan.chargers.find(charger_id);
  if (it == plan.chargers.end()) return o;
  const auto& g = plan.grid;
  const double h = static_cast<double>(g.slot.count()) / 60.0;
  const int first = std::max(g.slot_of(now), 0);
  for (int k = first; k < g.slots && static_cast<std::size_t>(k) < it->second.kw.size(); ++k) {
    const double kw = std::max(it->second.kw[static_cast<std::size_t>(k)], 0.0);
    // Power held from max(now, slot start) to the slot's end; slot 0's planned power is an
    // average over the whole slot, so it runs at kw / fraction over what was left of it.
    const double power_kw = k == 0 ? std::min(kw / g.first_slot_fraction, it->second.max_kw) : kw;
    const TimePoint from = std::max(now, g.slot_start(k));
    const double hours = duration<double>(g.slot_start(k + 1) - from).count() / 3600.0;
    const double kwh = std::max(power_kw * std::min(hours, h), 0.0);
    const double price = static_cast<std::size_t>(k) < plan.price_per_kwh.size()
                             ? plan.price_per_kwh[static_cast<std::size_t>(k)] : 0.0;
    if (static_cast<int>(o.next_kw.size()) < next_slots) o.next_kw.push_back(power_kw);
    if (o.timeline_kw.empty()) o.timeline_start = g.slot_start(k);
    o.timeline_kw.push_back(power_kw);
    o.timeline_price_per_kwh.push_back(price);
    if (kwh <= 1e-6) continue;
    if (!o.start) o.start = from;
    o.finish = g.slot_start(k + 1);
    o.expected_kwh += kwh;
    o.expected_cost_yuan += kwh * price;
  }
  const double full_kw = it->second.max_kw;
  double left_kwh = o.expected_kwh;
  for (int k = first; k < g.slots && left_kwh > 1e-6 && full_kw > 0; ++k) {
    const TimePoint from = std::max(now, g.slot_start(k));
    const double hours = duration<double>(g.slot_start(k + 1) - from).count() / 3600.0;
    const double kwh = std::min(left_kwh, full_kw * std::max(hours, 0.0));
    const auto index = static_cast<std::size_t>(k - first);
    if (index < o.timeline_price_per_kwh.size()) o.charge_now_cost_yuan += kwh * o.timeline_price_per_kwh[index];
    left_kwh -= kwh;
    // To the second: the slots' energies summed back carry a few microseconds of rounding.
    if (left_kwh <= 1e-6) o.charge_now_finish = from + std::chrono::round<seconds>(duration<double>(3600.0 * kwh / full_kw));
  }
  return o;
}

std::string active_plan_to_json(const ActivePlan& plan) {
  nlohmann::json chargers = nlohmann::json::object();
  for (const auto& [id, cp] : plan.chargers)
    chargers[id] = {{"session", cp.session_id}, {"max_kw", cp.max_kw}, {"asap", cp.asap}, {"kw", cp.kw}};
  nlohmann::json j = {
      {"created_at_ms", to_ms(plan.created_at)},
      {"slot_start_ms", to_ms(plan.grid.start)},
      {"slot_minutes", plan.grid.slot.count()},
      {"slots", plan.grid.slots},
      {"first_slot_fraction", plan.grid.first_slot_fraction},
      {"reason", plan.reason},
      {"algorithm", plan.algorithm},
      {"capacity_short", plan.capacity_short},
      {"chargers", chargers},
      {"base_kw", plan.base_kw},
      {"price", plan.price_per_kwh},
  };
  return j.dump();
}

ActivePlan active_plan_from_json(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    ActivePlan a;
    a.created_at = TimePoint(duration_cast<Duration>(milliseconds(j.at("created_at_ms").get<std::int64_t>())));
    a.grid.start = TimePoint(duration_cast<Duration>(milliseconds(j.at("slot_start_ms").get<std::int64_t>())));
    a.grid.slot = minutes(j.at("slot_minutes").get<int>());
    a.grid.slots = j.at("slots").get<int>();
    a.grid.first_slot_fraction = j.at("first_slot_fraction").get<double>();
    if (a.grid.slot.count() <= 0 || a.grid.slots < 0 || !(a.grid.first_slot_fraction > 0))
      throw std::invalid_argument("slot_minutes, slots or first_slot_fraction out of range");
    a.reason = j.value("reason", "");
    a.algorithm = j.value("algorithm", "");
    a.capacity_short = j.value("capacity_short", false);
    for (const auto& [id, cp] : j.at("chargers").items()) {
      ChargerPlan c;
      c.session_id = cp.value("session", "");
      c.max_kw = cp.value("max_kw", 0.0);
      c.asap = cp.value("asap", false);
      c.kw = cp.at("kw").get<std::vector<double>>();
      a.chargers[id] = std::move(c);
    }
    a.base_kw = j.value("base_kw", std::vector<double>{});
    a.price_per_kwh = j.value("price", std::vector<double>{});
    return a;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("stored plan is not readable: ") + e.what());
  }
}

std::vector<scheduler::LimitNode> limiter_nodes(const Config& config, const CapacityTree& tree,
                                                const std::vector<LimitWindow>& windows, TimePoint now,
                                                std::optional<NodeReading> transformer,
                                                const std::map<std::string, NodeReading>& node_measured) {
  std::vector<scheduler::LimitNode> nodes;
  const double margin = config.control.safety_margin_kw;
  const double dr_kw = transformer_limit_kw(config, windows, now);
  const double dr_share = dr_kw / config.site.transformer.limit_kw;
  auto take = [](scheduler::LimitNode& n, const NodeReading& r) {
    n.measured_kw = r.kw;
    if (r.phase_kw)
      for (std::size_t ph = 0; ph < 3; ++ph) n.measured_phase_kw[ph] = (*r.phase_kw)[ph];
  };
  for (std::size_t i = 0; i < tree.ids.size(); ++i) {
    scheduler::LimitNode n;
    n.parent = tree.parents[i];
    n.limit_kw = tree.limit_kw[i];
    for (std::size_t ph = 0; ph < 3; ++ph) n.phase_limit_kw[ph] = tree.phase_limit_kw[i][ph];
    if (i == 0) {
      n.limit_kw = std::max(dr_kw - margin, 0.0);
      if (dr_share < 1)
        for (std::size_t ph = 0; ph < 3; ++ph)
          if (const auto& l = config.site.transformer.phase_limit_kw[ph]) n.phase_limit_kw[ph] = std::max(*l * dr_share - margin, 0.0);
      if (transformer) take(n, *transformer);
    } else if (const auto it = node_measured.find(tree.ids[i]); it != node_measured.end()) {
      take(n, it->second);
    }
    nodes.push_back(n);
  }
  return nodes;
}

}  // namespace orderly::gateway

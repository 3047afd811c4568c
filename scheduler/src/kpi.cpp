#include "orderly/scheduler/kpi.hpp"

#include <algorithm>
#include <cstddef>

#include "orderly/scheduler/baselines.hpp"

namespace orderly::scheduler {
namespace {

double kw_at(const Plan& plan, std::size_t ev, std::size_t t) {
  if (ev >= plan.ev_kw.size() || t >= plan.ev_kw[ev].size()) return 0.0;
  return plan.ev_kw[ev][t];
}

double base_at(const CapacityNode& node, std::size_t t) {
  return t < node.base_load_kw.size() ? node.base_load_kw[t] : 0.0;
}

// Energy per slot the EV draws when it follows the plan's setpoints as ceilings. A charge-only
// car stops once its request is met (the exact planner's rounding may set one increment above
// it, planner.hpp), so what it draws is capped at the request, in time order. Bidirectional
// piles are counted as planned: their charge above the request is given back by discharging.
std::vector<double> drawn_kwh(const Problem& p, const Plan& plan, std::size_t ev) {
  const auto slots = static_cast<std::size_t>(p.slots);
  const auto& request = p.evs[ev];
  std::vector<double> out(slots, 0.0);
  double left_kwh = request.energy_kwh;
  for (std::size_t t = 0; t < slots; ++t) {
    const double planned = kw_at(plan, ev, t) * p.slot_hours();
    if (request.discharge_max_kw > 0 || planned <= 0) {
      out[t] = planned;
      continue;
    }
    out[t] = std::min(planned, std::max(0.0, left_kwh));
    left_kwh -= out[t];
  }
  return out;
}

}  // namespace

std::vector<double> total_charging_kw(const Problem& p, const Plan& plan) {
  const auto slots = static_cast<std::size_t>(p.slots);
  std::vector<double> total(slots, 0.0);
  for (std::size_t i = 0; i < p.evs.size(); ++i)
    for (std::size_t t = 0; t < slots; ++t) total[t] += kw_at(plan, i, t);
  return total;
}

std::vector<std::vector<double>> node_load_kw(const Problem& p, const Plan& plan) {
  const auto slots = static_cast<std::size_t>(p.slots);
  std::vector<std::vector<double>> own(p.nodes.size(), std::vector<double>(slots, 0.0));
  for (std::size_t i = 0; i < p.evs.size(); ++i) {
    const auto n = static_cast<std::size_t>(p.evs[i].node);
    for (std::size_t t = 0; t < slots; ++t) own[n][t] += kw_at(plan, i, t);
  }
  // Children have larger indices than their parents, so one backward pass sums subtrees.
  for (std::size_t n = p.nodes.size(); n-- > 1;) {
    const auto parent = static_cast<std::size_t>(p.nodes[n].parent);
    for (std::size_t t = 0; t < slots; ++t) own[parent][t] += own[n][t];
  }
  for (std::size_t n = 0; n < p.nodes.size(); ++n)
    for (std::size_t t = 0; t < slots; ++t) own[n][t] += base_at(p.nodes[n], t);
  return own;
}

std::vector<std::vector<std::vector<double>>> node_phase_load_kw(const Problem& p, const Plan& plan) {
  const auto slots = static_cast<std::size_t>(p.slots);
  constexpr auto phases = static_cast<std::size_t>(kPhases);
  std::vector<std::vector<std::vector<double>>> own(
      p.nodes.size(), std::vector<std::vector<double>>(phases, std::vector<double>(slots, 0.0)));
  for (std::size_t i = 0; i < p.evs.size(); ++i) {
    const auto n = static_cast<std::size_t>(p.evs[i].node);
    for (std::size_t ph = 0; ph < phases; ++ph) {
      const double share = phase_share(p.evs[i].phases, static_cast<int>(ph));
      if (share == 0) continue;
      for (std::size_t t = 0; t < slots; ++t) own[n][ph][t] += kw_at(plan, i, t) * share;
    }
  }
  for (std::size_t n = p.nodes.size(); n-- > 1;) {
    const auto parent = static_cast<std::size_t>(p.nodes[n].parent);
    for (std::size_t ph = 0; ph < phases; ++ph)
      for (std::size_t t = 0; t < slots; ++t) own[parent][ph][t] += own[n][ph][t];
  }
  for (std::size_t n = 0; n < p.nodes.size(); ++n)
    for (std::size_t ph = 0; ph < phases; ++ph)
      for (std::size_t t = 0; t < slots; ++t) own[n][ph][t] += base_load_phase_at(p.nodes[n], static_cast<int>(ph), t);
  return own;
}

std::vector<double> delivered_kwh(const Problem& p, const Plan& plan) {
  std::vector<double> out(p.evs.size(), 0.0);
  for (std::size_t i = 0; i < p.evs.size(); ++i)
    for (double kwh : drawn_kwh(p, plan, i)) out[i] += kwh;
  return out;
}

Kpi compute_kpi(const Problem& p, const Plan& plan) {
  Kpi k;
  const auto slots = static_cast<std::size_t>(p.slots);
  double charged = 0, charged_valley = 0, charged_private = 0, charged_private_valley = 0;
  k.sessions_total = static_cast<int>(p.evs.size());
  for (std::size_t i = 0; i < p.evs.size(); ++i) {
    const auto& ev = p.evs[i];
    const auto drawn = drawn_kwh(p, plan, i);
    double delivered = 0;
    for (double kwh : drawn) delivered += kwh;
    k.energy_requested_kwh += ev.energy_kwh;
    k.energy_delivered_kwh += delivered;
    if (delivered >= ev.energy_kwh - kSessionMetToleranceKwh) ++k.sessions_met;
    for (std::size_t t = 0; t < slots; ++t) {
      if (drawn[t] >= 0) {
        const double e = drawn[t];
        const bool valley = t < p.period.size() && p.period[t] == Period::valley;
        charged += e;
        k.cost_yuan += e * (t < p.price_per_kwh.size() ? p.price_per_kwh[t] : 0.0);
        if (valley) charged_valley += e;
        if (ev.is_private) {
          charged_private += e;
          if (valley) charged_private_valley += e;
        }
      } else {
        const double e = -drawn[t];
        k.energy_discharged_kwh += e;
        k.cost_yuan -= e * ev.discharge_price_per_kwh;
      }
    }
  }
  k.valley_share = charged > 0 ? charged_valley / charged : 0.0;
  k.valley_share_private = charged_private > 0 ? charged_private_valley / charged_private : 0.0;

  if (!p.nodes.empty()) {
    const auto load = node_load_kw(p, plan);
    bool phase_limits = false;
    for (const auto& node : p.nodes) phase_limits = phase_limits || has_phase_limit(node);
    const auto phase_load = phase_limits ? node_phase_load_kw(p, plan) : std::vector<std::vector<std::vector<double>>>{};
    for (std::size_t t = 0; t < slots; ++t) {
      k.peak_kw = std::max(k.peak_kw, load[0][t]);
      bool over = false;
      for (std::size_t n = 0; n < p.nodes.size() && !over; ++n) {
        over = t < p.nodes[n].limit_kw.size() && load[n][t] > p.nodes[n].limit_kw[t] + kOverloadToleranceKw;
        for (std::size_t ph = 0; phase_limits && ph < static_cast<std::size_t>(kPhases) && !over; ++ph) {
          const auto& limit = p.nodes[n].phase_limit_kw[ph];
          over = t < limit.size() && phase_load[n][ph][t] > limit[t] + kOverloadToleranceKw;
        }
      }
      if (over) ++k.overload_slots;
    }
  }
  return k;
}

void complete_plan(const Problem& p, Plan& plan) {
  plan.charging_kw = total_charging_kw(p, plan);
  plan.kpi = compute_kpi(p, plan);
}

KpiComparison compare_with_uncontrolled(const Problem& p, const Plan& plan) {
  KpiComparison c;
  c.plan = compute_kpi(p, plan);
  c.uncontrolled = compute_kpi(p, plan_uncontrolled(p));
  c.cost_saving_yuan = c.uncontrolled.cost_yuan - c.plan.cost_yuan;
  c.peak_reduction_kw = c.uncontrolled.peak_kw - c.plan.peak_kw;
  c.overload_slots_avoided = c.uncontrolled.overload_slots - c.plan.overload_slots;
  c.valley_share_gain = c.plan.valley_share - c.uncontrolled.valley_share;
  return c;
}

}  // namespace orderly::scheduler

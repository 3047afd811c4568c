#include "orderly/scheduler/baselines.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <functional>
#include <numeric>

#include "orderly/scheduler/kpi.hpp"

namespace orderly::scheduler {
namespace {

constexpr double kEpsKwh = 1e-9;

Plan empty_plan(const Problem& p) {
  Plan plan;
  plan.ev_kw.assign(p.evs.size(), std::vector<double>(static_cast<std::size_t>(p.slots), 0.0));
  return plan;
}

void finish(const Problem& p, Plan& plan) {
  complete_plan(p, plan);
  plan.status = plan.kpi.sessions_met == plan.kpi.sessions_total ? Plan::Status::optimal
                                                                  : Plan::Status::capacity_short;
}

// Ranks the cars present in a slot; a smaller key charges first.
using RankKey = std::function<double(const EvRequest& ev, int slot, double remaining_kwh)>;

Plan plan_greedy(const Problem& p, const RankKey& key) {
  Plan plan = empty_plan(p);
  const double h = p.slot_hours();
  const auto node_count = p.nodes.size();
  std::vector<double> remaining(p.evs.size());
  for (std::size_t i = 0; i < p.evs.size(); ++i) remaining[i] = p.evs[i].energy_kwh;

  std::vector<double> headroom(node_count);
  // Per limited phase of a node ([node][phase]; NaN = no limit on that phase).
  std::vector<std::array<double, kPhases>> phase_headroom(node_count);
  std::vector<std::size_t> present;
  std::vector<double> keys(p.evs.size());
  for (int t = 0; t < p.slots; ++t) {
    const auto ts = static_cast<std::size_t>(t);
    for (std::size_t n = 0; n < node_count; ++n) {
      const auto& node = p.nodes[n];
      const double base = ts < node.base_load_kw.size() ? node.base_load_kw[ts] : 0.0;
      headroom[n] = node.limit_kw[ts] - base;
      for (std::size_t ph = 0; ph < static_cast<std::size_t>(kPhases); ++ph) {
        const auto& limit = node.phase_limit_kw[ph];
        phase_headroom[n][ph] = ts < limit.size() ? limit[ts] - base_load_phase_at(node, static_cast<int>(ph), ts)
                                                  : std::numeric_limits<double>::quiet_NaN();
      }
    }
    present.clear();
    for (std::size_t i = 0; i < p.evs.size(); ++i) {
      const auto& ev = p.evs[i];
      if (ev.arrival_slot <= t && t < ev.departure_slot && remaining[i] > kEpsKwh && ev.max_kw > 0) {
        present.push_back(i);
        keys[i] = key(ev, t, remaining[i]);
      }
    }
    std::stable_sort(present.begin(), present.end(), [&](std::size_t a, std::size_t b) {
      if (keys[a] != keys[b]) return keys[a] < keys[b];
      return p.evs[a].priority > p.evs[b].priority;
    });
    for (const auto i : present) {
      const auto& ev = p.evs[i];
      double room = ev.max_kw;
      for (int n = ev.node; n >= 0; n = p.nodes[static_cast<std::size_t>(n)].parent) {
        room = std::min(room, headroom[static_cast<std::size_t>(n)]);
        for (int ph = 0; ph < kPhases; ++ph) {
          const double free_kw = phase_headroom[static_cast<std::size_t>(n)][static_cast<std::size_t>(ph)];
          const double share = phase_share(ev.phases, ph);
          if (!std::isnan(free_kw) && share > 0) room = std::min(room, free_kw / share);
        }
      }
      const double wanted = remaining[i] / h;
      double kw = std::min(wanted, std::max(room, 0.0));
      // A pile cannot be set below its minimum; a car finishing its last fraction may draw
      // less (it stops by itself), so the minimum only binds when headroom is the limit.
      if (kw < ev.min_kw && kw < wanted) kw = 0;
      if (kw <= 0) continue;
      plan.ev_kw[i][ts] = kw;
      remaining[i] = std::max(remaining[i] - kw * h, 0.0);
      for (int n = ev.node; n >= 0; n = p.nodes[static_cast<std::size_t>(n)].parent) {
        headroom[static_cast<std::size_t>(n)] -= kw;
        for (int ph = 0; ph < kPhases; ++ph)
          phase_headroom[static_cast<std::size_t>(n)][static_cast<std::size_t>(ph)] -= kw * phase_share(ev.phases, ph);
      }
    }
  }
  finish(p, plan);
  return plan;
}

}  // namespace

Plan plan_uncontrolled(const Problem& p) {
  Plan plan = empty_plan(p);
  const double h = p.slot_hours();
  for (std::size_t i = 0; i < p.evs.size(); ++i) {
    const auto& ev = p.evs[i];
    double remaining = ev.energy_kwh;
    for (int t = std::max(ev.arrival_slot, 0); t < std::min(ev.departure_slot, p.slots) && remaining > kEpsKwh; ++t) {
      const double kw = std::min(ev.max_kw, remaining / h);
      plan.ev_kw[i][static_cast<std::size_t>(t)] = kw;
      remaining -= kw * h;
    }
  }
  finish(p, plan);
  return plan;
}

Plan plan_edf(const Problem& p) {
  return plan_greedy(p, [](const EvRequest& ev, int, double) { return static_cast<double>(ev.departure_slot); });
}

Plan plan_llf(const Problem& p) {
  const double h = p.slot_hours();
  return plan_greedy(p, [h](const EvRequest& ev, int t, double remaining_kwh) {
    const double slots_needed = remaining_kwh / (ev.max_kw * h);
    return static_cast<double>(ev.departure_slot - t) - slots_needed;
  });
}

}  // namespace orderly::scheduler

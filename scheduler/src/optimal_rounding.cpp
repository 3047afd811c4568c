// Setpoint rounding after the exact solve. The flow plan is exact in energy but its powers are
// arbitrary; AC piles take 0 or >= 6 A (IEC 61851-1, minimum PWM duty) in whole amps. Rounding
// down can only lower loads, so limits keep holding; the repair then only adds where every node
// from the charger to the root still has headroom.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "optimal_internal.hpp"

namespace orderly::scheduler::detail {
namespace {

constexpr double kEpsKw = 1e-9;

bool needs_rounding(const EvRequest& ev) {
  return ev.discharge_max_kw == 0 && (ev.min_kw > 0 || ev.power_step_kw > 0);
}

// Largest power the pile accepts that is not above kw: 0, min_kw, max_kw or a whole step
// between them.
double round_down(const EvRequest& ev, double kw) {
  if (kw >= ev.max_kw - kEpsKw) return ev.max_kw;
  double q = kw;
  if (ev.power_step_kw > 0) q = std::floor(kw / ev.power_step_kw + 1e-9) * ev.power_step_kw;
  if (ev.min_kw > 0 && kw >= ev.min_kw - kEpsKw) q = std::max(q, ev.min_kw);
  if (q < ev.min_kw - kEpsKw) q = 0;
  return std::max(0.0, q);
}

// Smallest accepted power above kw, or kw itself when there is none.
double next_up(const EvRequest& ev, double kw) {
  if (kw >= ev.max_kw - kEpsKw) return kw;
  if (kw < ev.min_kw - kEpsKw) return std::min(ev.min_kw, ev.max_kw);
  if (ev.power_step_kw <= 0) return kw;  // continuous above the minimum: nothing to round
  const double up = (std::floor(kw / ev.power_step_kw + 1e-9) + 1) * ev.power_step_kw;
  return std::min(up, ev.max_kw);
}

}  // namespace

double round_setpoints(const Problem& problem, std::vector<std::vector<double>>& ev_kw) {
  const auto slots = static_cast<std::size_t>(problem.slots);
  const double slot_h = problem.slot_hours();
  const std::size_t n_nodes = problem.nodes.size();
  // Charging headroom left per node and slot; may be negative where discharge created it
  // (base above limit): adding is then refused, as in the flow model.
  std::vector<std::vector<double>> room(n_nodes, std::vector<double>(slots, 0.0));
  for (std::size_t n = 0; n < n_nodes; ++n) {
    const auto& node = problem.nodes[n];
    for (std::size_t t = 0; t < slots; ++t) {
      const double base = node.base_load_kw.empty() ? 0.0 : node.base_load_kw[t];
      room[n][t] = std::max(0.0, node.limit_kw[t] - base);
    }
  }
  auto charge_path = [&](int node, std::size_t t, double kw) {
    for (int n = node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent)
      room[static_cast<std::size_t>(n)][t] -= kw;
  };
  auto fits = [&](int node, std::size_t t, double kw) {
    for (int n = node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent)
      if (room[static_cast<std::size_t>(n)][t] < kw - kEpsKw) return false;
    return true;
  };

  std::vector<double> deficit_kwh(problem.evs.size(), 0.0);
  for (std::size_t e = 0; e < problem.evs.size(); ++e) {
    const auto& ev = problem.evs[e];
    for (std::size_t t = 0; t < slots; ++t) {
      double& kw = ev_kw[e][t];
      if (needs_rounding(ev) && kw > 0) {
        const double q = round_down(ev, kw);
        deficit_kwh[e] += (kw - q) * slot_h;
        kw = q;
      }
      charge_path(ev.node, t, kw);
    }
  }

  // Repair: higher priority first, then list order; each EV's cheapest slots first, ties to the
  // lower transformer load (keeps the valley filling), then earlier.
  std::vector<std::size_t> order(problem.evs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return problem.evs[a].priority > problem.evs[b].priority;
  });
  std::vector<std::size_t> slot_order(slots);
  std::iota(slot_order.begin(), slot_order.end(), 0);
  std::stable_sort(slot_order.begin(), slot_order.end(), [&](std::size_t a, std::size_t b) {
    if (problem.price_per_kwh[a] != problem.price_per_kwh[b])
      return problem.price_per_kwh[a] < problem.price_per_kwh[b];
    return room[0][a] > room[0][b];
  });
  double lost_kwh = 0;
  for (std::size_t e : order) {
    const auto& ev = problem.evs[e];
    if (deficit_kwh[e] <= 1e-9) continue;
    bool moved = true;
    while (moved && deficit_kwh[e] > 1e-9) {
      moved = false;
      for (std::size_t t : slot_order) {
        if (static_cast<int>(t) < ev.arrival_slot || static_cast<int>(t) >= ev.departure_slot)
          continue;
        double& kw = ev_kw[e][t];
        double up = next_up(ev, kw);
        if (ev.power_step_kw <= 0 && kw >= ev.min_kw - kEpsKw && kw > 0) {
          // Continuous above the minimum: top up by what is missing and what the path allows.
          double path_room = ev.max_kw - kw;
          for (int n = ev.node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent)
            path_room = std::min(path_room, room[static_cast<std::size_t>(n)][t]);
          up = kw + std::max(0.0, std::min(path_room, deficit_kwh[e] / slot_h));
        }
        const double add_kw = up - kw;
        if (add_kw <= kEpsKw || add_kw * slot_h > deficit_kwh[e] + 1e-9) continue;
        if (!fits(ev.node, t, add_kw)) continue;
        charge_path(ev.node, t, add_kw);
        kw = up;
        deficit_kwh[e] -= add_kw * slot_h;
        moved = true;
        if (deficit_kwh[e] <= 1e-9) break;
      }
    }
    lost_kwh += std::max(0.0, deficit_kwh[e]);
  }
  return lost_kwh;
}

}  // namespace orderly::scheduler::detail

// Setpoint rounding after the exact solve. The flow plan is exact in energy but its powers are
// arbitrary; AC piles take 0 or >= 6 A (IEC 61851-1, minimum PWM duty) in whole amps. Rounding
// down can only lower loads, so limits keep holding; the repair then only adds where every node
// (and every limited phase, by the pile's phase_share) from the charger to the root still has
// headroom.
//
// Accepted powers come in steps, so a need that is not a whole number of steps leaves a
// remainder smaller than any step. A setpoint is a ceiling, not an order: the car stops drawing
// once its request is met (IEC 61851-1: the EV, not the pile, ends charging), so a whole-amp
// pile may end at most one step x slot above its need. Opening a slot at min_kw usually adds
// far more than that; the surplus is then taken back from the car's other slots (down to
// min_kw, never below), so a pile continuous above its minimum gets exactly its need and a
// whole-amp pile less than one step over it.
#include <algorithm>
#include <array>
#include <limits>
#include <cmath>
#include <numeric>
#include <vector>

#include "optimal_internal.hpp"
#include "orderly/scheduler/kpi.hpp"

namespace orderly::scheduler::detail {
namespace {

constexpr double kEpsKw = 1e-9;
constexpr double kEpsKwh = 1e-9;

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

// Largest accepted power below kw that keeps the pile on (>= min_kw); kw when there is none.
double step_below(const EvRequest& ev, double kw) {
  if (kw <= ev.min_kw + kEpsKw) return kw;
  if (ev.power_step_kw <= 0) return ev.min_kw;
  const double q = (std::ceil(kw / ev.power_step_kw - 1e-6) - 1) * ev.power_step_kw;
  return std::max(q, ev.min_kw);
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
  // How far the EVs' net power through each node may still fall: V2G discharge may cover other
  // cars' charging, and rounding that charging down must not turn it into export past the
  // transformer (the flow's root lets discharge cover the base load only) or into more reverse
  // power than a child node carries (its limit plus its base load, as in the flow model).
  std::vector<std::vector<double>> fall(n_nodes, std::vector<double>(slots, 0.0));
  for (std::size_t n = 0; n < n_nodes; ++n) {
    const auto& node = problem.nodes[n];
    for (std::size_t t = 0; t < slots; ++t) {
      const double base = node.base_load_kw.empty() ? 0.0 : node.base_load_kw[t];
      room[n][t] = std::max(0.0, node.limit_kw[t] - base);
      fall[n][t] = n == 0 ? std::max(0.0, base) : std::max(0.0, node.limit_kw[t] + base);
    }
  }
  // What a pile accepts in a slot, in the planner's units: in a partly elapsed slot 0 the
  // caller scaled energy to the part still ahead (Problem::first_slot_fraction), so a pile at
  // min_kw for the rest of the slot is min_kw x fraction there, and likewise steps and max.
  const double first = problem.first_slot_fraction;
  std::vector<EvRequest> slot0;
  if (first < 1.0) {
    slot0 = problem.evs;
    for (auto& ev : slot0) {
      ev.min_kw *= first;
      ev.power_step_kw *= first;
      ev.max_kw *= first;
    }
  }
  auto pile = [&](std::size_t e, std::size_t t) -> const EvRequest& {
    return t == 0 && !slot0.empty() ? slot0[e] : problem.evs[e];
  };
  // Charging headroom left per phase of the nodes with phase limits ([node][phase][slot]; an
  // unlimited phase is left empty): a load takes phase_share of its power from each.
  std::vector<std::array<std::vector<double>, kPhases>> phase_room(n_nodes);
  for (std::size_t n = 0; n < n_nodes; ++n)
    for (std::size_t ph = 0; ph < static_cast<std::size_t>(kPhases); ++ph) {
      const auto& limit = problem.nodes[n].phase_limit_kw[ph];
      if (limit.empty()) continue;
      phase_room[n][ph].resize(slots);
      for (std::size_t t = 0; t < slots; ++t)
        phase_room[n][ph][t] =
            std::max(0.0, limit[t] - base_load_phase_at(problem.nodes[n], static_cast<int>(ph), t));
    }
  // Adds kw (negative: removes) to EV e's power in slot t on every node up to the root.
  auto charge_path = [&](std::size_t e, std::size_t t, double kw) {
    const auto& ev = problem.evs[e];
    for (int n = ev.node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent) {
      const auto ns = static_cast<std::size_t>(n);
      room[ns][t] -= kw;
      fall[ns][t] += kw;
      for (std::size_t ph = 0; ph < static_cast<std::size_t>(kPhases); ++ph)
        if (!phase_room[ns][ph].empty()) phase_room[ns][ph][t] -= kw * phase_share(ev.phases, static_cast<int>(ph));
    }
  };
  // The most EV e's power may still rise in slot t under every node and phase on its path.
  auto path_room = [&](std::size_t e, std::size_t t) {
    const auto& ev = problem.evs[e];
    double free_kw = std::numeric_limits<double>::infinity();
    for (int n = ev.node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent) {
      const auto ns = static_cast<std::size_t>(n);
      free_kw = std::min(free_kw, room[ns][t]);
      for (std::size_t ph = 0; ph < static_cast<std::size_t>(kPhases); ++ph) {
        const double share = phase_share(ev.phases, static_cast<int>(ph));
        if (!phase_room[ns][ph].empty() && share > 0) free_kw = std::min(free_kw, phase_room[ns][ph][t] / share);
      }
    }
    return free_kw;
  };
  auto fits = [&](std::size_t e, std::size_t t, double kw) { return path_room(e, t) >= kw - kEpsKw; };
  auto may_fall = [&](int node, std::size_t t, double kw) {
    for (int n = node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent)
      if (fall[static_cast<std::size_t>(n)][t] < kw - kEpsKw) return false;
    return true;
  };

  std::vector<double> deficit_kwh(problem.evs.size(), 0.0);  // negative: a surplus
  std::vector<bool> exact_met(problem.evs.size(), false);
  for (std::size_t e = 0; e < problem.evs.size(); ++e) {
    const auto& ev = problem.evs[e];
    double exact_kwh = 0;
    for (std::size_t t = 0; t < slots; ++t) {
      exact_kwh += ev_kw[e][t] * slot_h;
      charge_path(e, t, ev_kw[e][t]);
    }
    exact_met[e] = exact_kwh >= ev.energy_kwh - kSessionMetToleranceKwh;
  }
  // Down to the accepted power below; where that would make a node export or carry too much
  // reverse power (discharge beside), up to the accepted power above if it fits. Where neither
  // is possible the node is pinned within less than one step: down, because the upper limits
  // protect equipment and the lower ones only the no-export rule.
  for (std::size_t e = 0; e < problem.evs.size(); ++e) {
    const auto& ev = problem.evs[e];
    if (!needs_rounding(ev)) continue;
    for (std::size_t t = 0; t < slots; ++t) {
      double& kw = ev_kw[e][t];
      if (kw <= 0) continue;
      const double down = round_down(pile(e, t), kw);
      const double up = next_up(pile(e, t), kw);
      double to = down;
      if (!may_fall(ev.node, t, kw - down) && up > kw && fits(e, t, up - kw)) to = up;
      charge_path(e, t, to - kw);
      deficit_kwh[e] += (kw - to) * slot_h;
      kw = to;
    }
  }

  // Repair: higher priority first, then earlier departure (fewer slots left to choose from,
  // as in earliest-deadline-first), then list order; each EV's cheapest slots first, ties to
  // the lower transformer load (keeps the valley filling), then earlier.
  std::vector<std::size_t> order(problem.evs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (problem.evs[a].priority != problem.evs[b].priority)
      return problem.evs[a].priority > problem.evs[b].priority;
    return problem.evs[a].departure_slot < problem.evs[b].departure_slot;
  });
  std::vector<std::size_t> slot_order(slots);
  std::iota(slot_order.begin(), slot_order.end(), 0);
  std::stable_sort(slot_order.begin(), slot_order.end(), [&](std::size_t a, std::size_t b) {
    if (problem.price_per_kwh[a] != problem.price_per_kwh[b])
      return problem.price_per_kwh[a] < problem.price_per_kwh[b];
    return room[0][a] > room[0][b];
  });
  auto in_window = [](const EvRequest& ev, std::size_t t) {
    return static_cast<int>(t) >= ev.arrival_slot && static_cast<int>(t) < ev.departure_slot;
  };
  // The planned energy a pile may end above its need: none where it is continuous above its
  // minimum, one whole-amp step over one slot where it has steps. A need below one slot at
  // min_kw has no exact plan at all; there the one slot at min_kw is allowed (the car stops at
  // its request), else such a car would get nothing.
  auto allowed_over_kwh = [&](std::size_t e) {
    const auto& ev = problem.evs[e];
    return std::max(ev.power_step_kw * slot_h, ev.min_kw * slot_h - ev.energy_kwh);
  };
  // Takes a surplus back (deficit_kwh[e] < 0) from EV e's charging slots other than `keep`,
  // dearest first, never below min_kw: a continuous pile by exactly the surplus, a whole-amp
  // pile one step at a time while a step still fits in the surplus. Slots changed are appended
  // to `changed` when given.
  auto give_back = [&](std::size_t e, std::size_t keep, std::vector<std::size_t>* changed) {
    const auto& ev = problem.evs[e];
    bool lowered = true;
    while (lowered && deficit_kwh[e] < -kEpsKwh) {
      lowered = false;
      for (auto it = slot_order.rbegin(); it != slot_order.rend() && deficit_kwh[e] < -kEpsKwh;
           ++it) {
        const std::size_t t = *it;
        double& kw = ev_kw[e][t];
        if (t == keep || kw <= 0) continue;
        const auto& at = pile(e, t);
        const double surplus_kw = -deficit_kwh[e] / slot_h;
        const double lower = at.power_step_kw > 0 ? step_below(at, kw)
                                                  : std::max(at.min_kw, kw - surplus_kw);
        if (!(kw - lower > kEpsKw) || kw - lower > surplus_kw + kEpsKw ||
            !may_fall(ev.node, t, kw - lower))
          continue;
        charge_path(e, t, lower - kw);
        deficit_kwh[e] += (kw - lower) * slot_h;
        kw = lower;
        lowered = true;
        if (changed) changed->push_back(t);
      }
    }
  };
  // How much give_back could take from EV e outside slot `keep` (kWh).
  auto lowerable_kwh = [&](std::size_t e, std::size_t keep) {
    const auto& ev = problem.evs[e];
    double kwh = 0;
    for (std::size_t t = 0; t < slots; ++t) {
      const double over_min = ev_kw[e][t] - pile(e, t).min_kw;
      if (t != keep && ev_kw[e][t] > 0 && over_min > kEpsKw && may_fall(ev.node, t, over_min))
        kwh += over_min * slot_h;
    }
    return kwh;
  };
  // Whether raising EV e in slot t by add_kw leaves a surplus give_back can bring within what
  // the pile may end above its need.
  auto surplus_absorbed = [&](std::size_t e, std::size_t t, double add_kw) {
    const double surplus = add_kw * slot_h - deficit_kwh[e];
    return surplus <= allowed_over_kwh(e) + kEpsKwh ||
           surplus - lowerable_kwh(e, t) <= allowed_over_kwh(e) + kEpsKwh;
  };
  // Pass 0: an EV rounded up beside a discharge gives the surplus back where that exports
  // nothing.
  for (std::size_t e : order) give_back(e, slots, nullptr);
  // Pass 1: whole accepted increments that do not exceed what EV e lost. True when it placed
  // some; slots changed are appended to `changed` when given.
  auto place_steps = [&](std::size_t e, std::vector<std::size_t>* changed) {
    const auto& ev = problem.evs[e];
    bool any = false, moved = deficit_kwh[e] > kEpsKwh;
    while (moved && deficit_kwh[e] > kEpsKwh) {
      moved = false;
      for (std::size_t t : slot_order) {
        if (!in_window(ev, t)) continue;
        double& kw = ev_kw[e][t];
        const auto& at = pile(e, t);
        double up = next_up(at, kw);
        if (at.power_step_kw <= 0 && kw >= at.min_kw - kEpsKw && kw > 0) {
          // Continuous above the minimum: top up by what is missing and what the path allows.
          const double free_kw = std::min(at.max_kw - kw, path_room(e, t));
          up = kw + std::max(0.0, std::min(free_kw, deficit_kwh[e] / slot_h));
        }
        const double add_kw = up - kw;
        if (add_kw <= kEpsKw || add_kw * slot_h > deficit_kwh[e] + kEpsKwh) continue;
        if (!fits(e, t, add_kw)) continue;
        charge_path(e, t, add_kw);
        kw = up;
        deficit_kwh[e] -= add_kw * slot_h;
        moved = any = true;
        if (changed) changed->push_back(t);
        if (deficit_kwh[e] <= kEpsKwh) break;
      }
    }
    return any;
  };
  // Pass 2, after every EV's whole increments so no overshoot takes room another EV's energy
  // needed: what is left becomes accepted increments, each in the cheapest slot that takes it,
  // then the smallest increment, and the surplus beyond the need is taken back from the car's
  // other slots (give_back); a slot whose surplus cannot be taken back is not used. Only for
  // EVs the exact plan serves in full: the ceiling argument needs the car to reach its request.
  auto place_over = [&](std::size_t e, std::vector<std::size_t>* changed) {
    const auto& ev = problem.evs[e];
    bool any = false, placed = true;
    while (placed && deficit_kwh[e] > kEpsKwh && exact_met[e]) {
      placed = false;
      std::size_t best = slots;
      double best_up_kw = 0;
      for (std::size_t t : slot_order) {
        if (!in_window(ev, t)) continue;
        const double up = next_up(pile(e, t), ev_kw[e][t]);
        const double add_kw = up - ev_kw[e][t];
        if (add_kw <= kEpsKw || !fits(e, t, add_kw) || !surplus_absorbed(e, t, add_kw)) continue;
        if (best == slots || (problem.price_per_kwh[t] == problem.price_per_kwh[best] &&
                              add_kw < best_up_kw - ev_kw[e][best] - kEpsKw)) {
          best = t;
          best_up_kw = up;
        }
      }
      if (best == slots) break;
      const double add_kw = best_up_kw - ev_kw[e][best];
      charge_path(e, best, add_kw);
      ev_kw[e][best] = best_up_kw;
      deficit_kwh[e] -= add_kw * slot_h;
      if (changed) changed->push_back(best);
      give_back(e, best, changed);
      placed = any = true;
    }
    return any;
  };
  for (std::size_t e : order) place_steps(e, nullptr);
  for (std::size_t e : order) place_over(e, nullptr);

  // Pass 3: where no slot has room for the next increment, make room. In a slot where the
  // EV's increment is short at some nodes, a whole-amp neighbour below the deepest of them
  // steps down there and takes its step (or a larger one, as a ceiling) in another slot of
  // its own window where that fits. The exact plan fills the cheap valley to the limit, and
  // without this each car's last fraction of a step is stuck behind the others' rounding.
  auto passes_through = [&](int node, int ancestor) {
    for (int n = node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent)
      if (n == ancestor) return true;
    return false;
  };
  // Where each whole-amp neighbour could take one more increment: the power it would go up to
  // per slot (0: none fits), and how many such slots it has. Kept current as swaps change two
  // slots at a time; on a full node most neighbours have none and are skipped at once.
  bool any_stuck = false;
  for (std::size_t e = 0; e < problem.evs.size(); ++e)
    any_stuck = any_stuck || (exact_met[e] && deficit_kwh[e] > kEpsKwh);
  std::vector<std::size_t> movable, continuous;
  for (std::size_t f : order) {
    if (!any_stuck || !needs_rounding(problem.evs[f]) || !exact_met[f]) continue;
    (problem.evs[f].power_step_kw > 0 ? movable : continuous).push_back(f);
  }
  std::vector<std::vector<double>> regain_kw(problem.evs.size());
  std::vector<int> regain_slots(problem.evs.size(), 0);
  std::vector<double> planned_kwh(problem.evs.size(), 0.0);
  auto update_regain = [&](std::size_t f, std::size_t t) {
    double& slot_up = regain_kw[f][t];
    if (slot_up > 0) --regain_slots[f];
    const double up = next_up(pile(f, t), ev_kw[f][t]);
    slot_up = up - ev_kw[f][t] > kEpsKw && fits(f, t, up - ev_kw[f][t]) ? up : 0.0;
    if (slot_up > 0) ++regain_slots[f];
  };
  for (std::size_t f : movable) {
    regain_kw[f].assign(slots, 0.0);
    for (double kw : ev_kw[f]) planned_kwh[f] += kw * slot_h;
    for (std::size_t t = 0; t < slots; ++t)
      if (in_window(problem.evs[f], t)) update_regain(f, t);
  }
  auto slots_changed = [&](std::size_t t, std::size_t t2) {
    for (std::size_t g : movable) {
      if (in_window(problem.evs[g], t)) update_regain(g, t);
      if (in_window(problem.evs[g], t2)) update_regain(g, t2);
    }
  };
  auto make_room = [&](std::size_t e) {
    const auto& ev = problem.evs[e];
    // The stuck EV takes the room made in slot t, going up to `up` (one increment), and gives
    // any surplus beyond its need back from its other slots.
    auto take_room = [&](std::size_t t, double up) {
      const double add_kw = up - ev_kw[e][t];
      charge_path(e, t, add_kw);
      ev_kw[e][t] = up;
      deficit_kwh[e] -= add_kw * slot_h;
      planned_kwh[e] += add_kw * slot_h;
      const double before_kwh = deficit_kwh[e];
      std::vector<std::size_t> changed;
      give_back(e, t, &changed);
      planned_kwh[e] -= deficit_kwh[e] - before_kwh;
      for (std::size_t c : changed) slots_changed(c, c);
    };
    for (std::size_t t : slot_order) {
      if (!in_window(ev, t)) continue;
      const auto& at = pile(e, t);
      // A pile continuous above its minimum asks for just what it misses (at least min_kw):
      // one slot a little above the minimum may be the only exact plan for a small need.
      const double up =
          at.power_step_kw > 0
              ? next_up(at, ev_kw[e][t])
              : std::min(at.max_kw, std::max(at.min_kw, ev_kw[e][t] + deficit_kwh[e] / slot_h));
      const double add_kw = up - ev_kw[e][t];
      if (add_kw <= kEpsKw || !surplus_absorbed(e, t, add_kw)) continue;
      int deepest = -1;
      double short_kw = 0;
      for (int n = ev.node; n >= 0; n = problem.nodes[static_cast<std::size_t>(n)].parent) {
        const double gap = add_kw - room[static_cast<std::size_t>(n)][t];
        if (gap > kEpsKw && deepest < 0) deepest = n;
        short_kw = std::max(short_kw, gap);
      }
      if (deepest < 0) continue;
      for (std::size_t f : movable) {
        const auto& other = problem.evs[f];
        if (f == e || regain_slots[f] == 0 || !in_window(other, t) || ev_kw[f][t] <= 0 ||
            !passes_through(other.node, deepest))
          continue;
        const double kw_f = ev_kw[f][t];
        const auto& at = pile(f, t);
        const double lower = kw_f <= at.min_kw + kEpsKw
                                 ? 0.0
                                 : round_down(at, kw_f - at.power_step_kw / 2);
        const double step_down = kw_f - lower;
        if (step_down < short_kw - kEpsKw || !may_fall(other.node, t, step_down)) continue;
        // The neighbour may end above its request by what pass 2 allows it.
        const double spare_kwh = other.energy_kwh + allowed_over_kwh(f) - planned_kwh[f];
        for (std::size_t t2 : slot_order) {
          const double up2 = t2 == t ? 0.0 : regain_kw[f][t2];
          if (up2 <= 0) continue;
          const double add2_kw = up2 - ev_kw[f][t2];
          if (add2_kw < step_down - kEpsKw || (add2_kw - step_down) * slot_h > spare_kwh + kEpsKwh)
            continue;
          charge_path(f, t, -step_down);
          if (!fits(e, t, add_kw)) {  // another node of the path is still short
            charge_path(f, t, step_down);
            break;
          }
          ev_kw[f][t] = lower;
          charge_path(f, t2, add2_kw);
          ev_kw[f][t2] = up2;
          deficit_kwh[f] += (step_down - add2_kw) * slot_h;
          planned_kwh[f] += (add2_kw - step_down) * slot_h;
          take_room(t, up);
          slots_changed(t, t2);
          return true;
        }
      }
      // Piles continuous above their minimum: a neighbour gives up just the shortfall (or
      // stops, where less would leave it below its minimum) and charges that much more,
      // spread over slots where it already charges and has room.
      for (std::size_t f : continuous) {
        const auto& other = problem.evs[f];
        if (f == e || !in_window(other, t) || ev_kw[f][t] <= 0 ||
            !passes_through(other.node, deepest))
          continue;
        const double kw_f = ev_kw[f][t];
        const double lower =
            kw_f - short_kw >= pile(f, t).min_kw - kEpsKw ? kw_f - short_kw : 0.0;
        const double step_down = kw_f - lower;
        if (step_down < short_kw - kEpsKw || !may_fall(other.node, t, step_down)) continue;
        std::vector<std::pair<std::size_t, double>> takes;  // slot, kW more
        double found_kw = 0;
        for (std::size_t t2 : slot_order) {
          if (found_kw >= step_down - kEpsKw) break;
          if (t2 == t || !in_window(other, t2) || ev_kw[f][t2] <= 0 ||
              ev_kw[f][t2] < pile(f, t2).min_kw - kEpsKw)
            continue;
          const double free_kw = std::min(pile(f, t2).max_kw - ev_kw[f][t2], path_room(f, t2));
          const double take = std::min(free_kw, step_down - found_kw);
          if (take <= kEpsKw) continue;
          takes.emplace_back(t2, take);
          found_kw += take;
        }
        if (found_kw < step_down - kEpsKw) continue;
        charge_path(f, t, -step_down);
        if (!fits(e, t, add_kw)) {  // another node of the path is still short
          charge_path(f, t, step_down);
          continue;
        }
        ev_kw[f][t] = lower;
        for (const auto& [t2, take] : takes) {
          charge_path(f, t2, take);
          ev_kw[f][t2] += take;
          slots_changed(t2, t2);
        }
        take_room(t, up);
        slots_changed(t, t);
        return true;
      }
    }
    return false;
  };
  // Room made for one car (and surplus given back) can open slots to a car handled before it:
  // a second round retries those.
  std::vector<std::size_t> changed;
  auto placed_again = [&](std::size_t e) {
    changed.clear();
    const double before_kwh = deficit_kwh[e];
    const bool any = place_steps(e, &changed) || place_over(e, &changed);
    planned_kwh[e] += before_kwh - deficit_kwh[e];
    for (std::size_t c : changed) slots_changed(c, c);
    return any;
  };
  for (int round = 0; round < 2 && any_stuck; ++round)
    for (std::size_t e : order)
      while (exact_met[e] && deficit_kwh[e] > kEpsKwh && (placed_again(e) || make_room(e))) {
      }
  double lost_kwh = 0;
  for (std::size_t e : order) {
    if (deficit_kwh[e] > kEpsKwh) lost_kwh += deficit_kwh[e];
  }
  return lost_kwh;
}

}  // namespace orderly::scheduler::detail

// The exact planner's fallback where phase limits make the problem a non-flow LP: a three-phase
// load takes a third of its power from each phase (an any_one load all of it from each), so one
// unit of flow sits in three phase constraints at once and no tree network carries them. The
// same lexicographic objectives as the flow (docs/scheduler.md) become a sequence of LPs,
// each optimum fixed as a constraint before the next: delivered energy per priority, fair
// shares, cost, valley filling. Solved by LEMON's LP interface (GLPK, LEMON_DEFAULT_LP).
#include <lemon/lp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <vector>

#include "optimal_internal.hpp"
#include "orderly/scheduler/kpi.hpp"

namespace orderly::scheduler::detail {
namespace {

using Lp = lemon::Lp;
using Expr = Lp::Expr;

// Capacities in whole energy units, floored as in the flow model, so the two solve the same
// quantised problem and agree on cost and delivered energy.
double floor_kwh(double kwh, double unit_kwh) {
  if (!(kwh > 0)) return 0;
  return std::floor(kwh / unit_kwh + 1e-9) * unit_kwh;
}

// A fixed optimum is kept as a constraint with this slack: GLPK's feasibility tolerance is 1e-7
// (relative), so an exact equality could make the next stage infeasible by rounding alone.
double slack(double v) { return 1e-9 * std::abs(v) + 1e-9; }

class PhaseLp {
 public:
  PhaseLp(const Problem& p, const OptimalOptions& o) : p_(p), o_(o) {
    lp_.messageLevel(std::getenv("ORDERLY_LP_DEBUG") ? Lp::MESSAGE_VERBOSE : Lp::MESSAGE_NOTHING);
    unit_kwh_ = o.energy_unit_wh / 1000.0;
    h_ = p.slot_hours();
    build();
  }

  // The plan, [ev][slot] in kW.
  std::vector<std::vector<double>> solve() {
    // Every need in full, when it fits.
    for (std::size_t e = 0; e < p_.evs.size(); ++e) row_bounds(energy_row_[e], need_[e], need_[e]);
    if (!optimum(cost_, Lp::MIN)) {
      for (std::size_t e = 0; e < p_.evs.size(); ++e) row_bounds(energy_row_[e], 0, need_[e]);
      share();
      if (!optimum(cost_, Lp::MIN)) throw std::logic_error("plan_optimal: the phase LP lost its shares; this is a bug");
    }
    if (has_valley_) {
      const double cost = lp_.primal();
      lp_.addRow(-Lp::INF, cost_, cost + slack(cost));
      if (!optimum(valley_, Lp::MIN)) throw std::logic_error("plan_optimal: the phase LP lost its cost; this is a bug");
    }
    std::vector<std::vector<double>> ev_kw(p_.evs.size(), std::vector<double>(static_cast<std::size_t>(p_.slots), 0.0));
    for (std::size_t e = 0; e < p_.evs.size(); ++e)
      for (std::size_t t = 0; t < ev_kw[e].size(); ++t) {
        double kwh = 0;
        if (has_charge_[e][t]) kwh += lp_.primal(charge_[e][t]);
        if (has_discharge_[e][t]) kwh -= lp_.primal(discharge_[e][t]);
        // GLPK's solution sits on its bounds to within its tolerance; below a mWh is noise.
        ev_kw[e][t] = std::abs(kwh) < 1e-6 ? 0.0 : kwh / h_;
      }
    return ev_kw;
  }

 private:
  // The order keeps lower <= upper at every step (LEMON sets one bound at a time).
  void row_bounds(Lp::Row row, double lo, double hi) {
    if (lo > lp_.rowUpperBound(row)) {
      lp_.rowUpperBound(row, hi);
      lp_.rowLowerBound(row, lo);
    } else {
      lp_.rowLowerBound(row, lo);
      lp_.rowUpperBound(row, hi);
    }
  }

  bool optimum(const Expr& objective, Lp::Sense sense) {
    lp_.obj(objective);
    lp_.sense(sense);
    return lp_.solve() == Lp::SOLVED && lp_.primalType() == Lp::OPTIMAL;
  }

  // Capacity short: the most energy priority by priority (each class total fixed before the
  // next), then within those the flow's fairness tiers, then each EV's share fixed.
  void share() {
    std::map<int, Expr, std::greater<>> classes;
    for (std::size_t e = 0; e < p_.evs.size(); ++e) classes[p_.evs[e].priority] += net_[e];
    for (const auto& [priority, total] : classes) {
      if (!optimum(total, Lp::MAX)) throw std::logic_error("plan_optimal: the phase LP has no delivery optimum; this is a bug");
      const double got = lp_.primal();
      lp_.addRow(got - slack(got), total, Lp::INF);
    }
    // Tier k of an EV's need is worth more than anyone's tier k + 1: equal fractions of need
    // within what the class totals allow (the flow's fairness, docs/scheduler.md).
    const int tiers = o_.fairness_tiers;
    Expr reward;
    for (std::size_t e = 0; e < p_.evs.size(); ++e) {
      if (!(need_[e] > 0)) continue;
      Expr tiers_sum;
      for (int k = 0; k < tiers; ++k) {
        const Lp::Col tier = lp_.addCol();
        lp_.colBounds(tier, 0, need_[e] / tiers);
        tiers_sum += tier;
        reward += static_cast<double>(tiers - k) * tier;
      }
      lp_.addRow(0, tiers_sum - net_[e], 0);
    }
    if (!optimum(reward, Lp::MAX)) throw std::logic_error("plan_optimal: the phase LP has no fair share; this is a bug");
    for (std::size_t e = 0; e < p_.evs.size(); ++e) {
      double got = 0;
      for (std::size_t t = 0; t < charge_[e].size(); ++t) {
        if (has_charge_[e][t]) got += lp_.primal(charge_[e][t]);
        if (has_discharge_[e][t]) got -= lp_.primal(discharge_[e][t]);
      }
      // Fixed exactly: a range as narrow as the slack made GLPK's primal simplex stall.
      got = std::clamp(got, 0.0, need_[e]);
      row_bounds(energy_row_[e], got, got);
    }
  }

  void build() {
    const auto slots = static_cast<std::size_t>(p_.slots);
    const std::size_t n_evs = p_.evs.size();
    charge_.assign(n_evs, std::vector<Lp::Col>(slots));
    discharge_ = charge_;
    has_charge_.assign(n_evs, std::vector<bool>(slots, false));
    has_discharge_ = has_charge_;
    need_.resize(n_evs);
    net_.resize(n_evs);
    bool v2g = false;
    // Per node and slot, the EVs' net energy through it: total and per phase (by phase_share).
    std::vector<std::vector<Expr>> through(p_.nodes.size(), std::vector<Expr>(slots));
    std::vector<std::vector<std::array<Expr, kPhases>>> through_phase(p_.nodes.size(), std::vector<std::array<Expr, kPhases>>(slots));
    std::vector<std::vector<bool>> used(p_.nodes.size(), std::vector<bool>(slots, false));
    for (std::size_t e = 0; e < n_evs; ++e) {
      const auto& ev = p_.evs[e];
      need_[e] = floor_kwh(ev.energy_kwh, unit_kwh_);
      const double max_kwh = floor_kwh(ev.max_kw * h_, unit_kwh_);
      const double first_kwh = std::min(floor_kwh(ev.max_kw * p_.first_slot_fraction * h_, unit_kwh_), max_kwh);
      const double dis_kwh = floor_kwh(ev.discharge_max_kw * h_, unit_kwh_);
      v2g = v2g || dis_kwh > 0;
      Expr soc;
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
        const auto ts = static_cast<std::size_t>(t);
        Expr net;
        charge_[e][ts] = lp_.addCol();
        lp_.colBounds(charge_[e][ts], 0, t == 0 ? first_kwh : max_kwh);
        has_charge_[e][ts] = true;
        net += charge_[e][ts];
        cost_ += p_.price_per_kwh[ts] * charge_[e][ts];
        if (dis_kwh > 0) {
          discharge_[e][ts] = lp_.addCol();
          lp_.colBounds(discharge_[e][ts], 0, dis_kwh);
          has_discharge_[e][ts] = true;
          net -= discharge_[e][ts];
          cost_ += (ev.discharge_price_per_kwh - p_.price_per_kwh[ts]) * discharge_[e][ts];
        }
        net_[e] += net;
        for (int n = ev.node; n >= 0; n = p_.nodes[static_cast<std::size_t>(n)].parent) {
          const auto ns = static_cast<std::size_t>(n);
          through[ns][ts] += net;
          used[ns][ts] = true;
          for (int ph = 0; ph < kPhases; ++ph) {
            const double share = phase_share(ev.phases, ph);
            if (share > 0 && !p_.nodes[ns].phase_limit_kw[static_cast<std::size_t>(ph)].empty())
              through_phase[ns][ts][static_cast<std::size_t>(ph)] += share * net;
          }
        }
        if (dis_kwh > 0) {
          // State of charge within [min(reserve, initial), battery] after every slot.
          soc += net;
          const double floor_level = std::min(ev.reserve_kwh, ev.initial_kwh);
          lp_.addRow(floor_level - ev.initial_kwh, soc, ev.battery_kwh - ev.initial_kwh);
        }
      }
      energy_row_.push_back(lp_.addRow(0, net_[e], need_[e]));
    }
    for (std::size_t n = 0; n < p_.nodes.size(); ++n) {
      const auto& node = p_.nodes[n];
      for (std::size_t t = 0; t < slots; ++t) {
        if (!used[n][t]) continue;
        const double base = node.base_load_kw.empty() ? 0.0 : node.base_load_kw[t];
        // No net export past the transformer; below it, reverse power within the node's limit.
        const double up = floor_kwh(std::max(0.0, node.limit_kw[t] - base) * h_, unit_kwh_);
        const double down = n == 0 ? floor_kwh(std::max(0.0, base) * h_, unit_kwh_)
                                   : floor_kwh(std::max(0.0, node.limit_kw[t] + base) * h_, unit_kwh_);
        lp_.addRow(v2g ? -down : -Lp::INF, through[n][t], up);
        for (int ph = 0; ph < kPhases; ++ph) {
          const auto& limit = node.phase_limit_kw[static_cast<std::size_t>(ph)];
          if (limit.empty()) continue;
          const double phase_base = base_load_phase_at(node, ph, t);
          const double phase_up = std::max(0.0, limit[t] - phase_base) * h_;
          const double phase_down = std::max(0.0, limit[t] + phase_base) * h_;
          lp_.addRow(v2g ? -phase_down : -Lp::INF, through_phase[n][t][static_cast<std::size_t>(ph)], phase_up);
        }
      }
    }
    // Valley filling as in the flow: a convex penalty of the transformer's load, in pieces of
    // equal width between the lowest base and the highest reachable load. With V2G piles the
    // load can fall below the base and the pieces would need a reduction side as well; there
    // the tie between equally cheap plans is left to the solver (cost is still exact).
    const int pieces = o_.valley_pieces;
    if (!o_.valley_filling || v2g || pieces < 2) return;
    const auto& root = p_.nodes[0];
    double lo = 0, hi = 0;
    bool any = false;
    for (std::size_t t = 0; t < slots; ++t) {
      if (!used[0][t]) continue;
      const double base = (root.base_load_kw.empty() ? 0.0 : root.base_load_kw[t]) * h_;
      const double top = base + std::max(0.0, root.limit_kw[t] * h_ - base);
      lo = any ? std::min(lo, std::max(0.0, base)) : std::max(0.0, base);
      hi = any ? std::max(hi, top) : top;
      any = true;
    }
    const double width = (hi - lo) / pieces;
    if (!any || !(width > 0)) return;
    for (std::size_t t = 0; t < slots; ++t) {
      if (!used[0][t]) continue;
      const double base = (root.base_load_kw.empty() ? 0.0 : root.base_load_kw[t]) * h_;
      Expr pieces_sum;
      for (int j = 0; j < pieces; ++j) {
        const double from = std::max(base, lo + width * j);
        const double to = j + 1 < pieces ? lo + width * (j + 1) : Lp::INF;
        if (!(to > from)) continue;
        const Lp::Col z = lp_.addCol();
        lp_.colBounds(z, 0, to == Lp::INF ? Lp::INF : to - from);
        pieces_sum += z;
        valley_ += static_cast<double>(j) * z;
      }
      lp_.addRow(0, pieces_sum - through[0][t], 0);
    }
    has_valley_ = true;
  }

  const Problem& p_;
  const OptimalOptions& o_;
  double unit_kwh_ = 0.001;
  double h_ = 0.25;
  Lp lp_;
  std::vector<std::vector<Lp::Col>> charge_, discharge_;
  std::vector<std::vector<bool>> has_charge_, has_discharge_;
  std::vector<double> need_;
  std::vector<Expr> net_;
  std::vector<Lp::Row> energy_row_;
  Expr cost_, valley_;
  bool has_valley_ = false;
};

}  // namespace

bool has_phase_limits(const Problem& problem) {
  return std::any_of(problem.nodes.begin(), problem.nodes.end(), [](const CapacityNode& n) { return has_phase_limit(n); });
}

bool phase_limits_hold(const Problem& problem, const std::vector<std::vector<double>>& ev_kw) {
  Plan plan;
  plan.ev_kw = ev_kw;
  const auto load = node_phase_load_kw(problem, plan);
  for (std::size_t n = 0; n < problem.nodes.size(); ++n)
    for (std::size_t ph = 0; ph < static_cast<std::size_t>(kPhases); ++ph) {
      const auto& limit = problem.nodes[n].phase_limit_kw[ph];
      for (std::size_t t = 0; t < limit.size(); ++t) {
        // Charging may not push a phase over; where the base alone is over, it must add nothing.
        const double base = base_load_phase_at(problem.nodes[n], static_cast<int>(ph), t);
        if (load[n][ph][t] - base > std::max(0.0, limit[t] - base) + kOverloadToleranceKw) return false;
      }
    }
  return true;
}

std::vector<std::vector<double>> solve_phase_lp(const Problem& problem, const OptimalOptions& options) {
  return PhaseLp(problem, options).solve();
}

}  // namespace orderly::scheduler::detail

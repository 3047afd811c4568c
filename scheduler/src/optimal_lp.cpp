// The exact planner's fallback where phase limits make the problem a non-flow LP: a three-phase
// load takes a third of its power from each phase (an any_one load all of it from each), so one
// unit of flow sits in three phase constraints at once and no tree network carries them. The
// same lexicographic objectives as the flow (docs/scheduler.md) become a sequence of LPs,
// each optimum fixed as a constraint before the next: delivered energy per priority, max-min
// fair shares, cost, valley filling. Solved with GLPK's simplex through its C API: LEMON's LP layer
// (lemon/lp.h) would do the same, but it lives in liblemon, which cross builds cannot link
// (packaging/setup-cross.sh: liblemon-dev is not Multi-Arch: same); libglpk is.
#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "optimal_internal.hpp"
#include "orderly/scheduler/kpi.hpp"

namespace orderly::scheduler::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A linear expression: (column, coefficient) pairs.
struct Expr {
  std::vector<std::pair<int, double>> terms;
  Expr& operator+=(int col) { return add(col, 1.0); }
  Expr& operator+=(const Expr& e) {
    terms.insert(terms.end(), e.terms.begin(), e.terms.end());
    return *this;
  }
  Expr& add(int col, double coef) {
    terms.emplace_back(col, coef);
    return *this;
  }
  Expr& add(const Expr& e, double coef) {
    for (const auto& [col, a] : e.terms) terms.emplace_back(col, a * coef);
    return *this;
  }
};

// The few GLPK calls the planner needs; the basis stays between solves (warm start).
class Lp {
 public:
  explicit Lp(long iteration_limit) : lp_(glp_create_prob()), iterations_left_(iteration_limit) {
    glp_init_smcp(&parm_);
    parm_.msg_lev = std::getenv("ORDERLY_LP_DEBUG") ? GLP_MSG_ALL : GLP_MSG_OFF;
    // Off: the presolver would rebuild the problem and drop the previous stage's basis. The
    // dual simplex, textbook pricing and scaling were each measured slower on these LPs.
    parm_.presolve = GLP_OFF;
  }
  ~Lp() { glp_delete_prob(lp_); }
  Lp(const Lp&) = delete;
  Lp& operator=(const Lp&) = delete;

  int add_col(double lo, double hi) {
    const int j = glp_add_cols(lp_, 1);
    glp_set_col_bnds(lp_, j, type(lo, hi), lo, hi);
    return j;
  }
  int add_row(double lo, const Expr& e, double hi) {
    const int i = glp_add_rows(lp_, 1);
    // GLPK wants each column once per row.
    std::map<int, double> merged;
    for (const auto& [col, a] : e.terms) merged[col] += a;
    std::vector<int> ind{0};
    std::vector<double> val{0.0};
    for (const auto& [col, a] : merged)
      if (a != 0) {
        ind.push_back(col);
        val.push_back(a);
      }
    glp_set_mat_row(lp_, i, static_cast<int>(ind.size()) - 1, ind.data(), val.data());
    row_bounds(i, lo, hi);
    return i;
  }
  void row_bounds(int row, double lo, double hi) { glp_set_row_bnds(lp_, row, type(lo, hi), lo, hi); }
  // Optimises e (GLP_MIN or GLP_MAX); false when there is no optimum (infeasible).
  bool optimum(const Expr& e, int direction) {
    for (int j = 1; j <= glp_get_num_cols(lp_); ++j) glp_set_obj_coef(lp_, j, 0.0);
    for (const auto& [col, a] : e.terms) glp_set_obj_coef(lp_, col, glp_get_obj_coef(lp_, col) + a);
    glp_set_obj_dir(lp_, direction);
    int status = simplex();
    if (status == GLP_EBADB || status == GLP_ESING || status == GLP_ECOND) {
      // A basis gone bad after bounds changed: start again from GLPK's advanced basis.
      glp_adv_basis(lp_, 0);
      status = simplex();
    }
    if (status == GLP_EITLIM)
      throw PhaseLpIterationLimit("plan_optimal: the phase LP needs more than phase_lp_iteration_limit simplex iterations");
    return status == 0 && glp_get_status(lp_) == GLP_OPT;
  }
  double value() const { return glp_get_obj_val(lp_); }
  double primal(int col) const { return glp_get_col_prim(lp_, col); }
  double dual(int row) const { return glp_get_row_dual(lp_, row); }
  void col_bounds(int col, double lo, double hi) { glp_set_col_bnds(lp_, col, type(lo, hi), lo, hi); }

 private:
  int simplex() {
    if (iterations_left_ > 0) {
      parm_.it_lim = static_cast<int>(std::min<long>(iterations_left_, std::numeric_limits<int>::max()));
      const int before = glp_get_it_cnt(lp_);
      const int status = glp_simplex(lp_, &parm_);
      iterations_left_ = std::max(1L, iterations_left_ - (glp_get_it_cnt(lp_) - before));
      return status;
    }
    return glp_simplex(lp_, &parm_);
  }

  static int type(double lo, double hi) {
    if (lo == -kInf && hi == kInf) return GLP_FR;
    if (lo == -kInf) return GLP_UP;
    if (hi == kInf) return GLP_LO;
    return lo == hi ? GLP_FX : GLP_DB;
  }
  glp_prob* lp_;
  long iterations_left_;  // 0: no limit
  glp_smcp parm_;
};

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
  PhaseLp(const Problem& p, const OptimalOptions& o) : p_(p), o_(o), lp_(o.phase_lp_iteration_limit) {
    unit_kwh_ = o.energy_unit_wh / 1000.0;
    h_ = p.slot_hours();
    build();
  }

  // The plan, [ev][slot] in kW.
  std::vector<std::vector<double>> solve() {
    // Every need in full, when it fits.
    for (std::size_t e = 0; e < p_.evs.size(); ++e) lp_.row_bounds(energy_row_[e], need_[e], need_[e]);
    if (!lp_.optimum(cost_, GLP_MIN)) {
      for (std::size_t e = 0; e < p_.evs.size(); ++e) lp_.row_bounds(energy_row_[e], 0, need_[e]);
      share();
      if (!lp_.optimum(cost_, GLP_MIN)) throw std::logic_error("plan_optimal: the phase LP lost its shares; this is a bug");
    }
    if (has_valley_) {
      const double cost = lp_.value();
      lp_.add_row(-kInf, cost_, cost + slack(cost));
      if (!lp_.optimum(valley_, GLP_MIN)) throw std::logic_error("plan_optimal: the phase LP lost its cost; this is a bug");
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
  // Capacity short: the most energy priority by priority (each class total fixed before the
  // next), then within those the max-min fair served fractions as the flow finds them
  // (docs/scheduler.md), then each EV's share fixed.
  void share() {
    std::map<int, Expr, std::greater<>> classes;
    std::map<int, std::vector<std::size_t>, std::greater<>> members;
    for (std::size_t e = 0; e < p_.evs.size(); ++e) {
      classes[p_.evs[e].priority] += net_[e];
      members[p_.evs[e].priority].push_back(e);
    }
    for (const auto& [priority, total] : classes) {
      if (!lp_.optimum(total, GLP_MAX)) throw std::logic_error("plan_optimal: the phase LP has no delivery optimum; this is a bug");
      const double got = lp_.value();
      lp_.add_row(got - slack(got), total, kInf);
    }
    // Progressive filling, class by class: the active cars' common fraction as high as it
    // goes; a car whose row (net - fraction x need >= 0) has a non-zero dual is at that
    // fraction in every optimum, so it cannot get more and is frozen there; the rest go on.
    // Every round freezes at least one car (the fraction's objective is covered by the duals).
    const int fraction = lp_.add_col(0, 1);
    Expr raise;
    raise.add(fraction, 1.0);
    for (const auto& [priority, cars] : members) {
      std::vector<std::size_t> active;
      std::vector<int> row(p_.evs.size(), 0);
      for (std::size_t e : cars) {
        if (!(need_[e] > 0)) continue;
        active.push_back(e);
        row[e] = lp_.add_row(0, Expr(net_[e]).add(fraction, -need_[e]), kInf);
      }
      while (!active.empty()) {
        if (!lp_.optimum(raise, GLP_MAX)) throw std::logic_error("plan_optimal: the phase LP has no fair share; this is a bug");
        const double level = lp_.value();
        std::vector<std::size_t> still;
        for (std::size_t e : active)
          if (std::abs(lp_.dual(row[e])) <= 1e-9) still.push_back(e);
        if (still.size() == active.size()) still.clear();  // numerical stall: freeze them all
        for (std::size_t e : active) {
          if (std::find(still.begin(), still.end(), e) != still.end()) continue;
          // A lower bound is enough: the car cannot get more while the others keep theirs, and
          // a range as narrow as the slack made GLPK's primal simplex stall.
          const double got = std::clamp(level * need_[e], 0.0, need_[e]);
          lp_.row_bounds(energy_row_[e], std::max(0.0, got - slack(got) - 1e-6), need_[e]);
          lp_.row_bounds(row[e], -kInf, kInf);
        }
        active = std::move(still);
      }
    }
    if (!lp_.optimum(raise, GLP_MAX)) throw std::logic_error("plan_optimal: the phase LP lost its fair shares; this is a bug");
    for (std::size_t e = 0; e < p_.evs.size(); ++e) {
      double got = 0;
      for (std::size_t t = 0; t < charge_[e].size(); ++t) {
        if (has_charge_[e][t]) got += lp_.primal(charge_[e][t]);
        if (has_discharge_[e][t]) got -= lp_.primal(discharge_[e][t]);
      }
      // Fixed exactly: a range as narrow as the slack made GLPK's primal simplex stall.
      got = std::clamp(got, 0.0, need_[e]);
      lp_.row_bounds(energy_row_[e], got, got);
    }
  }

  void build() {
    const auto slots = static_cast<std::size_t>(p_.slots);
    const std::size_t n_evs = p_.evs.size();
    charge_.assign(n_evs, std::vector<int>(slots, 0));
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
        charge_[e][ts] = lp_.add_col(0, t == 0 ? first_kwh : max_kwh);
        has_charge_[e][ts] = true;
        net += charge_[e][ts];
        cost_.add(charge_[e][ts], p_.price_per_kwh[ts]);
        if (dis_kwh > 0) {
          discharge_[e][ts] = lp_.add_col(0, dis_kwh);
          has_discharge_[e][ts] = true;
          net.add(discharge_[e][ts], -1.0);
          cost_.add(discharge_[e][ts], ev.discharge_price_per_kwh - p_.price_per_kwh[ts]);
        }
        net_[e] += net;
        for (int n = ev.node; n >= 0; n = p_.nodes[static_cast<std::size_t>(n)].parent) {
          const auto ns = static_cast<std::size_t>(n);
          through[ns][ts] += net;
          used[ns][ts] = true;
          for (int ph = 0; ph < kPhases; ++ph) {
            const double share = phase_share(ev.phases, ph);
            if (share > 0 && !p_.nodes[ns].phase_limit_kw[static_cast<std::size_t>(ph)].empty())
              through_phase[ns][ts][static_cast<std::size_t>(ph)].add(net, share);
          }
        }
        if (dis_kwh > 0) {
          // State of charge within [min(reserve, initial), battery] after every slot.
          soc += net;
          const double floor_level = std::min(ev.reserve_kwh, ev.initial_kwh);
          lp_.add_row(floor_level - ev.initial_kwh, soc, ev.battery_kwh - ev.initial_kwh);
        }
      }
      energy_row_.push_back(lp_.add_row(0, net_[e], need_[e]));
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
        lp_.add_row(v2g ? -down : -kInf, through[n][t], up);
        for (int ph = 0; ph < kPhases; ++ph) {
          const auto& limit = node.phase_limit_kw[static_cast<std::size_t>(ph)];
          if (limit.empty()) continue;
          const double phase_base = base_load_phase_at(node, ph, t);
          const double phase_up = std::max(0.0, limit[t] - phase_base) * h_;
          const double phase_down = std::max(0.0, limit[t] + phase_base) * h_;
          lp_.add_row(v2g ? -phase_down : -kInf, through_phase[n][t][static_cast<std::size_t>(ph)], phase_up);
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
        const double to = j + 1 < pieces ? lo + width * (j + 1) : kInf;
        if (!(to > from)) continue;
        const int z = lp_.add_col(0, to == kInf ? kInf : to - from);
        pieces_sum += z;
        valley_.add(z, static_cast<double>(j));
      }
      lp_.add_row(0, pieces_sum.add(through[0][t], -1.0), 0);
    }
    has_valley_ = true;
  }

  const Problem& p_;
  const OptimalOptions& o_;
  double unit_kwh_ = 0.001;
  double h_ = 0.25;
  Lp lp_;
  std::vector<std::vector<int>> charge_, discharge_;
  std::vector<std::vector<bool>> has_charge_, has_discharge_;
  std::vector<double> need_;
  std::vector<Expr> net_;
  std::vector<int> energy_row_;
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

// The oracle: the charging problem as a plain LP, straight from the problem statement.
// Variables: charge c[e][t] and (bidirectional piles) discharge d[e][t], kWh per slot.
// Rows: per node and slot, the net charging of every EV in its subtree within the node's
// headroom; per EV, net energy within [0, need]; per bidirectional EV and slot, the state of
// charge within [min(reserve, initial), battery]; per limited phase of a node and slot, every
// EV below at its phase_share; per priority, the class total (fixed stage by
// stage). Deliberately shares nothing with the flow planner but the Problem struct.
#include <glpk.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include "orderly/test/optimal_testkit.hpp"

namespace orderly::test {
namespace {

using scheduler::Problem;

class Lp {
 public:
  Lp() : lp_(glp_create_prob()) {}
  ~Lp() { glp_delete_prob(lp_); }
  Lp(const Lp&) = delete;
  Lp& operator=(const Lp&) = delete;

  int add_col(double lo, double hi) {
    const int j = glp_add_cols(lp_, 1);
    glp_set_col_bnds(lp_, j, lo == hi ? GLP_FX : GLP_DB, lo, hi);
    return j;
  }
  // Row with coefficients; bounds set later or here.
  int add_row(const std::vector<std::pair<int, double>>& terms, int type, double lo, double hi) {
    const int i = glp_add_rows(lp_, 1);
    glp_set_row_bnds(lp_, i, type, lo, hi);
    for (const auto& [j, a] : terms) {
      ia_.push_back(i);
      ja_.push_back(j);
      ar_.push_back(a);
    }
    return i;
  }
  void load() { glp_load_matrix(lp_, static_cast<int>(ia_.size()) - 1, ia_.data(), ja_.data(), ar_.data()); }
  void bounds(int row, int type, double lo, double hi) { glp_set_row_bnds(lp_, row, type, lo, hi); }
  double solve(int dir, const std::vector<double>& obj) {
    glp_set_obj_dir(lp_, dir);
    for (int j = 1; j <= glp_get_num_cols(lp_); ++j)
      glp_set_obj_coef(lp_, j, obj[static_cast<std::size_t>(j)]);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_OFF;
    if (glp_simplex(lp_, &parm) != 0 || glp_get_status(lp_) != GLP_OPT)
      throw std::runtime_error("lp_oracle: GLPK found no optimum; the instance is malformed");
    return glp_get_obj_val(lp_);
  }
  double value(int j) const { return glp_get_col_prim(lp_, j); }
  glp_prob* raw() { return lp_; }
  int cols() const { return glp_get_num_cols(lp_); }

 private:
  glp_prob* lp_;
  std::vector<int> ia_{0}, ja_{0};
  std::vector<double> ar_{0.0};
};

}  // namespace

namespace {
// fixed_kwh: minimum cost given each EV's delivery. fair_kwh: instead of the cost stages, the
// lexicographically max-min fair deliveries (served fraction delivered / need), priority by
// priority, by progressive filling: maximise the active cars' common fraction, freeze every car
// that cannot get more with the others held at it (one LP per car), repeat.
OracleResult solve(const Problem& p, const std::vector<double>* fixed_kwh,
                   std::vector<double>* fair_kwh = nullptr) {
  const double h = p.slot_hours();
  const auto slots = static_cast<std::size_t>(p.slots);
  const std::size_t n_evs = p.evs.size();
  Lp lp;
  std::vector<std::vector<int>> c(n_evs, std::vector<int>(slots, 0)), d = c;
  for (std::size_t e = 0; e < n_evs; ++e) {
    const auto& ev = p.evs[e];
    for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
      c[e][static_cast<std::size_t>(t)] = lp.add_col(0, ev.max_kw * h);
      if (ev.discharge_max_kw > 0) d[e][static_cast<std::size_t>(t)] = lp.add_col(0, ev.discharge_max_kw * h);
    }
  }
  auto net_terms = [&](std::size_t e, std::size_t t, std::vector<std::pair<int, double>>& terms) {
    if (c[e][t]) terms.emplace_back(c[e][t], 1.0);
    if (d[e][t]) terms.emplace_back(d[e][t], -1.0);
  };
  auto under = [&](std::size_t e, int n) {
    for (int m = p.evs[e].node; m >= 0; m = p.nodes[static_cast<std::size_t>(m)].parent)
      if (m == n) return true;
    return false;
  };
  for (std::size_t n = 0; n < p.nodes.size(); ++n) {
    const auto& node = p.nodes[n];
    for (std::size_t t = 0; t < slots; ++t) {
      std::vector<std::pair<int, double>> terms;
      bool gives = false;
      for (std::size_t e = 0; e < n_evs; ++e)
        if (under(e, static_cast<int>(n))) {
          net_terms(e, t, terms);
          gives = gives || d[e][t] != 0;
        }
      if (terms.empty()) continue;
      const double base = node.base_load_kw.empty() ? 0.0 : node.base_load_kw[t];
      const double up = std::max(0.0, node.limit_kw[t] - base) * h;
      // No net export at the transformer; reverse flow below it within the node's limit.
      const double lo = (n == 0 ? -base : -(node.limit_kw[t] + base)) * h;
      if (gives)
        lp.add_row(terms, GLP_DB, std::min(lo, up), up);
      else
        lp.add_row(terms, GLP_UP, 0, up);
      // Each limited phase: every EV below at its share of the phase (a third for three-phase
      // piles, all of it on its own phase for single-phase ones and on every phase for any_one).
      for (int ph = 0; ph < scheduler::kPhases; ++ph) {
        const auto& limit = node.phase_limit_kw[static_cast<std::size_t>(ph)];
        if (limit.empty()) continue;
        std::vector<std::pair<int, double>> phase_terms;
        for (std::size_t e = 0; e < n_evs; ++e) {
          const double share = scheduler::phase_share(p.evs[e].phases, ph);
          if (!under(e, static_cast<int>(n)) || share == 0) continue;
          std::vector<std::pair<int, double>> ev_terms;
          net_terms(e, t, ev_terms);
          for (const auto& [j, a] : ev_terms) phase_terms.emplace_back(j, a * share);
        }
        if (phase_terms.empty()) continue;
        const double phase_base = scheduler::base_load_phase_at(node, ph, t);
        const double phase_up = std::max(0.0, limit[t] - phase_base) * h;
        if (gives)
          lp.add_row(phase_terms, GLP_DB, -(limit[t] + phase_base) * h, phase_up);
        else
          lp.add_row(phase_terms, GLP_UP, 0, phase_up);
      }
    }
  }
  std::vector<int> energy_row(n_evs);
  std::map<int, std::vector<std::size_t>> classes;
  for (std::size_t e = 0; e < n_evs; ++e) {
    const auto& ev = p.evs[e];
    std::vector<std::pair<int, double>> terms;
    for (std::size_t t = 0; t < slots; ++t) net_terms(e, t, terms);
    energy_row[e] = lp.add_row(terms, ev.energy_kwh > 0 ? GLP_DB : GLP_FX, 0, ev.energy_kwh);
    classes[ev.priority].push_back(e);
    if (ev.discharge_max_kw > 0) {
      const double floor_kwh = std::min(ev.reserve_kwh, ev.initial_kwh);
      std::vector<std::pair<int, double>> soc;
      for (int t = ev.arrival_slot; t < ev.departure_slot; ++t) {
        net_terms(e, static_cast<std::size_t>(t), soc);
        lp.add_row(soc, GLP_DB, floor_kwh - ev.initial_kwh, ev.battery_kwh - ev.initial_kwh);
      }
    }
  }
  std::map<int, int> class_row;
  for (const auto& [prio, members] : classes) {
    std::vector<std::pair<int, double>> terms;
    for (std::size_t e : members)
      for (std::size_t t = 0; t < slots; ++t) net_terms(e, t, terms);
    class_row[prio] = lp.add_row(terms, GLP_FR, 0, 0);
  }
  // Fairness: the common fraction and, per EV, delivered - fraction x need (>= 0 while active).
  const int fraction = fair_kwh ? lp.add_col(0, 1) : 0;
  std::vector<int> fraction_row(n_evs, 0);
  for (std::size_t e = 0; fair_kwh && e < n_evs; ++e) {
    std::vector<std::pair<int, double>> terms;
    for (std::size_t t = 0; t < slots; ++t) net_terms(e, t, terms);
    terms.emplace_back(fraction, -p.evs[e].energy_kwh);
    fraction_row[e] = lp.add_row(terms, GLP_FR, 0, 0);
  }
  lp.load();
  if (fair_kwh) {
    const auto n_cols = static_cast<std::size_t>(lp.cols());
    fair_kwh->assign(n_evs, 0.0);
    auto energy_obj = [&](std::size_t e, std::vector<double>& obj) {
      for (std::size_t t = 0; t < slots; ++t) {
        if (c[e][t]) obj[static_cast<std::size_t>(c[e][t])] = 1;
        if (d[e][t]) obj[static_cast<std::size_t>(d[e][t])] = -1;
      }
    };
    auto freeze = [&](std::size_t e, double kwh) {
      (*fair_kwh)[e] = kwh;
      lp.bounds(energy_row[e], GLP_DB, std::max(0.0, kwh - 1e-7), kwh + 1e-7);
      lp.bounds(fraction_row[e], GLP_FR, 0, 0);
    };
    for (auto it = classes.rbegin(); it != classes.rend(); ++it) {
      std::vector<std::size_t> active;
      for (std::size_t e : it->second)
        if (p.evs[e].energy_kwh > 0) active.push_back(e);
      while (!active.empty()) {
        for (std::size_t e : active) lp.bounds(fraction_row[e], GLP_LO, 0, 0);
        glp_set_col_bnds(lp.raw(), fraction, GLP_DB, 0, 1);
        std::vector<double> obj(n_cols + 1, 0.0);
        obj[static_cast<std::size_t>(fraction)] = 1;
        const double level = lp.solve(GLP_MAX, obj);
        glp_set_col_bnds(lp.raw(), fraction, GLP_FX, level - 1e-9, level - 1e-9);
        std::vector<std::size_t> still;
        for (std::size_t e : active) {
          std::vector<double> mine(n_cols + 1, 0.0);
          energy_obj(e, mine);
          // 0.1 Wh, not 1e-6: GLPK keeps each of the others' fraction rows to ~1e-7, and a
          // hundred such slacks let every car seem to get 1e-5 kWh more; then none froze and
          // the stall rule below froze cars that could get far more (120 EVs, limit = base peak).
          if (lp.solve(GLP_MAX, mine) > level * p.evs[e].energy_kwh + 1e-4)
            still.push_back(e);
        }
        if (still.size() == active.size()) still.clear();  // numerical stall: freeze them all
        for (std::size_t e : active)
          if (std::find(still.begin(), still.end(), e) == still.end())
            freeze(e, level * p.evs[e].energy_kwh);
        active = still;
      }
    }
    return OracleResult{};
  }

  OracleResult out;
  const auto n_cols = static_cast<std::size_t>(lp.cols());
  double total_need = 0;
  for (auto it = classes.rbegin(); !fixed_kwh && it != classes.rend(); ++it) {
    std::vector<double> obj(n_cols + 1, 0.0);
    for (std::size_t e : it->second) {
      total_need += p.evs[e].energy_kwh;
      for (std::size_t t = 0; t < slots; ++t) {
        if (c[e][t]) obj[static_cast<std::size_t>(c[e][t])] = 1;
        if (d[e][t]) obj[static_cast<std::size_t>(d[e][t])] = -1;
      }
    }
    const double got = lp.solve(GLP_MAX, obj);
    lp.bounds(class_row[it->first], GLP_LO, got - 1e-7 - 1e-9 * got, 0);
    if (out.delivered_by_priority.size() <= static_cast<std::size_t>(it->first))
      out.delivered_by_priority.resize(static_cast<std::size_t>(it->first) + 1, 0.0);
    out.delivered_by_priority[static_cast<std::size_t>(it->first)] = got;
    out.delivered_kwh += got;
  }
  out.all_met = out.delivered_kwh >= total_need - 1e-6;
  if (fixed_kwh) {
    // Within a µWh: the planner's LP fallback reads its plan off GLPK's primal values, which
    // sit on their bounds only to GLPK's tolerance.
    for (std::size_t e = 0; e < n_evs; ++e)
      lp.bounds(energy_row[e], GLP_DB, std::max(0.0, (*fixed_kwh)[e] - 1e-6), (*fixed_kwh)[e] + 1e-6);
  } else if (out.all_met) {
    for (std::size_t e = 0; e < n_evs; ++e)
      lp.bounds(energy_row[e], GLP_FX, p.evs[e].energy_kwh, p.evs[e].energy_kwh);
  }

  std::vector<double> obj(n_cols + 1, 0.0);
  for (std::size_t e = 0; e < n_evs; ++e)
    for (std::size_t t = 0; t < slots; ++t) {
      if (c[e][t]) obj[static_cast<std::size_t>(c[e][t])] = p.price_per_kwh[t];
      if (d[e][t])
        obj[static_cast<std::size_t>(d[e][t])] = -p.price_per_kwh[t] + p.evs[e].discharge_price_per_kwh;
    }
  out.cost_yuan = lp.solve(GLP_MIN, obj);
  out.ev_kw.assign(n_evs, std::vector<double>(slots, 0.0));
  for (std::size_t e = 0; e < n_evs; ++e)
    for (std::size_t t = 0; t < slots; ++t) {
      double kwh = 0;
      if (c[e][t]) kwh += lp.value(c[e][t]);
      if (d[e][t]) kwh -= lp.value(d[e][t]);
      out.ev_kw[e][t] = kwh / h;
    }
  return out;
}
}  // namespace

OracleResult lp_oracle(const Problem& p) { return solve(p, nullptr); }

double lp_min_cost_given(const Problem& p, const std::vector<double>& delivered_kwh) {
  return solve(p, &delivered_kwh).cost_yuan;
}

std::vector<double> lp_max_min_fair(const Problem& p) {
  std::vector<double> fair;
  solve(p, nullptr, &fair);
  return fair;
}

}  // namespace orderly::test

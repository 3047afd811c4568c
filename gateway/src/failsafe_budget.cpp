#include "orderly/gateway/failsafe_budget.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "orderly/base/units.hpp"
#include "orderly/gateway/meter_check.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {
namespace {

constexpr std::size_t kPhases = kPhaseCount;

scheduler::PhaseSet phase_set(Phase p) {
  switch (p) {
    case Phase::A: return scheduler::PhaseSet::a;
    case Phase::B: return scheduler::PhaseSet::b;
    case Phase::C: return scheduler::PhaseSet::c;
    case Phase::ABC: return scheduler::PhaseSet::abc;
  }
  return scheduler::PhaseSet::abc;
}

std::string kw_text(double kw) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", std::round(kw * 100.0) / 100.0);
  return buf;
}

void finish(FailsafeLimitBudget& b) {
  std::stable_sort(b.piles.begin(), b.piles.end(),
                   [](const FailsafePileLoad& x, const FailsafePileLoad& y) { return x.kw > y.kw; });
  b.piles_kw = 0;
  for (const auto& p : b.piles) b.piles_kw += p.kw;
  double left = b.excess_kw();
  for (const auto& p : b.piles) {
    if (left <= 1e-9) break;
    b.to_fix.push_back(p);
    left -= p.kw;
  }
}

}  // namespace

bool FailsafeBudget::over() const {
  return std::any_of(limits.begin(), limits.end(), [](const FailsafeLimitBudget& b) { return b.over(); });
}

double failsafe_kw(const ChargerConfig& charger, bool has_failsafe) {
  if (!has_failsafe) return charger.max_power_kw;
  const double kw = power_w_at_nominal(charger.failsafe_current_a, phase_count(charger.phase)) / 1000.0;
  return std::min(kw, charger.max_power_kw);
}

FailsafeBudget failsafe_budget(const Config& config, const std::function<bool(const ChargerConfig&)>& has_failsafe,
                               const FailsafeBaseLoad& base, std::optional<double> transformer_limit_kw) {
  const auto& tr = config.site.transformer;
  FailsafeBudget out;

  FailsafeLimitBudget total;
  total.limit = "transformer '" + tr.id + "'";
  total.limit_kw = transformer_limit_kw.value_or(tr.limit_kw);
  total.base_kw = base.transformer_peak_kw;

  using PhaseBudgets = std::array<std::optional<FailsafeLimitBudget>, kPhases>;
  static const char* const kPhaseNames[kPhases] = {"A", "B", "C"};
  // A node's phase budgets: its non-EV peak split as the planner splits it where no
  // per-phase figure is known.
  const auto phase_budgets = [](const std::string& name, const std::array<std::optional<double>, kPhases>& limits,
                                const std::array<std::optional<double>, kPhases>& known,
                                std::optional<double> peak, const std::array<double, kPhases>& split) {
    PhaseBudgets out;
    for (std::size_t p = 0; p < kPhases; ++p) {
      if (!limits[p]) continue;
      FailsafeLimitBudget b;
      b.limit = name + " phase " + kPhaseNames[p];
      b.limit_kw = *limits[p];
      if (known[p])
        b.base_kw = known[p];
      else if (peak)
        b.base_kw = *peak * split[p];
      out[p] = std::move(b);
    }
    return out;
  };
  PhaseBudgets phases = phase_budgets(total.limit, tr.phase_limit_kw, base.phase_peak_kw, base.transformer_peak_kw,
                                      tr.base_load_phase_split);

  std::map<std::string, std::size_t> node_index;
  std::vector<FailsafeLimitBudget> nodes;
  std::vector<PhaseBudgets> node_phases;
  for (const auto& n : config.capacity) {
    FailsafeLimitBudget b;
    b.limit = "capacity node '" + n.id + "'";
    b.limit_kw = n.limit_kw;
    if (base.node_peak_kw) b.base_kw = base.node_peak_kw(n.id);
    // No figure from the caller: the node's assumed load, as the limiter takes it for a node
    // without a meter (its kW, or its share of the transformer's peak, when that is known).
    if (!b.base_kw && (n.assumed_load_kw || base.transformer_peak_kw))
      b.base_kw = assumed_load_kw(config, n.id, base.transformer_peak_kw.value_or(0.0));
    node_index[n.id] = nodes.size();
    node_phases.push_back(phase_budgets(b.limit, n.phase_limit_kw, {}, b.base_kw,
                                        n.base_load_phase_split.value_or(tr.base_load_phase_split)));
    nodes.push_back(std::move(b));
  }

  const auto add_by_phase = [](PhaseBudgets& budgets, const ChargerConfig& c, double kw, bool fs) {
    for (std::size_t p = 0; p < kPhases; ++p) {
      const double share = scheduler::phase_share(phase_set(c.phase), static_cast<int>(p));
      if (budgets[p] && share > 0) budgets[p]->piles.push_back({c.id, kw * share, fs});
    }
  };
  for (const auto& c : config.chargers) {
    const bool fs = has_failsafe(c);
    const double kw = failsafe_kw(c, fs);
    total.piles.push_back({c.id, kw, fs});
    add_by_phase(phases, c, kw, fs);
    // The pile loads its node and every node above it; `seen` guards against a cycle the
    // config checks already refuse, so a broken tree cannot hang check-config.
    std::set<std::string> seen;
    for (std::string node = c.node; node_index.count(node) && seen.insert(node).second;) {
      const auto i = node_index[node];
      nodes[i].piles.push_back({c.id, kw, fs});
      add_by_phase(node_phases[i], c, kw, fs);
      node = config.capacity[i].parent;
    }
  }

  const auto emit = [&out](FailsafeLimitBudget& b) {
    finish(b);
    out.limits.push_back(std::move(b));
  };
  emit(total);
  for (auto& p : phases)
    if (p) emit(*p);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    emit(nodes[i]);
    for (auto& p : node_phases[i])
      if (p) emit(*p);
  }
  return out;
}

std::string describe_piles(const std::vector<FailsafePileLoad>& piles) {
  std::string s;
  for (const auto& p : piles) {
    if (!s.empty()) s += ", ";
    s += p.id + " " + kw_text(p.kw) + " kW" + (p.has_failsafe ? "" : " (no failsafe: counted at its maximum)");
  }
  return s;
}

}  // namespace orderly::gateway

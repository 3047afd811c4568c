#include "orderly/gateway/failsafe_budget.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "orderly/base/units.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {
namespace {

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

  std::array<std::optional<FailsafeLimitBudget>, 3> phases;
  static const char* const kPhaseNames[3] = {"A", "B", "C"};
  for (int p = 0; p < 3; ++p) {
    if (!tr.phase_limit_kw[p]) continue;
    FailsafeLimitBudget b;
    b.limit = total.limit + " phase " + kPhaseNames[p];
    b.limit_kw = *tr.phase_limit_kw[p];
    if (base.phase_peak_kw[p])
      b.base_kw = base.phase_peak_kw[p];
    else if (base.transformer_peak_kw)
      b.base_kw = *base.transformer_peak_kw / kPhaseCount;
    phases[p] = std::move(b);
  }

  std::map<std::string, std::size_t> node_index;
  std::vector<FailsafeLimitBudget> nodes;
  for (const auto& n : config.capacity) {
    FailsafeLimitBudget b;
    b.limit = "capacity node '" + n.id + "'";
    b.limit_kw = n.limit_kw;
    if (base.node_peak_kw) b.base_kw = base.node_peak_kw(n.id);
    node_index[n.id] = nodes.size();
    nodes.push_back(std::move(b));
  }

  for (const auto& c : config.chargers) {
    const bool fs = has_failsafe(c);
    const double kw = failsafe_kw(c, fs);
    total.piles.push_back({c.id, kw, fs});
    for (int p = 0; p < 3; ++p) {
      const double share = scheduler::phase_share(phase_set(c.phase), p);
      if (phases[p] && share > 0) phases[p]->piles.push_back({c.id, kw * share, fs});
    }
    // The pile loads its node and every node above it; `seen` guards against a cycle the
    // config checks already refuse, so a broken tree cannot hang check-config.
    std::set<std::string> seen;
    for (std::string node = c.node; node_index.count(node) && seen.insert(node).second;) {
      nodes[node_index[node]].piles.push_back({c.id, kw, fs});
      node = config.capacity[node_index[node]].parent;
    }
  }

  finish(total);
  out.limits.push_back(std::move(total));
  for (auto& p : phases)
    if (p) {
      finish(*p);
      out.limits.push_back(std::move(*p));
    }
  for (auto& n : nodes) {
    finish(n);
    out.limits.push_back(std::move(n));
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

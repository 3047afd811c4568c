#include "orderly/scheduler/limiter.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "orderly/scheduler/fair_share.hpp"

namespace orderly::scheduler {
namespace {

void check_tree(const std::vector<LimitNode>& nodes, const std::vector<ChargerSetpoint>& chargers) {
  if (nodes.empty()) throw std::invalid_argument("limit_setpoints: the capacity tree is empty");
  if (!nodes[0].measured_kw)
    throw std::invalid_argument("limit_setpoints: the root load must be measured (nodes[0].measured_kw)");
  for (std::size_t n = 1; n < nodes.size(); ++n)
    if (nodes[n].parent < 0 || nodes[n].parent >= static_cast<int>(n))
      throw std::invalid_argument("limit_setpoints: node " + std::to_string(n) + " must name an earlier parent");
  for (std::size_t c = 0; c < chargers.size(); ++c)
    if (chargers[c].node < 0 || chargers[c].node >= static_cast<int>(nodes.size()))
      throw std::invalid_argument("limit_setpoints: charger " + std::to_string(c) + " hangs from unknown node " +
                                  std::to_string(chargers[c].node));
}

// What a charger counts as when it does not follow setpoints: what it draws, or its maximum.
double fixed_draw_kw(const ChargerSetpoint& c) {
  return c.measured_kw ? std::max(*c.measured_kw, 0.0) : std::max(c.max_kw, 0.0);
}

// The share of a charger's measured power known to be on `phase`. An any_one pile's car is on
// one phase nobody can tell: taking its power off every phase would make the phases it is not
// on look emptier than they are, so it is taken off none, and the phase it is on counts it
// twice (in the non-EV part and as the pile): double-counted, never missed.
double measured_share(PhaseSet s, int phase) { return s == PhaseSet::any_one ? 0.0 : phase_share(s, phase); }

// The non-EV load of one phase of a node, by the assumption in limiter.hpp applied per phase.
double non_ev_phase_kw(const LimitNode& node, int phase, const std::vector<std::size_t>& below,
                       const std::vector<ChargerSetpoint>& chargers) {
  const auto p = static_cast<std::size_t>(phase);
  if (node.measured_phase_kw[p]) {
    double chargers_measured = 0;
    for (const auto c : below)
      if (chargers[c].measured_kw) chargers_measured += std::max(*chargers[c].measured_kw, 0.0) * measured_share(chargers[c].phases, phase);
    return std::max(*node.measured_phase_kw[p] - chargers_measured, 0.0);
  }
  if (node.base_load_phase_kw[p]) return std::max(*node.base_load_phase_kw[p], 0.0);
  return std::max(node.base_load_kw, 0.0) / kPhases;
}

}  // namespace

LimiterResult limit_setpoints(const std::vector<LimitNode>& nodes, const std::vector<ChargerSetpoint>& chargers) {
  check_tree(nodes, chargers);
  const auto node_count = nodes.size();
  LimiterResult result;
  result.setpoint_kw.resize(chargers.size());

  // The chargers below each node (its own and its descendants'), found once by walking up.
  std::vector<std::vector<std::size_t>> below(node_count);
  for (std::size_t c = 0; c < chargers.size(); ++c)
    for (int n = chargers[c].node; n >= 0; n = nodes[static_cast<std::size_t>(n)].parent)
      below[static_cast<std::size_t>(n)].push_back(c);

  // Fixed load per node (and per phase): non-EV part plus unresponsive chargers at what they draw.
  std::vector<double> fixed_kw(node_count, 0.0);
  std::vector<std::array<double, kPhases>> fixed_phase_kw(node_count);
  for (std::size_t n = 0; n < node_count; ++n) {
    double non_ev = nodes[n].base_load_kw;
    if (nodes[n].measured_kw) {
      double chargers_measured = 0;
      for (const auto c : below[n])
        if (chargers[c].measured_kw) chargers_measured += std::max(*chargers[c].measured_kw, 0.0);
      non_ev = std::max(*nodes[n].measured_kw - chargers_measured, 0.0);
    }
    fixed_kw[n] = non_ev;
    for (int p = 0; p < kPhases; ++p)
      fixed_phase_kw[n][static_cast<std::size_t>(p)] = non_ev_phase_kw(nodes[n], p, below[n], chargers);
    for (const auto c : below[n])
      if (!chargers[c].responsive) {
        fixed_kw[n] += fixed_draw_kw(chargers[c]);
        for (int p = 0; p < kPhases; ++p)
          fixed_phase_kw[n][static_cast<std::size_t>(p)] += fixed_draw_kw(chargers[c]) * phase_share(chargers[c].phases, p);
      }
  }

  for (std::size_t c = 0; c < chargers.size(); ++c) {
    const auto& ch = chargers[c];
    result.setpoint_kw[c] = ch.responsive ? std::clamp(ch.setpoint_kw, 0.0, std::max(ch.max_kw, 0.0)) : ch.setpoint_kw;
    // A planned setpoint below the pile's minimum cannot be applied as such: off.
    if (ch.responsive && result.setpoint_kw[c] < ch.min_kw) result.setpoint_kw[c] = 0;
  }

  // One limit of one node: the responsive chargers it weighs (with their weight on it, 1 for
  // the node total, phase_share for a phase) are cut to fit. Water filling runs on the weighted
  // power, so on a phase every charger gets the same share of that phase (the same current);
  // a charger that does not load the phase is not touched.
  std::vector<std::size_t> members;
  std::vector<double> weight;
  std::vector<ShareRequest> requests;
  auto cut = [&](std::size_t n, int phase, double limit_kw, double fixed) {
    const double headroom_kw = limit_kw - fixed;
    if (headroom_kw < 0) {
      result.limits_hold = false;
      result.overloads.push_back({static_cast<int>(n), phase});
    }
    members.clear();
    weight.clear();
    double responsive_kw = 0;
    for (const auto c : below[n]) {
      const double w = phase < 0 ? 1.0 : phase_share(chargers[c].phases, phase);
      if (!chargers[c].responsive || w <= 0) continue;
      members.push_back(c);
      weight.push_back(w);
      responsive_kw += result.setpoint_kw[c] * w;
    }
    if (responsive_kw <= headroom_kw) return;
    requests.clear();
    for (std::size_t k = 0; k < members.size(); ++k) {
      const auto c = members[k];
      requests.push_back({result.setpoint_kw[c] * weight[k], chargers[c].min_kw * weight[k], chargers[c].priority,
                          chargers[c].pause_order});
    }
    const auto share = share_headroom(headroom_kw, requests);
    for (std::size_t k = 0; k < members.size(); ++k)
      result.setpoint_kw[members[k]] = std::min(share[k] / weight[k], result.setpoint_kw[members[k]]);
  };

  // Children have larger indices: going from the last node to the root, every node is cut after
  // all its descendants. Every limit only ever lowers setpoints and every load only falls when
  // setpoints do, so a limit met stays met: phases and total of a node in any order.
  for (std::size_t n = node_count; n-- > 0;) {
    for (int p = 0; p < kPhases; ++p)
      if (const auto& limit = nodes[n].phase_limit_kw[static_cast<std::size_t>(p)])
        cut(n, p, *limit, fixed_phase_kw[n][static_cast<std::size_t>(p)]);
    cut(n, -1, nodes[n].limit_kw, fixed_kw[n]);
  }
  std::sort(result.overloads.begin(), result.overloads.end(),
            [](const NodeOverload& a, const NodeOverload& b) { return a.node != b.node ? a.node < b.node : a.phase < b.phase; });
  for (const auto& o : result.overloads)
    if (result.overloaded_nodes.empty() || result.overloaded_nodes.back() != o.node)
      result.overloaded_nodes.push_back(o.node);

  result.expected_node_load_kw = fixed_kw;
  result.expected_node_phase_load_kw = fixed_phase_kw;
  for (std::size_t c = 0; c < chargers.size(); ++c)
    if (chargers[c].responsive)
      for (int n = chargers[c].node; n >= 0; n = nodes[static_cast<std::size_t>(n)].parent) {
        const auto ns = static_cast<std::size_t>(n);
        result.expected_node_load_kw[ns] += result.setpoint_kw[c];
        for (int p = 0; p < kPhases; ++p)
          result.expected_node_phase_load_kw[ns][static_cast<std::size_t>(p)] +=
              result.setpoint_kw[c] * phase_share(chargers[c].phases, p);
      }
  return result;
}

std::vector<LimitNode> limit_nodes_at(const Problem& problem, int slot) {
  std::vector<LimitNode> out;
  const auto t = static_cast<std::size_t>(slot);
  for (const auto& node : problem.nodes) {
    LimitNode n;
    n.parent = node.parent;
    n.limit_kw = t < node.limit_kw.size() ? node.limit_kw[t] : 0.0;
    n.base_load_kw = t < node.base_load_kw.size() ? node.base_load_kw[t] : 0.0;
    for (std::size_t p = 0; p < static_cast<std::size_t>(kPhases); ++p) {
      if (t < node.phase_limit_kw[p].size()) n.phase_limit_kw[p] = node.phase_limit_kw[p][t];
      if (t < node.base_load_phase_kw[p].size()) n.base_load_phase_kw[p] = node.base_load_phase_kw[p][t];
    }
    out.push_back(n);
  }
  return out;
}

}  // namespace orderly::scheduler

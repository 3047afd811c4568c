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

  // Fixed load per node: non-EV part plus unresponsive chargers at what they draw.
  std::vector<double> fixed_kw(node_count, 0.0);
  for (std::size_t n = 0; n < node_count; ++n) {
    double non_ev = nodes[n].base_load_kw;
    if (nodes[n].measured_kw) {
      double chargers_measured = 0;
      for (const auto c : below[n])
        if (chargers[c].measured_kw) chargers_measured += std::max(*chargers[c].measured_kw, 0.0);
      non_ev = std::max(*nodes[n].measured_kw - chargers_measured, 0.0);
    }
    fixed_kw[n] = non_ev;
    for (const auto c : below[n])
      if (!chargers[c].responsive)
        fixed_kw[n] += chargers[c].measured_kw ? std::max(*chargers[c].measured_kw, 0.0) : std::max(chargers[c].max_kw, 0.0);
  }

  for (std::size_t c = 0; c < chargers.size(); ++c) {
    const auto& ch = chargers[c];
    result.setpoint_kw[c] = ch.responsive ? std::clamp(ch.setpoint_kw, 0.0, std::max(ch.max_kw, 0.0)) : ch.setpoint_kw;
    // A planned setpoint below the pile's minimum cannot be applied as such: off.
    if (ch.responsive && result.setpoint_kw[c] < ch.min_kw) result.setpoint_kw[c] = 0;
  }

  // Children have larger indices: going from the last node to the root, every node is cut after
  // all its descendants, and cutting only ever lowers setpoints, so fixed nodes stay fixed.
  std::vector<std::size_t> members;
  std::vector<ShareRequest> requests;
  for (std::size_t n = node_count; n-- > 0;) {
    members.clear();
    double responsive_kw = 0;
    for (const auto c : below[n])
      if (chargers[c].responsive) {
        members.push_back(c);
        responsive_kw += result.setpoint_kw[c];
      }
    const double headroom_kw = nodes[n].limit_kw - fixed_kw[n];
    if (headroom_kw < 0) {
      result.limits_hold = false;
      result.overloaded_nodes.push_back(static_cast<int>(n));
    }
    if (responsive_kw <= headroom_kw) continue;
    requests.clear();
    for (const auto c : members)
      requests.push_back({result.setpoint_kw[c], chargers[c].min_kw, chargers[c].priority});
    const auto share = share_headroom(headroom_kw, requests);
    for (std::size_t k = 0; k < members.size(); ++k)
      result.setpoint_kw[members[k]] = std::min(share[k], result.setpoint_kw[members[k]]);
  }
  std::reverse(result.overloaded_nodes.begin(), result.overloaded_nodes.end());

  result.expected_node_load_kw = fixed_kw;
  for (std::size_t c = 0; c < chargers.size(); ++c)
    if (chargers[c].responsive)
      for (int n = chargers[c].node; n >= 0; n = nodes[static_cast<std::size_t>(n)].parent)
        result.expected_node_load_kw[static_cast<std::size_t>(n)] += result.setpoint_kw[c];
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
    out.push_back(n);
  }
  return out;
}

}  // namespace orderly::scheduler

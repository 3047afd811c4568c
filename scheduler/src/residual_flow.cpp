#include "residual_flow.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace orderly::scheduler::detail {

ResidualFlow::ResidualFlow(int nodes)
    : nodes_(nodes), excess_(static_cast<std::size_t>(nodes), 0),
      level_(static_cast<std::size_t>(nodes), -1), next_out_(static_cast<std::size_t>(nodes), 0),
      reached_(static_cast<std::size_t>(nodes), 0), is_source_(static_cast<std::size_t>(nodes), 0) {}

int ResidualFlow::add_arc(int from, int to, Units capacity) {
  if (built_) throw std::logic_error("ResidualFlow: an arc added after the first augment");
  const auto arc = static_cast<int>(ends_.size());
  ends_.emplace_back(from, to);
  initial_.push_back(capacity);
  return arc;
}

// Each node's arcs (both directions) side by side, with their heads and residuals beside them:
// the searches then read memory in order instead of jumping through an index.
void ResidualFlow::build_adjacency() {
  first_out_.assign(static_cast<std::size_t>(nodes_) + 1, 0);
  for (const auto& [from, to] : ends_) {
    ++first_out_[static_cast<std::size_t>(from) + 1];
    ++first_out_[static_cast<std::size_t>(to) + 1];
  }
  for (std::size_t v = 0; v < static_cast<std::size_t>(nodes_); ++v)
    first_out_[v + 1] += first_out_[v];
  const std::size_t slots = 2 * ends_.size();
  head_.assign(slots, 0);
  residual_.assign(slots, 0);
  mate_residual_.assign(slots, 0);
  mate_.assign(slots, 0);
  position_.assign(ends_.size(), 0);
  std::vector<int> fill(first_out_.begin(), first_out_.end() - 1);
  for (std::size_t a = 0; a < ends_.size(); ++a) {
    const auto [from, to] = ends_[a];
    const int forward = fill[static_cast<std::size_t>(from)]++;
    const int backward = fill[static_cast<std::size_t>(to)]++;
    head_[static_cast<std::size_t>(forward)] = to;
    head_[static_cast<std::size_t>(backward)] = from;
    residual_[static_cast<std::size_t>(forward)] = initial_[a];
    mate_residual_[static_cast<std::size_t>(backward)] = initial_[a];
    mate_[static_cast<std::size_t>(forward)] = backward;
    mate_[static_cast<std::size_t>(backward)] = forward;
    position_[a] = forward;
  }
  built_ = true;
}

ResidualFlow::Units ResidualFlow::flow(int arc) const {
  if (!built_) return 0;
  const auto forward = static_cast<std::size_t>(position_[static_cast<std::size_t>(arc)]);
  return residual_[static_cast<std::size_t>(mate_[forward])];
}

void ResidualFlow::set_capacity(int arc, Units capacity) {
  if (!built_) {
    initial_[static_cast<std::size_t>(arc)] = capacity;
    return;
  }
  const auto forward = static_cast<std::size_t>(position_[static_cast<std::size_t>(arc)]);
  const auto backward = static_cast<std::size_t>(mate_[forward]);
  const Units flow_now = residual_[backward];
  if (capacity >= flow_now) {
    residual_[forward] = mate_residual_[backward] = capacity - flow_now;
    return;
  }
  residual_[forward] = mate_residual_[backward] = 0;
  residual_[backward] = mate_residual_[forward] = capacity;
  excess_[static_cast<std::size_t>(head_[backward])] += flow_now - capacity;
}

ResidualFlow::Units ResidualFlow::push(int node, int to, Units amount) {
  if (node == to) return amount;
  const auto u = static_cast<std::size_t>(node);
  Units sent = 0;
  for (int& i = next_out_[u]; i < first_out_[u + 1]; ++i) {
    const auto a = static_cast<std::size_t>(i);
    const int v = head_[a];
    if (residual_[a] == 0 || level_[static_cast<std::size_t>(v)] != level_[u] - 1) continue;
    const Units got = push(v, to, std::min(amount - sent, residual_[a]));
    const auto m = static_cast<std::size_t>(mate_[a]);
    residual_[a] -= got;
    mate_residual_[m] -= got;
    residual_[m] += got;
    mate_residual_[a] += got;
    sent += got;
    // The arc may carry more: stay on it for the next call.
    if (sent == amount) return sent;
  }
  return sent;
}

void ResidualFlow::route(std::vector<std::pair<int, Units>>& sources, int to, int avoid) {
  if (!built_) build_adjacency();
  for (const auto& source : sources)
    if (source.second > 0) is_source_[static_cast<std::size_t>(source.first)] = 1;
  for (;;) {
    // Levels are distances to `to`, so every source, wherever it sits, walks downhill. Every
    // node below the highest source's level is labelled once that source is (they were
    // labelled from the level before), so the search stops there.
    std::fill(level_.begin(), level_.end(), -1);
    level_[static_cast<std::size_t>(to)] = 0;
    queue_.assign(1, to);
    std::size_t unlabelled = 0;
    for (const auto& source : sources) unlabelled += source.second > 0 ? 1 : 0;
    for (std::size_t q = 0; q < queue_.size() && unlabelled > 0; ++q) {
      const auto u = static_cast<std::size_t>(queue_[q]);
      for (int i = first_out_[u]; i < first_out_[u + 1]; ++i) {
        const auto a = static_cast<std::size_t>(i);
        const int w = head_[a];
        if (mate_residual_[a] == 0 || w == avoid ||
            level_[static_cast<std::size_t>(w)] >= 0)
          continue;
        level_[static_cast<std::size_t>(w)] = level_[u] + 1;
        queue_.push_back(w);
        if (is_source_[static_cast<std::size_t>(w)]) --unlabelled;
      }
    }
    bool any = false;
    for (const auto& [node, amount] : sources)
      any = any || (amount > 0 && level_[static_cast<std::size_t>(node)] > 0);
    if (!any) break;
    std::copy(first_out_.begin(), first_out_.end() - 1, next_out_.begin());
    for (auto& [node, amount] : sources) {
      if (amount > 0 && level_[static_cast<std::size_t>(node)] > 0)
        amount -= push(node, to, amount);
      if (amount == 0) is_source_[static_cast<std::size_t>(node)] = 0;
    }
  }
  for (const auto& source : sources) is_source_[static_cast<std::size_t>(source.first)] = 0;
}

void ResidualFlow::drain_excess(int to, int avoid) {
  std::vector<std::pair<int, Units>> sources;
  for (int v = 0; v < nodes_; ++v)
    if (excess_[static_cast<std::size_t>(v)] > 0)
      sources.emplace_back(v, excess_[static_cast<std::size_t>(v)]);
  if (sources.empty()) return;
  route(sources, to, avoid);
  for (const auto& [node, amount] : sources) {
    if (amount != 0)
      throw std::logic_error("ResidualFlow: an excess found no way back; this is a bug");
    excess_[static_cast<std::size_t>(node)] = 0;
  }
}

void ResidualFlow::augment(int from, int to) {
  std::vector<std::pair<int, Units>> sources{{from, std::numeric_limits<Units>::max() / 4}};
  route(sources, to, -1);
}

const std::vector<char>& ResidualFlow::reachable_from(int from) {
  if (!built_) build_adjacency();
  std::fill(reached_.begin(), reached_.end(), 0);
  reached_[static_cast<std::size_t>(from)] = 1;
  queue_.assign(1, from);
  for (std::size_t q = 0; q < queue_.size(); ++q) {
    const auto u = static_cast<std::size_t>(queue_[q]);
    for (int i = first_out_[u]; i < first_out_[u + 1]; ++i) {
      const auto a = static_cast<std::size_t>(i);
      const auto w = static_cast<std::size_t>(head_[a]);
      if (residual_[a] == 0 || reached_[w]) continue;
      reached_[w] = 1;
      queue_.push_back(head_[a]);
    }
  }
  return reached_;
}

}  // namespace orderly::scheduler::detail

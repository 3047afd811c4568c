#include "orderly/scheduler/fair_share.hpp"

#include <algorithm>
#include <numeric>

namespace orderly::scheduler {
namespace {

// Equal level L with sum(min(max_i, L)) == budget over the active set; assumes budget < sum(max).
// `by_max` lists every request by ascending max_kw, sorted once by the caller: each pass of the
// drop loop below is then linear, which keeps the limiter fast with a thousand piles.
std::vector<double> water_fill(double budget, const std::vector<ShareRequest>& req, const std::vector<bool>& active,
                               const std::vector<std::size_t>& by_max) {
  std::vector<double> out(req.size(), 0.0);
  std::size_t left_count = 0;
  for (const auto i : by_max) left_count += active[i] ? 1 : 0;
  double left = budget;
  for (const auto i : by_max) {
    if (!active[i]) continue;
    const double level = left / static_cast<double>(left_count);
    const double give = std::min(req[i].max_kw, level);
    out[i] = give;
    left -= give;
    --left_count;
  }
  return out;
}

}  // namespace

std::vector<double> share_headroom(double headroom_kw, const std::vector<ShareRequest>& requests) {
  const double budget = std::max(headroom_kw, 0.0);
  std::vector<bool> active(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) active[i] = requests[i].max_kw > 0;
  std::vector<std::size_t> by_max(requests.size());
  std::iota(by_max.begin(), by_max.end(), std::size_t{0});
  std::stable_sort(by_max.begin(), by_max.end(),
                   [&](auto a, auto b) { return requests[a].max_kw < requests[b].max_kw; });

  // Drop cars whose equal share falls below their minimum, lowest priority first, then the
  // largest pause order, then the latest in the list, until every remaining car can run at or
  // above its minimum.
  for (;;) {
    auto share = water_fill(budget, requests, active, by_max);
    double total_max = 0;
    for (std::size_t i = 0; i < requests.size(); ++i)
      if (active[i]) total_max += requests[i].max_kw;
    if (total_max <= budget) {
      for (std::size_t i = 0; i < requests.size(); ++i) share[i] = active[i] ? requests[i].max_kw : 0.0;
      return share;
    }
    std::ptrdiff_t drop = -1;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (!active[i] || share[i] + 1e-9 >= requests[i].min_kw) continue;
      if (drop < 0) {
        drop = static_cast<std::ptrdiff_t>(i);
        continue;
      }
      const auto& d = requests[static_cast<std::size_t>(drop)];
      if (requests[i].priority < d.priority ||
          (requests[i].priority == d.priority && requests[i].pause_order >= d.pause_order))
        drop = static_cast<std::ptrdiff_t>(i);
    }
    if (drop < 0) return share;
    active[static_cast<std::size_t>(drop)] = false;
  }
}

}  // namespace orderly::scheduler

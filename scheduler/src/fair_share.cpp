#include "orderly/scheduler/fair_share.hpp"

#include <algorithm>
#include <numeric>

namespace orderly::scheduler {
namespace {

// Equal level L with sum(min(max_i, L)) == budget over the active set; assumes budget < sum(max).
std::vector<double> water_fill(double budget, const std::vector<ShareRequest>& req,
                               const std::vector<bool>& active) {
  std::vector<double> out(req.size(), 0.0);
  std::vector<std::size_t> idx;
  for (std::size_t i = 0; i < req.size(); ++i)
    if (active[i]) idx.push_back(i);
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return req[a].max_kw < req[b].max_kw; });
  double left = budget;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const double level = left / static_cast<double>(idx.size() - k);
    const double give = std::min(req[idx[k]].max_kw, level);
    out[idx[k]] = give;
    left -= give;
  }
  return out;
}

}  // namespace

std::vector<double> share_headroom(double headroom_kw, const std::vector<ShareRequest>& requests) {
  const double budget = std::max(headroom_kw, 0.0);
  std::vector<bool> active(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) active[i] = requests[i].max_kw > 0;

  // Drop cars whose equal share falls below their minimum, lowest priority (then latest in
  // the list) first, until every remaining car can run at or above its minimum.
  for (;;) {
    auto share = water_fill(budget, requests, active);
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
      if (drop < 0 || requests[i].priority <= requests[static_cast<std::size_t>(drop)].priority)
        drop = static_cast<std::ptrdiff_t>(i);
    }
    if (drop < 0) return share;
    active[static_cast<std::size_t>(drop)] = false;
  }
}

}  // namespace orderly::scheduler

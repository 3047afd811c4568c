#pragma once
// Splits charging headroom under one limit so every car gets a useful rate: equal shares
// ("water filling") capped by each car's maximum, respecting AC piles' minimum power (a car is
// either off or at >= min_kw). Used between plans and by the foundation control loop.
#include <cstdint>
#include <vector>

namespace orderly::scheduler {

struct ShareRequest {
  double max_kw = 0;   // what the car/charger can take now
  double min_kw = 0;   // 0 or the pile's minimum (6 A x phases x voltage)
  int priority = 0;    // higher keeps its minimum first when not everyone can charge
  // Among equal priorities, who pauses first when one must: the larger. The caller rotates it
  // (the gateway: the car charging longest since its last pause), so the same car is not the
  // one paused tick after tick; equal orders pause the latest listed.
  std::int64_t pause_order = 0;
};

// Returns one power per request; the sum never exceeds max(headroom_kw, 0).
std::vector<double> share_headroom(double headroom_kw, const std::vector<ShareRequest>& requests);

}  // namespace orderly::scheduler

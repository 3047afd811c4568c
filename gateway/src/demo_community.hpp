#pragma once
// The demo's simulated community: when cars arrive, how long they stay, how much they need,
// and the community's non-EV base load. Pure and seeded, so a demo day and a test are
// reproducible.
#include <chrono>
#include <cstdint>
#include <vector>

#include "orderly/base/clock.hpp"

namespace orderly::gateway::demo {

struct Visit {
  int charger = 0;              // index into the demo's chargers
  TimePoint arrive{};
  TimePoint depart{};
  double energy_wh = 0;         // what the car wants, already clamped to what the pile can give
};

// Visits for `chargers` piles of `pile_max_w` between `from` and `to`, at most one car per pile
// at a time. `utc_offset` is the community's local offset (China: +8 h, no DST).
std::vector<Visit> generate_visits(int chargers, double pile_max_w, TimePoint from, TimePoint to,
                                   std::chrono::minutes utc_offset, std::uint64_t seed);

// A residential distribution area's non-EV load in W: night trough, morning bump, evening peak
// around 20:00, scaled to `peak_w`. Smooth and deterministic; the meter simulator adds noise.
double base_load_w(TimePoint t, std::chrono::minutes utc_offset, double peak_w);

}  // namespace orderly::gateway::demo

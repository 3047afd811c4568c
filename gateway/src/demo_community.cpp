#include "demo_community.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <random>

namespace orderly::gateway::demo {
namespace {

// Fitted from the 6,436 complete sessions (0.5-48 h) of Sørensen et al., "Residential electric
// vehicle charging datasets from apartment buildings", Data in Brief 36 (2021) 107105,
// CC BY 4.0 (../shared/data). Arrivals: per-mille of sessions starting in each local hour.
constexpr std::array<double, 24> kArrivalPerMille{16, 6,  4,  3,   1,   1,  3,  11, 12, 10, 16, 23,
                                                  29, 42, 58, 114, 139, 85, 86, 99, 86, 70, 57, 30};
// Deciles (0%, 10%, ..., 100%) of the stay in hours and of the energy in kWh (energy clamped to
// what 7.2 kW delivers in the stay, as the dataset's README advises).
constexpr std::array<double, 11> kStayDecilesH{0.5, 1.6, 2.5, 3.8, 7.2, 10.3, 12.0, 14.2, 16.3, 19.9, 47.8};
constexpr std::array<double, 11> kEnergyDecilesKwh{0.0, 3.4, 4.9, 6.4, 7.8, 9.5, 12.1, 14.8, 18.8, 26.6, 80.9};

// Inverse CDF by linear interpolation between deciles.
double from_deciles(const std::array<double, 11>& d, double u) {
  const double x = std::clamp(u, 0.0, 1.0) * 10.0;
  const auto i = std::min<std::size_t>(static_cast<std::size_t>(x), 9);
  return d[i] + (d[i + 1] - d[i]) * (x - static_cast<double>(i));
}

double local_hours(TimePoint t, std::chrono::minutes utc_offset) {
  const auto local = t.time_since_epoch() + utc_offset;
  const auto day = std::chrono::duration_cast<std::chrono::seconds>(local).count() % 86400;
  return static_cast<double>(day < 0 ? day + 86400 : day) / 3600.0;
}

}  // namespace

std::vector<Visit> generate_visits(int chargers, double pile_max_w, TimePoint from, TimePoint to,
                                   std::chrono::minutes utc_offset, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::discrete_distribution<int> arrival_hour(kArrivalPerMille.begin(), kArrivalPerMille.end());
  std::vector<Visit> visits;
  using namespace std::chrono;
  const auto day = hours(24);
  for (int c = 0; c < chargers; ++c) {
    TimePoint free_from = from;
    // Residential piles see about one session a day; walk day by day, one arrival per day.
    auto local_midnight = from - duration_cast<Duration>(duration<double, std::ratio<3600>>(local_hours(from, utc_offset)));
    for (auto d = local_midnight; d < to; d += day) {
      const double hour = arrival_hour(rng) + u01(rng);
      const auto arrive = d + duration_cast<Duration>(duration<double, std::ratio<3600>>(hour));
      const double stay_h = from_deciles(kStayDecilesH, u01(rng));
      const auto depart = arrive + duration_cast<Duration>(duration<double, std::ratio<3600>>(stay_h));
      if (arrive < free_from || arrive >= to) continue;
      // A car with almost nothing to charge still plugs in; give it at least 1 kWh so it shows.
      const double need_kwh = std::max(1.0, from_deciles(kEnergyDecilesKwh, u01(rng)));
      const double deliverable_kwh = pile_max_w / 1000.0 * stay_h;
      visits.push_back({c, arrive, depart, std::min(need_kwh, deliverable_kwh) * 1000.0});
      free_from = depart + minutes(10);
    }
  }
  std::sort(visits.begin(), visits.end(), [](const Visit& a, const Visit& b) { return a.arrive < b.arrive; });
  return visits;
}

double base_load_w(TimePoint t, std::chrono::minutes utc_offset, double peak_w) {
  const double h = local_hours(t, utc_offset);
  auto bump = [h](double centre, double width) {
    double d = std::fabs(h - centre);
    d = std::min(d, 24.0 - d);
    return std::exp(-0.5 * (d / width) * (d / width));
  };
  // Night trough ~40% of peak, a morning bump at 07:30 and the evening peak at 20:00.
  const double shape = 0.40 + 0.22 * bump(7.5, 1.5) + 0.18 * bump(12.5, 2.0) + 0.60 * bump(20.0, 2.2);
  return peak_w * std::min(shape, 1.0);
}

}  // namespace orderly::gateway::demo

#include "orderly/scheduler/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace orderly::scheduler {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

double median(std::vector<double> v) {
  const auto mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  return (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2.0;
}

// Typical value per day type and slot of day; samples must be sorted by slot.
class Profile {
 public:
  Profile(const std::vector<LoadSample>& sorted, const ForecastOptions& o) : o_(o) {
    const auto spd = static_cast<std::size_t>(o.slots_per_day);
    std::vector<std::vector<double>> values[2];
    for (auto& v : values) v.assign(spd, {});
    for (const auto& s : sorted) {
      const auto day = floor_div(s.slot, o.slots_per_day);
      const auto of_day = static_cast<std::size_t>(s.slot - day * o.slots_per_day);
      values[static_cast<int>(day_type(day, o))][of_day].push_back(s.load_kw);
    }
    for (int type = 0; type < 2; ++type) {
      typical_[type].assign(spd, NAN);
      for (std::size_t k = 0; k < spd; ++k) {
        const auto& v = values[type][k];
        if (v.empty()) continue;
        if (o.profile == ForecastOptions::Profile::median) {
          typical_[type][k] = median(v);
        } else {
          double m = v.front();
          for (std::size_t i = 1; i < v.size(); ++i) m = o.ewma_alpha * v[i] + (1 - o.ewma_alpha) * m;
          typical_[type][k] = m;
        }
      }
    }
    double sum = 0;
    for (const auto& s : sorted) sum += s.load_kw;
    overall_ = sorted.empty() ? 0.0 : sum / static_cast<double>(sorted.size());
  }

  // Falls back to the other day type, then to the overall mean, where history has no value.
  double at(std::int64_t slot) const {
    const auto day = floor_div(slot, o_.slots_per_day);
    const auto of_day = static_cast<std::size_t>(slot - day * o_.slots_per_day);
    const int type = static_cast<int>(day_type(day, o_));
    if (!std::isnan(typical_[type][of_day])) return typical_[type][of_day];
    if (!std::isnan(typical_[1 - type][of_day])) return typical_[1 - type][of_day];
    return overall_;
  }

 private:
  const ForecastOptions& o_;
  std::vector<double> typical_[2];
  double overall_ = 0;
};

}  // namespace

DayType day_type(std::int64_t day, const ForecastOptions& o) {
  if (std::find(o.holiday_days.begin(), o.holiday_days.end(), day) != o.holiday_days.end()) return DayType::weekend;
  const auto weekday = day - floor_div(day, 7) * 7;  // 0 = Monday
  return weekday >= 5 ? DayType::weekend : DayType::workday;
}

std::vector<double> forecast_base_load(const std::vector<LoadSample>& history, std::int64_t first_slot,
                                       int horizon_slots, const ForecastOptions& o) {
  if (o.slots_per_day <= 0) throw std::invalid_argument("forecast_base_load: slots_per_day must be positive");
  std::vector<double> out(static_cast<std::size_t>(std::max(horizon_slots, 0)), 0.0);
  std::vector<LoadSample> past;
  for (const auto& s : history)
    if (s.slot < first_slot && std::isfinite(s.load_kw)) past.push_back(s);
  if (past.empty()) return out;
  std::sort(past.begin(), past.end(), [](const auto& a, const auto& b) { return a.slot < b.slot; });

  const Profile profile(past, o);
  // How far the last hours ran from the profile: weather, a holiday nobody declared, an event.
  double deviation_kw = 0;
  int used = 0;
  for (auto it = past.rbegin(); it != past.rend() && it->slot >= first_slot - o.correction_window_slots; ++it) {
    deviation_kw += it->load_kw - profile.at(it->slot);
    ++used;
  }
  if (used > 0) deviation_kw /= used;

  for (std::size_t k = 0; k < out.size(); ++k) {
    const auto slot = first_slot + static_cast<std::int64_t>(k);
    const double fade = o.correction_decay_slots > 0 ? std::exp(-static_cast<double>(k) / o.correction_decay_slots) : 0.0;
    out[k] = std::max(profile.at(slot) + deviation_kw * fade, 0.0);
  }
  return out;
}

ForecastError forecast_error(const std::vector<double>& forecast_kw, const std::vector<double>& actual_kw) {
  if (forecast_kw.size() != actual_kw.size() || actual_kw.empty())
    throw std::invalid_argument("forecast_error: forecast and actual must have the same, non-zero length");
  ForecastError e;
  double peak_f = forecast_kw.front(), peak_a = actual_kw.front();
  std::size_t counted = 0;
  for (std::size_t i = 0; i < actual_kw.size(); ++i) {
    const double err = std::abs(forecast_kw[i] - actual_kw[i]);
    e.max_abs_error_kw = std::max(e.max_abs_error_kw, err);
    if (std::abs(actual_kw[i]) > 1e-9) {
      e.mape += err / std::abs(actual_kw[i]);
      ++counted;
    }
    peak_f = std::max(peak_f, forecast_kw[i]);
    peak_a = std::max(peak_a, actual_kw[i]);
  }
  e.mape = counted ? e.mape / static_cast<double>(counted) : 0.0;
  e.peak_error = peak_a > 0 ? std::abs(peak_f - peak_a) / peak_a : 0.0;
  return e;
}

}  // namespace orderly::scheduler

#pragma once
// Base-load (non-EV) forecast for the planner's horizon, from the measured history alone: a
// typical-day profile per day type and slot of day, plus a correction for how far the last
// hours ran above or below that profile, fading out over the horizon. No clock is read: slots
// are numbered by the caller.
#include <cstdint>
#include <vector>

namespace orderly::scheduler {

// Slot numbering: slot 0 is a Monday 00:00 local time (standard time: China has no DST), slot k
// starts k * slot_minutes later. Day d = slot / slots_per_day; d % 7 == 5, 6 are Sat, Sun.
struct LoadSample {
  std::int64_t slot = 0;
  double load_kw = 0;
};

struct ForecastOptions {
  int slots_per_day = 96;
  enum class Profile { median, ewma } profile = Profile::median;  // median shrugs off odd days
  double ewma_alpha = 0.3;               // weight of the newest day when profile == ewma
  int correction_window_slots = 4;       // recent slots whose mean deviation is carried forward
                                         // (4 x 15 min and an 8-slot fade were best on the
                                         // synthetic test load, docs/forecasting.md)
  double correction_decay_slots = 8;     // e-folding time of that deviation over the horizon
  // Days (by day number, see LoadSample) forecast and fitted as weekend days: public holidays
  // (Spring Festival, National Day) look like Sundays, not like working days.
  std::vector<std::int64_t> holiday_days;
};

enum class DayType { workday, weekend };
DayType day_type(std::int64_t day, const ForecastOptions& options);

// kW per slot for slots first_slot .. first_slot + horizon_slots - 1. Samples may come in any
// order and may have gaps; samples at or after first_slot are ignored (no peeking). With no
// history at all, returns zeros.
std::vector<double> forecast_base_load(const std::vector<LoadSample>& history, std::int64_t first_slot,
                                       int horizon_slots, const ForecastOptions& options = {});

struct ForecastError {
  double mape = 0;              // mean absolute percentage error, fraction (0.05 = 5 %)
  double peak_error = 0;        // |max(forecast) - max(actual)| / max(actual)
  double max_abs_error_kw = 0;
};
ForecastError forecast_error(const std::vector<double>& forecast_kw, const std::vector<double>& actual_kw);

}  // namespace orderly::scheduler

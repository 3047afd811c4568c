#pragma once
// The time-of-use tariff as the [tariff] section of orderly.toml describes it: dated
// schedules of seasons, each season a price per period and the hours of each period. Read and
// checked with the rest of the configuration (config.hpp); looked up here by the planner, the
// settlement and the reports.
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {

using scheduler::Period;  // sharp, peak, flat, valley
inline constexpr int kPeriodCount = 4;
inline constexpr int period_index(Period p) { return static_cast<int>(p); }

// [start, end) in minutes of the local day; end <= start crosses midnight ("23:00-07:00").
struct TimeOfDayRange {
  int start_minute = 0;  // 0..1439
  int end_minute = 0;    // 1..1440
  bool contains(int minute_of_day) const;
};

struct TariffSeason {
  std::string name;
  std::vector<int> months;                                 // 1..12
  std::vector<int> sharp_months;                           // subset of months where sharp applies
  std::array<double, kPeriodCount> price_yuan_per_kwh{};   // indexed by period_index()
  std::array<std::vector<TimeOfDayRange>, kPeriodCount> ranges;  // indexed by period_index()
  // Period of every minute of the day, derived from ranges: in a sharp month, sharp ranges take
  // precedence; outside sharp months a sharp minute falls back to peak.
  std::array<Period, 1440> period_by_minute{};
  std::array<Period, 1440> period_by_minute_sharp{};
};

struct TariffSchedule {
  std::chrono::year_month_day effective_from{};  // local date the schedule starts at 00:00
  std::vector<TariffSeason> seasons;             // cover every month exactly once
};

struct TariffConfig {
  std::vector<TariffSchedule> schedules;         // sorted by effective_from; at least one
};

struct TariffPoint {
  double price_yuan_per_kwh = 0;
  Period period = Period::flat;
};

// Price and period in force at `t` (a UTC instant) at a site `utc_offset` east of UTC. Before the
// first schedule's effective date the first schedule applies.
TariffPoint tariff_at(const TariffConfig& tariff, TimePoint t, std::chrono::minutes utc_offset);
// The tariff at the start of each of `slots` consecutive slots from `start` (planner input).
std::vector<TariffPoint> tariff_series(const TariffConfig& tariff, TimePoint start,
                                       std::chrono::minutes slot, int slots,
                                       std::chrono::minutes utc_offset);

}  // namespace orderly::gateway

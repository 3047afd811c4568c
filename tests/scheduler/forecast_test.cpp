#include "orderly/scheduler/forecast.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

namespace orderly::scheduler {
namespace {

constexpr int kSlotsPerDay = 96;
constexpr double kPi = 3.14159265358979323846;

double bump(double hour, double centre, double width) {
  const double d = (hour - centre) / width;
  return std::exp(-0.5 * d * d);
}

// A residential transformer area (about 300 households, electric cooking and air conditioning):
// night trough, a morning peak on workdays, a later and broader one at weekends, the evening
// peak highest. Each day gets a weather factor, each slot AR(1) noise, and a few days are
// anomalous (a heat wave, a day most residents are away, a family gathering weekend).
class SyntheticLoad {
 public:
  explicit SyntheticLoad(unsigned seed) : rng_(seed) {}

  std::vector<double> day(int day_number) {
    const bool weekend = day_number % 7 >= 5;
    std::normal_distribution<double> weather(1.0, 0.04), noise(0.0, 0.025);
    double factor = weather(rng_);
    if (day_number == 9) factor *= 1.35;   // heat wave, Wednesday of week 2
    if (day_number == 17) factor *= 0.55;  // most residents away, Thursday of week 3
    if (day_number == 26) factor *= 1.30;  // gathering, Saturday of week 4
    std::vector<double> out;
    for (int s = 0; s < kSlotsPerDay; ++s) {
      const double h = (s + 0.5) * 24.0 / kSlotsPerDay;
      double kw = 110 + 15 * std::cos(2 * kPi * (h - 15) / 24);
      if (weekend) {
        kw += 70 * bump(h, 9.5, 1.8) + 60 * bump(h, 13.0, 2.0) + 190 * bump(h, 20.0, 2.0);
      } else {
        kw += 80 * bump(h, 7.3, 0.8) + 25 * bump(h, 12.2, 0.8) + 210 * bump(h, 20.3, 1.6);
      }
      ar_ = 0.85 * ar_ + noise(rng_);
      out.push_back(kw * factor * (1 + ar_));
    }
    return out;
  }

 private:
  std::mt19937 rng_;
  double ar_ = 0;
};

struct Series {
  std::vector<LoadSample> history;  // weeks 1-4
  std::vector<double> week5;
};

Series make_series(unsigned seed) {
  SyntheticLoad gen(seed);
  Series s;
  for (int d = 0; d < 35; ++d) {
    const auto kw = gen.day(d);
    for (int k = 0; k < kSlotsPerDay; ++k) {
      if (d < 28) s.history.push_back({static_cast<std::int64_t>(d) * kSlotsPerDay + k, kw[static_cast<std::size_t>(k)]});
      else s.week5.push_back(kw[static_cast<std::size_t>(k)]);
    }
  }
  return s;
}

std::vector<double> slice(const std::vector<double>& v, std::size_t from, std::size_t n) {
  return {v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(from + n)};
}

TEST(Forecast, WeekAheadOnSyntheticResidentialLoad) {
  const auto s = make_series(42);
  const std::int64_t first = 28 * kSlotsPerDay;
  const auto median = forecast_base_load(s.history, first, 7 * kSlotsPerDay);
  ForecastOptions ewma_options;
  ewma_options.profile = ForecastOptions::Profile::ewma;
  const auto ewma = forecast_base_load(s.history, first, 7 * kSlotsPerDay, ewma_options);
  // Seasonal naive (same slot a week earlier): what the forecast has to beat.
  std::vector<double> naive;
  for (std::size_t k = 0; k < s.week5.size(); ++k) naive.push_back(s.history[s.history.size() - s.week5.size() + k].load_kw);

  const auto e_median = forecast_error(median, s.week5);
  const auto e_ewma = forecast_error(ewma, s.week5);
  const auto e_naive = forecast_error(naive, s.week5);
  std::printf("week-ahead MAPE: median %.2f %%, ewma %.2f %%, naive %.2f %%; peak error: median %.2f %%, ewma %.2f %%, naive %.2f %%\n",
              100 * e_median.mape, 100 * e_ewma.mape, 100 * e_naive.mape, 100 * e_median.peak_error,
              100 * e_ewma.peak_error, 100 * e_naive.peak_error);
  EXPECT_LT(e_median.mape, 0.08);
  EXPECT_LT(e_median.peak_error, 0.08);
  EXPECT_LT(e_median.mape, e_naive.mape) << "the median profile must shrug off last week's anomalous Saturday";
  EXPECT_LT(e_ewma.mape, 0.12);

  // The daily peak of each forecast day, which is what the planner's headroom depends on.
  double worst_day_peak_error = 0, mean_day_peak_error = 0;
  for (int d = 0; d < 7; ++d) {
    const auto e = forecast_error(slice(median, static_cast<std::size_t>(d) * kSlotsPerDay, kSlotsPerDay),
                                  slice(s.week5, static_cast<std::size_t>(d) * kSlotsPerDay, kSlotsPerDay));
    worst_day_peak_error = std::max(worst_day_peak_error, e.peak_error);
    mean_day_peak_error += e.peak_error / 7;
  }
  std::printf("daily peak error (median profile): mean %.2f %%, worst day %.2f %%\n", 100 * mean_day_peak_error,
              100 * worst_day_peak_error);
  EXPECT_LT(mean_day_peak_error, 0.08);
  EXPECT_LT(worst_day_peak_error, 0.20);
}

TEST(Forecast, RollingDayAheadWithTheRecentCorrection) {
  // Re-forecast every 6 hours over week 5 with the samples seen so far; the correction must
  // help for the next hours (its only job) and not hurt over the full day.
  const auto s = make_series(7);
  auto history = s.history;
  ForecastOptions no_correction;
  no_correction.correction_decay_slots = 0;
  double next_2h_with = 0, next_2h_without = 0, day_with = 0, day_without = 0;
  int runs = 0;
  for (std::size_t start = 0; start + kSlotsPerDay <= s.week5.size(); start += 24) {
    const std::int64_t first = 28 * kSlotsPerDay + static_cast<std::int64_t>(start);
    const auto with = forecast_base_load(history, first, kSlotsPerDay);
    const auto without = forecast_base_load(history, first, kSlotsPerDay, no_correction);
    const auto actual = slice(s.week5, start, kSlotsPerDay);
    next_2h_with += forecast_error(slice(with, 0, 8), slice(actual, 0, 8)).mape;
    next_2h_without += forecast_error(slice(without, 0, 8), slice(actual, 0, 8)).mape;
    day_with += forecast_error(with, actual).mape;
    day_without += forecast_error(without, actual).mape;
    ++runs;
    for (std::size_t k = start; k < start + 24; ++k)
      history.push_back({28 * kSlotsPerDay + static_cast<std::int64_t>(k), s.week5[k]});
  }
  std::printf("rolling day-ahead (%d runs) MAPE next 2 h: %.2f %% with correction, %.2f %% without; "
              "next 24 h: %.2f %% with, %.2f %% without\n",
              runs, 100 * next_2h_with / runs, 100 * next_2h_without / runs, 100 * day_with / runs,
              100 * day_without / runs);
  EXPECT_LT(next_2h_with, next_2h_without);
  EXPECT_LT(day_with / runs, 0.08);
}

TEST(Forecast, RecentDeviationIsCarriedForwardAndFades) {
  std::vector<LoadSample> history;
  for (std::int64_t k = 0; k < 14 * kSlotsPerDay; ++k) history.push_back({k, 100.0});
  for (std::int64_t k = 14 * kSlotsPerDay - 8; k < 14 * kSlotsPerDay; ++k) history[static_cast<std::size_t>(k)].load_kw = 130.0;
  const auto f = forecast_base_load(history, 14 * kSlotsPerDay, 96);
  EXPECT_NEAR(f[0], 130.0, 1e-9);
  EXPECT_NEAR(f[8], 100.0 + 30.0 * std::exp(-1.0), 1e-9);
  EXPECT_NEAR(f[95], 100.0, 0.01);
}

TEST(Forecast, WeekendsAndHolidaysUseTheirOwnProfile) {
  ForecastOptions o;
  o.slots_per_day = 4;
  o.correction_decay_slots = 0;
  o.holiday_days = {14};  // a Monday holiday
  std::vector<LoadSample> history;
  for (std::int64_t d = 0; d < 14; ++d)
    for (int k = 0; k < 4; ++k) history.push_back({d * 4 + k, d % 7 >= 5 ? 200.0 : 100.0});
  EXPECT_EQ(day_type(5, o), DayType::weekend);
  EXPECT_EQ(day_type(14, o), DayType::weekend);
  EXPECT_EQ(day_type(15, o), DayType::workday);
  const auto f = forecast_base_load(history, 14 * 4, 8, o);
  EXPECT_EQ(f, (std::vector<double>{200, 200, 200, 200, 100, 100, 100, 100}));
}

TEST(Forecast, IgnoresFutureSamplesAndFillsGaps) {
  ForecastOptions o;
  o.slots_per_day = 4;
  o.correction_decay_slots = 0;
  std::vector<LoadSample> history = {{0, 10}, {1, 20}, {2, 30}, {100, 999}};  // slot 3 never seen
  const auto f = forecast_base_load(history, 4, 4, o);
  EXPECT_EQ(f[0], 10);
  EXPECT_EQ(f[2], 30);
  EXPECT_EQ(f[3], 20) << "no value for that slot of day: the overall mean";
  EXPECT_EQ(forecast_base_load({}, 0, 3, o), (std::vector<double>{0, 0, 0}));
}

TEST(Forecast, ErrorMeasures) {
  const auto e = forecast_error({90, 110, 200}, {100, 100, 250});
  EXPECT_NEAR(e.mape, (0.1 + 0.1 + 0.2) / 3, 1e-12);
  EXPECT_NEAR(e.peak_error, 0.2, 1e-12);
  EXPECT_NEAR(e.max_abs_error_kw, 50, 1e-12);
  EXPECT_THROW(forecast_error({1}, {1, 2}), std::invalid_argument);
}

}  // namespace
}  // namespace orderly::scheduler

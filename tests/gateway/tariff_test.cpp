// Tariff lookup at the edges installers and residents notice: midnight, season boundaries,
// sharp-peak months, and a tariff change on a given local date.
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using scheduler::Period;

// UTC instant of a China Standard Time (UTC+8) wall-clock time.
TimePoint cst(year_month_day date, int hour, int minute) {
  return TimePoint(sys_days(date) + hours(hour) + minutes(minute) - hours(8));
}

const std::string kTariff = testing::kMinimalSite + R"(
[tariff]
[[tariff.schedule]]
effective_from = 2024-01-01
  [[tariff.schedule.season]]
  name = "summer"
  months = [7, 8, 9]
  sharp_months = [7, 8]
  price_yuan_per_kwh = { sharp = 1.25, peak = 1.05, flat = 0.62, valley = 0.31 }
  hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"], sharp = ["19:00-21:00"] }
  [[tariff.schedule.season]]
  name = "rest"
  months = [1, 2, 3, 4, 5, 6, 10, 11, 12]
  price_yuan_per_kwh = { peak = 1.00, flat = 0.60, valley = 0.30 }
  hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"] }
[[tariff.schedule]]
effective_from = 2025-07-01
  [[tariff.schedule.season]]
  price_yuan_per_kwh = { peak = 0.90, flat = 0.55, valley = 0.25 }
  hours = { valley = ["22:00-06:00"], flat = ["06:00-08:00", "11:00-17:00"], peak = ["08:00-11:00", "17:00-22:00"] }
)";

class Tariff : public ::testing::Test {
 protected:
  Config config = parse_config(kTariff, "tariff.toml");
  TariffPoint at(TimePoint t) const {
    return tariff_at(config.tariff, t, config.site.utc_offset);
  }
};

TEST_F(Tariff, ValleyCrossesMidnight) {
  const auto day = 2024y / March / 15;
  EXPECT_EQ(at(cst(day, 22, 59)).period, Period::peak);
  EXPECT_EQ(at(cst(day, 23, 0)).period, Period::valley);
  EXPECT_DOUBLE_EQ(at(cst(day, 23, 0)).price_yuan_per_kwh, 0.30);
  EXPECT_EQ(at(cst(day, 23, 59)).period, Period::valley);
  EXPECT_EQ(at(cst(2024y / March / 16, 0, 0)).period, Period::valley);
  EXPECT_EQ(at(cst(2024y / March / 16, 6, 59)).period, Period::valley);
  EXPECT_EQ(at(cst(2024y / March / 16, 7, 0)).period, Period::flat);
}

TEST_F(Tariff, LocalTimeNotUtcDecidesThePeriod) {
  // 23:30 UTC is 07:30 the next morning in China: flat, not valley.
  const TimePoint t = TimePoint(sys_days(2024y / March / 15) + hours(23) + minutes(30));
  EXPECT_EQ(at(t).period, Period::flat);
}

TEST_F(Tariff, SeasonsAndSharpMonths) {
  // 19:30: sharp in July and August, plain peak in September (summer, not a sharp month) and
  // in January (other season, other price).
  EXPECT_EQ(at(cst(2024y / July / 10, 19, 30)).period, Period::sharp);
  EXPECT_DOUBLE_EQ(at(cst(2024y / July / 10, 19, 30)).price_yuan_per_kwh, 1.25);
  EXPECT_EQ(at(cst(2024y / August / 31, 20, 59)).period, Period::sharp);
  EXPECT_EQ(at(cst(2024y / August / 31, 21, 0)).period, Period::peak);
  EXPECT_EQ(at(cst(2024y / September / 1, 19, 30)).period, Period::peak);
  EXPECT_DOUBLE_EQ(at(cst(2024y / September / 1, 19, 30)).price_yuan_per_kwh, 1.05);
  EXPECT_EQ(at(cst(2024y / January / 10, 19, 30)).period, Period::peak);
  EXPECT_DOUBLE_EQ(at(cst(2024y / January / 10, 19, 30)).price_yuan_per_kwh, 1.00);
  // The season is that of the local date: 30 June 23:30 local is still June.
  EXPECT_DOUBLE_EQ(at(cst(2024y / June / 30, 23, 30)).price_yuan_per_kwh, 0.30);
  EXPECT_DOUBLE_EQ(at(cst(2024y / July / 1, 0, 0)).price_yuan_per_kwh, 0.31);
}

TEST_F(Tariff, ScheduleChangesAtLocalMidnightOfEffectiveDate) {
  EXPECT_EQ(at(cst(2025y / June / 30, 22, 30)).period, Period::peak);
  EXPECT_DOUBLE_EQ(at(cst(2025y / June / 30, 23, 59)).price_yuan_per_kwh, 0.30);  // old, June
  EXPECT_EQ(at(cst(2025y / July / 1, 0, 0)).period, Period::valley);
  EXPECT_DOUBLE_EQ(at(cst(2025y / July / 1, 0, 0)).price_yuan_per_kwh, 0.25);
  EXPECT_EQ(at(cst(2025y / July / 1, 22, 30)).period, Period::valley);  // new hours
  EXPECT_EQ(at(cst(2025y / July / 15, 19, 30)).period, Period::peak);   // no sharp any more
}

TEST_F(Tariff, BeforeFirstScheduleUsesTheFirst) {
  EXPECT_DOUBLE_EQ(at(cst(2020y / January / 1, 12, 0)).price_yuan_per_kwh, 0.60);
}

TEST_F(Tariff, SeriesForADayOfSlots) {
  const auto series =
      tariff_series(config.tariff, cst(2024y / July / 10, 0, 0), minutes(15), 96,
                    config.site.utc_offset);
  ASSERT_EQ(series.size(), 96u);
  int count[kPeriodCount] = {};
  for (const auto& p : series) ++count[period_index(p.period)];
  EXPECT_EQ(count[period_index(Period::valley)], 8 * 4);
  EXPECT_EQ(count[period_index(Period::flat)], 8 * 4);
  EXPECT_EQ(count[period_index(Period::peak)], 6 * 4);
  EXPECT_EQ(count[period_index(Period::sharp)], 2 * 4);
}

TEST(TimeOfDayRange, ContainsHandlesWrapAndFullEnd) {
  EXPECT_TRUE((TimeOfDayRange{23 * 60, 7 * 60}.contains(0)));
  EXPECT_FALSE((TimeOfDayRange{23 * 60, 7 * 60}.contains(7 * 60)));
  EXPECT_TRUE((TimeOfDayRange{18 * 60, 1440}.contains(1439)));
  EXPECT_FALSE((TimeOfDayRange{18 * 60, 1440}.contains(0)));
}

}  // namespace
}  // namespace orderly::gateway

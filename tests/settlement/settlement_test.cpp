// Settlement against hand-computed figures on a small tariff with every awkward edge: a valley
// crossing midnight, a summer season with sharp hours in July only, and a new schedule from
// 2025-07-01.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/settlement.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

constexpr const char* kConfig = R"(
[site]
name = "test"
utc_offset = "+08:00"
[site.transformer]
limit_kw = 100
[[tariff.schedule]]
effective_from = 2024-01-01
  [[tariff.schedule.season]]
  name = "summer"
  months = [7, 8, 9]
  sharp_months = [7]
  price_yuan_per_kwh = { sharp = 1.5, peak = 1.0, flat = 0.6, valley = 0.35 }
  hours = { valley = ["23:00-07:00"], flat = ["07:00-18:00"], peak = ["18:00-23:00"], sharp = ["19:00-21:00"] }
  [[tariff.schedule.season]]
  name = "rest"
  months = [1, 2, 3, 4, 5, 6, 10, 11, 12]
  price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
  hours = { valley = ["23:00-07:00"], flat = ["07:00-18:00"], peak = ["18:00-23:00"] }
[[tariff.schedule]]
effective_from = 2025-07-01
  [[tariff.schedule.season]]
  name = "all year"
  months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  price_yuan_per_kwh = { peak = 0.9, flat = 0.5, valley = 0.2 }
  hours = { valley = ["22:00-06:00"], flat = ["06:00-17:00"], peak = ["17:00-22:00"] }
)";

const Config& config() {
  static const Config c = parse_config(kConfig, "settlement_test.toml");
  return c;
}

constexpr minutes kOffset{8 * 60};

// A local (UTC+8) wall-clock time.
TimePoint local(int y, unsigned m, unsigned d, int hh, int mm, int ss = 0) {
  return sys_days(year{y} / month{m} / day{d}) + hours(hh) + minutes(mm) + seconds(ss) - kOffset;
}

SettlementResult settle_readings(const std::vector<EnergyReading>& r, double discharge_price = 0) {
  return settle(config().tariff, kOffset, r, discharge_price);
}

constexpr int kSharp = period_index(Period::sharp);
constexpr int kPeak = period_index(Period::peak);
constexpr int kFlat = period_index(Period::flat);
constexpr int kValley = period_index(Period::valley);

TEST(Settlement, CutsExactlyAtThePeriodBoundaryBetweenTwoReadings) {
  // 17:30 -> 18:30 at constant power, 7000 Wh: half flat, half peak.
  const auto r = settle_readings({{local(2024, 3, 5, 17, 30), 0}, {local(2024, 3, 5, 18, 30), 7000}});
  EXPECT_DOUBLE_EQ(r.charged_wh_by_period[kFlat], 3500);
  EXPECT_DOUBLE_EQ(r.charged_wh_by_period[kPeak], 3500);
  EXPECT_DOUBLE_EQ(r.charged_wh, 7000);
  EXPECT_DOUBLE_EQ(r.cost_yuan, 3.5 * 0.6 + 3.5 * 1.0);
}

TEST(Settlement, ACutInsideAMinuteFollowsTheSecondsOfTheReadings) {
  // 17:59:30 -> 18:00:30, 100 Wh: 50 flat, 50 peak.
  const auto r = settle_readings({{local(2024, 3, 5, 17, 59, 30), 10}, {local(2024, 3, 5, 18, 0, 30), 110}});
  EXPECT_NEAR(r.charged_wh_by_period[kFlat], 50, 1e-9);
  EXPECT_NEAR(r.charged_wh_by_period[kPeak], 50, 1e-9);
  EXPECT_NEAR(r.net_energy_wh, 100, 1e-12);
}

TEST(Settlement, OvernightSessionCrossingMidnightIsValleyThenFlat) {
  // 22:00 -> 08:00 next day, 10 h at 1 kW: 22-23 peak, 23-07 valley (across midnight), 07-08 flat.
  const auto r = settle_readings({{local(2024, 11, 30, 22, 0), 0},
                                  {local(2024, 12, 1, 1, 0), 3000},
                                  {local(2024, 12, 1, 8, 0), 10000}});
  EXPECT_NEAR(r.charged_wh_by_period[kPeak], 1000, 1e-9);
  EXPECT_NEAR(r.charged_wh_by_period[kValley], 8000, 1e-9);
  EXPECT_NEAR(r.charged_wh_by_period[kFlat], 1000, 1e-9);
  EXPECT_DOUBLE_EQ(r.cost_yuan, round_yuan(1.0 * 1.0 + 8 * 0.3 + 1 * 0.6));
}

TEST(Settlement, SharpHoursOnlyInSharpMonthsAndSeasonChangeAtMonthEnd) {
  // July: 19-21 is sharp. August (same season, not a sharp month): 19-21 is peak.
  const auto july = settle_readings({{local(2024, 7, 10, 18, 0), 0}, {local(2024, 7, 10, 22, 0), 4000}});
  EXPECT_NEAR(july.charged_wh_by_period[kSharp], 2000, 1e-9);
  EXPECT_NEAR(july.charged_wh_by_period[kPeak], 2000, 1e-9);
  const auto august = settle_readings({{local(2024, 8, 10, 18, 0), 0}, {local(2024, 8, 10, 22, 0), 4000}});
  EXPECT_NEAR(august.charged_wh_by_period[kSharp], 0, 1e-9);
  EXPECT_NEAR(august.charged_wh_by_period[kPeak], 4000, 1e-9);
}

TEST(Settlement, SeasonChangeAtLocalMidnightOfTheMonthsEnd) {
  // 30 Sep 22:00 -> 1 Oct 02:00 local at 1 kW: summer peak 22-23 (1.0), summer valley 23-24
  // (0.35), then the rest-of-year valley from 00:00 local (0.3), not from 00:00 UTC.
  const auto r = settle_readings({{local(2024, 9, 30, 22, 0), 0}, {local(2024, 10, 1, 2, 0), 4000}});
  EXPECT_NEAR(r.charged_wh_by_period[kPeak], 1000, 1e-9);
  EXPECT_NEAR(r.charged_wh_by_period[kValley], 3000, 1e-9);
  EXPECT_NEAR(r.cost_yuan_by_period[kValley], 0.35 + 2 * 0.3, 1e-9);
  EXPECT_DOUBLE_EQ(r.cost_yuan, 1.95);
}

TEST(Settlement, TariffChangeOnItsEffectiveDateAtLocalMidnight) {
  // 2025-06-30 21:00 -> 2025-07-01 03:00 at 1 kW. Old: 21-23 peak 1.0, 23-24 valley 0.3.
  // New from 00:00 local: 00-03 valley 0.2.
  const auto r = settle_readings({{local(2025, 6, 30, 21, 0), 0}, {local(2025, 7, 1, 3, 0), 6000}});
  EXPECT_NEAR(r.charged_wh_by_period[kPeak], 2000, 1e-9);
  EXPECT_NEAR(r.charged_wh_by_period[kValley], 4000, 1e-9);
  EXPECT_NEAR(r.cost_yuan_by_period[kValley], 1 * 0.3 + 3 * 0.2, 1e-9);
  EXPECT_DOUBLE_EQ(r.cost_yuan, 2.9);
}

TEST(Settlement, TotalsEqualMeteredEnergyOverIrregularReadings) {
  std::vector<EnergyReading> readings;
  const auto start = local(2024, 7, 31, 16, 17, 13);
  double e = 0;
  for (int i = 0; i < 400; ++i) {
    readings.push_back({start + seconds(97 * i + (i % 7) * 13), e});
    e += 3.7 + (i % 5);
  }
  const auto r = settle_readings(readings);
  double sum = 0;
  for (double wh : r.charged_wh_by_period) sum += wh;
  EXPECT_NEAR(sum, readings.back().session_energy_wh, 1e-6);
  EXPECT_NEAR(r.net_energy_wh, readings.back().session_energy_wh, 1e-9);
}

TEST(Settlement, V2gDischargeIsCountedAndCompensatedApart) {
  // Charge 4 kWh in the valley, give 2 kWh back in the peak at 0.8 yuan/kWh.
  const auto r = settle_readings({{local(2024, 3, 5, 1, 0), 0},
                                  {local(2024, 3, 5, 5, 0), 4000},
                                  {local(2024, 3, 5, 19, 0), 4000},
                                  {local(2024, 3, 5, 20, 0), 2000}},
                                 0.8);
  EXPECT_NEAR(r.charged_wh, 4000, 1e-9);
  EXPECT_NEAR(r.discharged_wh, 2000, 1e-9);
  EXPECT_NEAR(r.discharged_wh_by_period[kPeak], 2000, 1e-9);
  EXPECT_DOUBLE_EQ(r.cost_yuan, 1.2);
  EXPECT_DOUBLE_EQ(r.compensation_yuan, 1.6);
  SessionRecord record;
  apply_settlement(record, r);
  EXPECT_DOUBLE_EQ(record.energy_wh, 2000);
  EXPECT_DOUBLE_EQ(record.energy_wh_by_period[kValley], 4000);
  EXPECT_DOUBLE_EQ(record.cost_yuan, -0.4);
}

TEST(Settlement, RoundsToFenHalfAwayFromZero) {
  EXPECT_DOUBLE_EQ(round_yuan(1.005), 1.01);
  EXPECT_DOUBLE_EQ(round_yuan(1.0049), 1.0);
  EXPECT_DOUBLE_EQ(round_yuan(-1.005), -1.01);
  EXPECT_DOUBLE_EQ(round_yuan(2.675), 2.68);
  // 1 Wh in the valley costs 0.0003 yuan: rounds to 0.00.
  const auto r = settle_readings({{local(2024, 3, 5, 1, 0), 0}, {local(2024, 3, 5, 1, 1), 1}});
  EXPECT_DOUBLE_EQ(r.cost_yuan, 0.0);
  EXPECT_GT(r.cost_yuan_by_period[kValley], 0);
}

TEST(Settlement, RefusesReadingsOutOfOrder) {
  try {
    settle_readings({{local(2024, 3, 5, 2, 0), 0}, {local(2024, 3, 5, 1, 0), 10}});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reading 1"), std::string::npos) << e.what();
  }
}

TEST(Settlement, NoReadingsOrOneReadingIsNothing) {
  EXPECT_DOUBLE_EQ(settle_readings({}).charged_wh, 0);
  EXPECT_DOUBLE_EQ(settle_readings({{local(2024, 3, 5, 2, 0), 50}}).net_energy_wh, 0);
}

SessionRecord session(std::string household, std::string rfid, TimePoint start, double valley_wh,
                      double peak_wh, double cost) {
  SessionRecord s;
  s.household = std::move(household);
  s.rfid = std::move(rfid);
  s.started_at = start;
  s.energy_wh_by_period[kValley] = valley_wh;
  s.energy_wh_by_period[kPeak] = peak_wh;
  s.energy_wh = valley_wh + peak_wh;
  s.cost_yuan = cost;
  return s;
}

TEST(Statement, GroupsByLocalMonthHouseholdAndCard) {
  const std::vector<SessionRecord> sessions{
      session("3-2-1201", "", local(2024, 3, 31, 23, 30), 5000, 0, 1.5),  // March locally
      session("3-2-1201", "", local(2024, 3, 2, 1, 0), 1000, 1000, 1.3),
      session("3-2-1201", "", local(2024, 4, 1, 0, 30), 2000, 0, 0.6),     // April
      session("1-1-101", "A1B2", local(2024, 3, 10, 20, 0), 0, 7000, 7.0),
      session("1-1-101", "C3D4", local(2024, 3, 11, 20, 0), 0, 1000, 1.0),
  };
  const auto rows = monthly_statement(sessions, kOffset);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].month, "2024-03");
  EXPECT_EQ(rows[0].household, "1-1-101");
  EXPECT_EQ(rows[0].rfid, "A1B2");
  EXPECT_EQ(rows[2].household, "3-2-1201");
  EXPECT_EQ(rows[2].sessions, 2);
  EXPECT_DOUBLE_EQ(rows[2].energy_wh_by_period[kValley], 6000);
  EXPECT_DOUBLE_EQ(rows[2].cost_yuan, 2.8);
  EXPECT_EQ(rows[3].month, "2024-04");
  EXPECT_EQ(rows[3].sessions, 1);
}

TEST(Statement, CsvHasBomHeaderCrlfAndFixedDecimals) {
  const auto rows = monthly_statement(
      {session("3-2-1201", "", local(2024, 3, 2, 1, 0), 1234.6, 0, 0.37),
       session("=cmd,\"x\"", "", local(2024, 3, 2, 1, 0), 0, 0, 0)},
      kOffset);
  const std::string csv = statement_csv(rows);
  ASSERT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
  const auto header_end = csv.find("\r\n");
  ASSERT_NE(header_end, std::string::npos);
  EXPECT_EQ(csv.substr(3, header_end - 3),
            "月份 month,户号 household,卡号 rfid,充电次数 sessions,尖峰电量 sharp_kwh,"
            "峰电量 peak_kwh,平电量 flat_kwh,谷电量 valley_kwh,总电量 total_kwh,电费 cost_yuan");
  EXPECT_NE(csv.find("\r\n2024-03,3-2-1201,,1,0.000,0.000,0.000,1.235,1.235,0.37\r\n"),
            std::string::npos)
      << csv;
  // Text Excel would evaluate is defused, and quoting follows RFC 4180.
  EXPECT_NE(csv.find("\r\n2024-03,\"'=cmd,\"\"x\"\"\",,1,"), std::string::npos) << csv;
}

}  // namespace
}  // namespace orderly::gateway

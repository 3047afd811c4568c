// KPIs and statements against hand-computed figures, on a real SQLite file written through Store
// (the same path the gateway's writer takes). The shared report site (report_site.hpp): peak 1.0
// (08-11, 18-23), flat 0.6, valley 0.3 (23-07) yuan/kWh, UTC+8; transformer limit 50 kW.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"
#include "report_site.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

const std::string kChargers = R"(
[[charger]]
id = "p1"
kind = "private"
household = "1-101"
max_power_kw = 7
phase = "A"
[[charger]]
id = "s1"
kind = "shared"
max_power_kw = 7
phase = "A"
)";

constexpr minutes kOffset = testing::kSiteOffset;
using testing::local;
constexpr int kValley = period_index(Period::valley);
constexpr int kPeak = period_index(Period::peak);

class ReportTest : public ::testing::Test {
 protected:
  ReportTest()
      : config_(parse_config(testing::report_site(50, kChargers), "report_test.toml")), store_(dir_ / "orderly.db") {}

  SessionRecord session(const std::string& id, const std::string& charger, TimePoint started,
                        double valley_wh, double peak_wh) {
    SessionRecord s;
    s.id = id;
    s.charger_id = charger;
    s.household = charger == "p1" ? "1-101" : "2-202";
    s.is_private = charger == "p1";
    s.max_power_w = 7000;
    s.started_at = started;
    s.ended_at = started + hours(10);
    s.energy_wh_by_period[kValley] = valley_wh;
    s.energy_wh_by_period[kPeak] = peak_wh;
    s.energy_wh = valley_wh + peak_wh;
    s.cost_yuan = round_yuan(valley_wh / 1000 * 0.3 + peak_wh / 1000 * 1.0);
    return s;
  }

  void meter(TimePoint at, double power_kw) {
    MeterSample m;
    m.at = at;
    m.meter_id = "tm";
    m.power_w = power_kw * 1000;
    store_.write(m);
  }

  orderly::test::TempDir dir_;
  Config config_;
  Store store_;
};

TEST_F(ReportTest, ValleyShareForAllAndPrivatePilesFromSessionsStartedInThePeriod) {
  store_.write(session("a", "p1", local(2026, 1, 5, 22), 9000, 1000));   // private 90 %
  store_.write(session("b", "s1", local(2026, 1, 6, 19), 2000, 8000));   // shared 20 %
  store_.write(session("c", "p1", local(2026, 1, 4, 22), 10000, 0));     // before the period
  store_.write(session("d", "p1", local(2026, 1, 8, 0), 10000, 0));      // at `to`: excluded
  const auto k = compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 8, 0));
  EXPECT_EQ(k.valley.sessions, 2);
  EXPECT_DOUBLE_EQ(k.valley.charged_wh, 20000);
  EXPECT_DOUBLE_EQ(k.valley.valley_wh, 11000);
  ASSERT_TRUE(k.valley.all);
  EXPECT_DOUBLE_EQ(*k.valley.all, 0.55);
  ASSERT_TRUE(k.valley.private_piles);
  EXPECT_DOUBLE_EQ(*k.valley.private_piles, 0.9);
  const auto json = to_json(k, kOffset);
  EXPECT_EQ(json["valley_share"]["all"], 0.55);
  EXPECT_EQ(json["valley_share"]["target_all"], 0.6);
  EXPECT_EQ(json["valley_share"]["target_private"], 0.8);
  EXPECT_EQ(json["from"], "2026-01-05T00:00:00+08:00");
}

TEST_F(ReportTest, EmptyPeriodHasNoSharesRatherThanZero) {
  const auto k = compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 6, 0));
  EXPECT_FALSE(k.valley.all);
  EXPECT_FALSE(k.valley.private_piles);
  EXPECT_FALSE(k.requests.share_met);
  EXPECT_FALSE(k.cost.per_kwh);
  EXPECT_FALSE(k.transformer.peak_kw);
  const auto json = to_json(k, kOffset);
  EXPECT_TRUE(json["valley_share"]["all"].is_null());
  EXPECT_TRUE(json["transformer"]["peak_at"].is_null());
  EXPECT_EQ(json["transformer"]["limit_kw"], 50);
  EXPECT_THROW(compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 5, 0)),
               std::invalid_argument);
}

TEST_F(ReportTest, RequestsMetCountsSessionsEndedInThePeriodThatHadARequest) {
  const TimePoint from = local(2026, 1, 10, 0);
  const TimePoint to = local(2026, 1, 11, 0);
  auto with_request = [&](const std::string& id, TimePoint started, TimePoint ended,
                          std::optional<TimePoint> met_at) {
    SessionRecord s = session(id, "p1", started, 10000, 0);
    s.ended_at = ended;
    s.departure = local(2026, 1, 10, 7, 30);
    s.requested_wh = 10000;
    s.request_source = "resident";
    s.met_at = met_at;
    return s;
  };
  store_.write(with_request("met", local(2026, 1, 9, 20), local(2026, 1, 10, 8), local(2026, 1, 10, 3)));
  store_.write(with_request("late", local(2026, 1, 9, 21), local(2026, 1, 10, 9), local(2026, 1, 10, 8)));
  store_.write(with_request("never", local(2026, 1, 9, 22), local(2026, 1, 10, 7, 30), std::nullopt));
  // Plugged in five days before the period, ended in it: still counted.
  store_.write(with_request("long", local(2026, 1, 5, 20), local(2026, 1, 10, 7), local(2026, 1, 6, 1)));
  // Ended before the period, or still open: not counted.
  store_.write(with_request("earlier", local(2026, 1, 8, 20), local(2026, 1, 9, 7), local(2026, 1, 9, 1)));
  SessionRecord open = with_request("open", local(2026, 1, 10, 20), local(2026, 1, 10, 21), std::nullopt);
  open.ended_at.reset();
  store_.write(open);
  // No request known: not counted.
  SessionRecord none = session("none", "s1", local(2026, 1, 9, 20), 5000, 0);
  none.ended_at = local(2026, 1, 10, 6);
  store_.write(none);

  const auto k = compute_kpis(store_, config_, from, to);
  EXPECT_EQ(k.requests.with_request, 4);
  EXPECT_EQ(k.requests.met, 2);
  ASSERT_TRUE(k.requests.share_met);
  EXPECT_DOUBLE_EQ(*k.requests.share_met, 0.5);
}

TEST_F(ReportTest, CostPerKwhAgainstTheSameSessionsChargedUncontrolled) {
  // 14 kWh plugged in at 20:00: uncontrolled, 7 kW for 2 h in the peak (14 yuan); orderly, in the
  // valley (4.20 yuan).
  store_.write(session("evening", "p1", local(2026, 1, 5, 20), 14000, 0));
  // 14 kWh plugged in at 22:00: 7 kWh peak + 7 kWh valley uncontrolled (9.10 yuan).
  store_.write(session("late", "s1", local(2026, 1, 5, 22), 14000, 0));
  const auto k = compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 6, 0));
  EXPECT_EQ(k.cost.sessions, 2);
  EXPECT_DOUBLE_EQ(k.cost.energy_wh, 28000);
  EXPECT_NEAR(k.cost.cost_yuan, 8.40, 1e-9);
  EXPECT_NEAR(k.cost.uncontrolled_cost_yuan, 23.10, 1e-9);
  ASSERT_TRUE(k.cost.per_kwh);
  EXPECT_NEAR(*k.cost.per_kwh, 0.30, 1e-9);
  ASSERT_TRUE(k.cost.uncontrolled_per_kwh);
  EXPECT_NEAR(*k.cost.uncontrolled_per_kwh, 23.10 / 28, 1e-9);
  EXPECT_EQ(to_json(k, kOffset)["cost"]["saving_yuan"], 14.70);
}

TEST_F(ReportTest, UncontrolledUsesThePilesRatingWhenTheSessionHasNone) {
  SessionRecord old = session("old", "p1", local(2026, 1, 5, 20), 14000, 0);
  old.max_power_w = 0;  // written before schema 3
  store_.write(old);
  SessionRecord unknown = session("gone", "removed-pile", local(2026, 1, 5, 20), 14000, 0);
  unknown.max_power_w = 0;
  store_.write(unknown);
  const auto k = compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 6, 0));
  EXPECT_EQ(k.cost.sessions, 1);
  EXPECT_EQ(k.cost.sessions_without_power, 1);
  EXPECT_NEAR(k.cost.uncontrolled_cost_yuan, 14.0, 1e-9);
}

TEST(UncontrolledCost, FullPowerFromPlugInPricedBySettlement) {
  const Config config = parse_config(testing::report_site(50, kChargers), "report_test.toml");
  // 3.5 kWh at 7 kW from 10:30: 30 min peak, then 11:00 flat for 0: all peak = 3.5 yuan.
  EXPECT_NEAR(uncontrolled_cost_yuan(config.tariff, kOffset, local(2026, 1, 5, 10, 30), 3500, 7000), 3.5, 1e-9);
  // 7 kWh from 10:30: 3.5 kWh peak + 3.5 kWh flat = 3.5 + 2.1.
  EXPECT_NEAR(uncontrolled_cost_yuan(config.tariff, kOffset, local(2026, 1, 5, 10, 30), 7000, 7000), 5.6, 1e-9);
  EXPECT_EQ(uncontrolled_cost_yuan(config.tariff, kOffset, local(2026, 1, 5, 10, 30), 0, 7000), 0);
}

TEST_F(ReportTest, PeakAndMinutesAboveTheLimitFromMeterSamples) {
  const TimePoint from = local(2026, 1, 5, 18);
  for (int m = 0; m < 60; ++m) meter(from + minutes(m), 40 + (m >= 30 && m < 33 ? 15 : 0));
  // A second sample within minute 31 above the limit is the same minute, not another.
  meter(from + minutes(31) + seconds(20), 56.5);
  meter(from - minutes(1), 99);          // before the period
  meter(from + minutes(60), 99);         // at `to`
  const auto k = compute_kpis(store_, config_, from, from + minutes(60));
  EXPECT_EQ(k.transformer.minutes_measured, 60);
  EXPECT_EQ(k.transformer.minutes_above_limit, 3);
  ASSERT_TRUE(k.transformer.peak_kw);
  EXPECT_DOUBLE_EQ(*k.transformer.peak_kw, 56.5);
  EXPECT_EQ(format_local_time(*k.transformer.peak_at, kOffset), "2026-01-05T18:31:20+08:00");
  EXPECT_EQ(k.transformer.aggregate_slots, 0);
}

TEST_F(ReportTest, ExpiredRawSamplesAreReplacedByFifteenMinuteAggregates) {
  const TimePoint old_hour = local(2025, 10, 1, 18);
  for (int m = 0; m < 60; ++m) meter(old_hour + minutes(m), m >= 30 && m < 33 ? 55 : 40);
  const TimePoint recent = local(2025, 10, 2, 19);
  meter(recent, 51);
  // Retention: raw samples before 2 October are folded into aggregates and deleted.
  store_.prune(PruneRequest{local(2025, 10, 2, 0), local(2020, 1, 1, 0)});
  ASSERT_EQ(store_.meter_aggregates("tm", old_hour, old_hour + hours(1)).size(), 4u);

  const auto k = compute_kpis(store_, config_, local(2025, 10, 1, 0), local(2025, 10, 3, 0));
  EXPECT_EQ(k.transformer.minutes_measured, 1);        // the raw sample that is left
  EXPECT_EQ(k.transformer.minutes_above_limit, 1);
  EXPECT_EQ(k.transformer.aggregate_slots, 4);
  EXPECT_EQ(k.transformer.aggregate_slots_above_limit, 1);  // 18:30-18:45 held the 55 kW minutes
  ASSERT_TRUE(k.transformer.peak_kw);
  EXPECT_DOUBLE_EQ(*k.transformer.peak_kw, 55);
  EXPECT_EQ(format_local_time(*k.transformer.peak_at, kOffset), "2025-10-01T18:30:00+08:00");
  const auto json = to_json(k, kOffset);
  EXPECT_EQ(json["transformer"]["aggregate_slots_above_limit"], 1);
}

TEST_F(ReportTest, PeriodNotOnWholeMinutesCountsEachMinuteOnce) {
  const TimePoint from = local(2026, 1, 5, 18) + seconds(30);
  meter(from + seconds(10), 60);               // 18:00:40
  meter(from + days(1) + seconds(10), 60);     // the next day, 18:00:40
  meter(from + days(1) + seconds(20), 60);     // same minute
  const auto k = compute_kpis(store_, config_, from, from + days(2));
  EXPECT_EQ(k.transformer.minutes_measured, 2);
  EXPECT_EQ(k.transformer.minutes_above_limit, 2);
}

TEST_F(ReportTest, PeriodsLongerThanADayReadEveryDay) {
  for (int d = 0; d < 3; ++d) meter(local(2026, 1, 5 + d, 19), 45 + d * 5);  // 45, 50, 55
  const auto k = compute_kpis(store_, config_, local(2026, 1, 5, 0), local(2026, 1, 8, 0));
  EXPECT_EQ(k.transformer.minutes_measured, 3);
  EXPECT_EQ(k.transformer.minutes_above_limit, 1);  // 50 is at the limit, not above
  EXPECT_DOUBLE_EQ(*k.transformer.peak_kw, 55);
}

TEST_F(ReportTest, MonthStatementTakesSessionsStartedInTheLocalMonth) {
  store_.write(session("jan-last", "p1", local(2026, 1, 31, 23, 30), 10000, 0));
  store_.write(session("feb-first", "p1", local(2026, 2, 1, 0, 0), 5000, 0));
  store_.write(session("dec", "s1", local(2025, 12, 31, 23, 59), 1000, 0));
  const auto jan = month_statement(store_, 2026y / January, kOffset);
  ASSERT_EQ(jan.size(), 1u);
  EXPECT_EQ(jan[0].month, "2026-01");
  EXPECT_EQ(jan[0].household, "1-101");
  EXPECT_EQ(jan[0].sessions, 1);
  EXPECT_DOUBLE_EQ(jan[0].energy_wh, 10000);
  EXPECT_NEAR(jan[0].cost_yuan, 3.0, 1e-9);
  EXPECT_NE(statement_csv(jan).find("2026-01,1-101,,1,"), std::string::npos);
  EXPECT_TRUE(month_statement(store_, 2026y / March, kOffset).empty());
  const auto range = month_range(2026y / February, kOffset);
  EXPECT_EQ(format_local_time(range.from, kOffset), "2026-02-01T00:00:00+08:00");
  EXPECT_EQ(format_local_time(range.to, kOffset), "2026-03-01T00:00:00+08:00");
}

TEST_F(ReportTest, SessionJsonInKwhAndLocalTimes) {
  SessionRecord s = session("a", "s1", local(2026, 1, 5, 22), 9000, 1000);
  s.departure = local(2026, 1, 6, 7, 30);
  s.requested_wh = 12000;
  s.request_source = "learned";
  const auto json = to_json(s, kOffset);
  EXPECT_EQ(json["charger"], "s1");
  EXPECT_EQ(json["kind"], "shared");
  EXPECT_EQ(json["started_at"], "2026-01-05T22:00:00+08:00");
  EXPECT_EQ(json["departure"], "2026-01-06T07:30:00+08:00");
  EXPECT_EQ(json["energy_kwh_by_period"]["valley"], 9.0);
  EXPECT_EQ(json["requested_kwh"], 12.0);
  EXPECT_TRUE(json["met_at"].is_null());
}

}  // namespace
}  // namespace orderly::gateway

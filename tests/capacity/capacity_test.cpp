// The hosting-capacity estimator on sites small enough to sweep in milliseconds: its answers are
// ordered (orderly >= uncontrolled >= 0), monotone in confidence and reproducible for a seed.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "orderly/gateway/capacity.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
constexpr minutes kOffset{8 * 60};

CapacitySite small_site(double limit_kw, double base_peak_kw) {
  CapacitySite s;
  s.limit_kw = limit_kw;
  s.safety_margin_kw = 2;
  s.utc_offset = kOffset;
  s.existing_pile_kw = {7, 7};
  s.base_load = synthetic_base_load(base_peak_kw, 10, kOffset, 3);
  return s;  // tariff left empty: price 0 everywhere, feasibility does not depend on it
}

CapacityOptions few_days(double confidence, std::uint64_t seed = 7, int days = 6) {
  CapacityOptions o;
  o.days = days;
  o.confidence = confidence;
  o.seed = seed;
  return o;
}

TEST(CapacityAtConfidence, TakesTheKthLargestDay) {
  const std::vector<int> by_day{10, 3, 7, 5, 9, 1, 8, 6, 4, 2};
  EXPECT_EQ(capacity_at_confidence(by_day, 1.0), 1);
  EXPECT_EQ(capacity_at_confidence(by_day, 0.9), 2);
  EXPECT_EQ(capacity_at_confidence(by_day, 0.95), 1);   // ceil(9.5) = 10 days
  EXPECT_EQ(capacity_at_confidence(by_day, 0.5), 6);
  EXPECT_EQ(capacity_at_confidence(by_day, 0.01), 10);
  // 0.95 x 20 is 19 days, not 20 through binary rounding.
  std::vector<int> twenty(20);
  for (int i = 0; i < 20; ++i) twenty[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(capacity_at_confidence(twenty, 0.95), 1);
  EXPECT_EQ(capacity_at_confidence({-1, 4}, 1.0), -1);
  EXPECT_THROW(capacity_at_confidence(by_day, 0.0), std::invalid_argument);
  EXPECT_THROW(capacity_at_confidence({}, 0.5), std::invalid_argument);
}

TEST(BaseLoad, AveragesPerLocalSlotAndDropsIncompleteDays) {
  std::vector<MeterSample> samples;
  const TimePoint local_midnight = TimePoint(sys_days(2025y / March / 3)) - kOffset;
  for (int d = 0; d < 3; ++d) {
    for (int m = 0; m < 1440; m += 5) {
      if (d == 2 && m >= 600 && m < 700) continue;  // the meter was offline on the third day
      MeterSample s;
      s.meter_id = "m";
      s.at = local_midnight + days(d) + minutes(m);
      s.power_w = (m % 15 == 0 ? 1000.0 : 4000.0) * (d + 1);
      samples.push_back(s);
    }
  }
  const auto h = base_load_from_samples(samples, kOffset, 15);
  ASSERT_EQ(h.days_kw.size(), 2u);
  ASSERT_EQ(h.days_kw[0].size(), 96u);
  EXPECT_DOUBLE_EQ(h.days_kw[0][0], 3.0);   // (1 + 4 + 4) / 3 kW
  EXPECT_DOUBLE_EQ(h.days_kw[1][95], 6.0);
  EXPECT_EQ(h.dates[0], sys_days(2025y / March / 3));
  EXPECT_FALSE(h.synthetic);
}

TEST(Capacity, OrderlyHostsAtLeastAsManyAsUncontrolledAndBothAreNonNegative) {
  const auto r = estimate_hosting_capacity(small_site(60, 30), few_days(0.9));
  EXPECT_GE(r.uncontrolled_new_piles, 0);
  EXPECT_GT(r.orderly_new_piles, r.uncontrolled_new_piles);
  ASSERT_EQ(r.orderly_by_day.size(), 6u);
  for (std::size_t d = 0; d < r.orderly_by_day.size(); ++d) {
    EXPECT_GE(r.orderly_by_day[d], r.uncontrolled_by_day[d]) << "day " << d;
  }
  EXPECT_FALSE(r.overloaded_without_new_piles);
  EXPECT_FALSE(r.orderly_at_ceiling);
}

TEST(Capacity, NeverRisesWithConfidence) {
  const auto site = small_site(40, 20);
  int previous_orderly = 1 << 30;
  int previous_uncontrolled = 1 << 30;
  for (double p : {0.4, 0.75, 1.0}) {
    const auto r = estimate_hosting_capacity(site, few_days(p, 7, 4));
    EXPECT_LE(r.orderly_new_piles, previous_orderly) << p;
    EXPECT_LE(r.uncontrolled_new_piles, previous_uncontrolled) << p;
    previous_orderly = r.orderly_new_piles;
    previous_uncontrolled = r.uncontrolled_new_piles;
  }
  EXPECT_GT(previous_orderly, 0) << "even at full confidence the small site hosts some piles";
}

TEST(Capacity, SameSeedSameAnswer) {
  const auto site = small_site(40, 20);
  const auto a = estimate_hosting_capacity(site, few_days(0.95, 11, 3));
  const auto b = estimate_hosting_capacity(site, few_days(0.95, 11, 3));
  EXPECT_EQ(a.orderly_by_day, b.orderly_by_day);
  EXPECT_EQ(a.uncontrolled_by_day, b.uncontrolled_by_day);
  EXPECT_EQ(a.orderly_new_piles, b.orderly_new_piles);
}

TEST(Capacity, ATransformerAlreadyOverItsLimitHostsNothing) {
  // Base load peaks above the limit: no plan can pass, with or without new piles.
  const auto r = estimate_hosting_capacity(small_site(40, 45), few_days(0.95));
  EXPECT_TRUE(r.overloaded_without_new_piles);
  EXPECT_EQ(r.uncontrolled_new_piles, 0);
  EXPECT_EQ(r.orderly_new_piles, 0);
}

TEST(Capacity, TheSearchCeilingIsReportedAsALowerBound) {
  auto o = few_days(0.5);
  o.max_new_piles = 3;
  const auto r = estimate_hosting_capacity(small_site(60, 30), o);
  EXPECT_EQ(r.orderly_new_piles, 3);
  EXPECT_TRUE(r.orderly_at_ceiling);
}

TEST(Capacity, RefusesOptionsOutOfRange) {
  const auto site = small_site(60, 30);
  auto o = few_days(1.5);
  EXPECT_THROW(estimate_hosting_capacity(site, o), std::invalid_argument);
  o = few_days(0.9);
  o.days = 0;
  EXPECT_THROW(estimate_hosting_capacity(site, o), std::invalid_argument);
  auto empty = site;
  empty.base_load.days_kw.clear();
  empty.base_load.dates.clear();
  EXPECT_THROW(estimate_hosting_capacity(empty, few_days(0.9)), std::invalid_argument);
}

}  // namespace
}  // namespace orderly::gateway

// The hosting-capacity estimator on sites small enough to sweep in milliseconds: its answers are
// ordered (orderly >= uncontrolled >= 0), monotone in confidence and reproducible for a seed.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>

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

TEST(PilePhases, NewSinglePhasePilesGoOnTheLeastLoadedPhase) {
  using scheduler::PhaseSet;
  CapacitySite site = small_site(60, 30);
  site.existing_pile_kw = {7, 7, 11};
  site.existing_pile_phases = {PhaseSet::a, PhaseSet::a, PhaseSet::abc};
  const auto phases = pile_phases(site, 7, 4);
  ASSERT_EQ(phases.size(), 7u);
  EXPECT_EQ(phases[0], PhaseSet::a);  // the configured ones as they are
  EXPECT_EQ(phases[2], PhaseSet::abc);
  // A: 14 + 3.67, B and C: 3.67 each: B, C, then B again (ties go to the earlier phase), C.
  EXPECT_EQ(phases[3], PhaseSet::b);
  EXPECT_EQ(phases[4], PhaseSet::c);
  EXPECT_EQ(phases[5], PhaseSet::b);
  EXPECT_EQ(phases[6], PhaseSet::c);
  EXPECT_EQ(pile_phases(site, 11, 1).back(), PhaseSet::abc) << "above 7.4 kW a pile is three-phase";
}

TEST(Capacity, APhaseLimitHostsFewerPilesThanTheTotalAlone) {
  const auto total_only = estimate_hosting_capacity(small_site(60, 30), few_days(0.9));
  CapacitySite site = small_site(60, 30);
  // Phase A is the weak one and takes most of the households' load.
  site.phase_limit_kw = {std::optional<double>(16), std::nullopt, std::nullopt};
  site.base_load_phase_split = {0.5, 0.25, 0.25};
  const auto phased = estimate_hosting_capacity(site, few_days(0.9));
  EXPECT_LT(phased.orderly_new_piles, total_only.orderly_new_piles);
  EXPECT_LE(phased.uncontrolled_new_piles, total_only.uncontrolled_new_piles);
  EXPECT_GE(phased.orderly_new_piles, phased.uncontrolled_new_piles);
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

// Closed private sessions plugged in at `minute` local time on consecutive days from 2025-03-03
// (a Monday), staying `stay` and taking `kwh`.
std::vector<SessionRecord> closed_sessions(int count, int minute, minutes stay, double kwh,
                                           sys_days first = sys_days(2025y / March / 3)) {
  std::vector<SessionRecord> out;
  for (int i = 0; i < count; ++i) {
    SessionRecord r;
    r.id = "s-" + std::to_string(i);
    r.charger_id = "p-1";
    r.is_private = true;
    r.max_power_w = 7000;
    r.started_at = TimePoint(first + days(i)) - kOffset + minutes(minute);
    r.ended_at = r.started_at + stay;
    r.energy_wh = kwh * 1000;
    out.push_back(r);
  }
  return out;
}

TEST(SessionStatistics, KeepsOnlyPlausibleClosedPrivateSessions) {
  auto all = closed_sessions(30, 18 * 60 + 30, hours(12), 9);
  const auto good = all;
  auto bad = closed_sessions(6, 18 * 60, hours(12), 9);
  bad[0].is_private = false;                                    // a shared pile's user
  bad[1].ended_at.reset();                                      // still plugged in
  bad[2].ended_at = bad[2].started_at + minutes(2);             // plugged in and pulled out
  bad[3].ended_at = bad[3].started_at + days(10);               // parked over a holiday
  bad[4].energy_wh = 0;                                         // the car was full
  bad[5].energy_wh = 7000 * 13;                                 // more than 7 kW x 12 h
  all.insert(all.end(), bad.begin(), bad.end());
  const auto st = session_statistics(all, kOffset);
  ASSERT_EQ(st.sessions.size(), 30u);
  EXPECT_EQ(st.closed_private, 34u) << "the shared and the open session are not counted";
  EXPECT_TRUE(st.warning.empty()) << st.warning;
  EXPECT_EQ(st.sessions[0].arrival_minute, 18 * 60 + 30);
  EXPECT_EQ(st.sessions[0].stay, hours(12));
  EXPECT_DOUBLE_EQ(st.sessions[0].energy_kwh, 9.0);
  EXPECT_FALSE(st.sessions[0].weekend) << "2025-03-03 is a Monday";
  EXPECT_TRUE(st.sessions[5].weekend) << "2025-03-08 is a Saturday";
  EXPECT_FALSE(st.by_day_type) << "30 sessions are not 30 weekday and 30 weekend ones";
}

TEST(SessionStatistics, BelowTheThresholdFallsBackToTheFittedStatisticsAndSaysWhy) {
  const auto st = session_statistics(closed_sessions(29, 18 * 60, hours(12), 9), kOffset);
  EXPECT_TRUE(st.sessions.empty());
  EXPECT_NE(st.warning.find("29 plausible closed session(s) of private piles (30 needed"),
            std::string::npos)
      << st.warning;
  EXPECT_NE(st.warning.find("FITTED"), std::string::npos) << st.warning;
  EXPECT_EQ(session_statistics(closed_sessions(kMinStoredSessions, 18 * 60, hours(12), 9), kOffset)
                .sessions.size(),
            kMinStoredSessions);
}

TEST(SessionStatistics, SplitsWeekdaysFromWeekendsWhenEachHasEnough) {
  const auto st = session_statistics(closed_sessions(105, 18 * 60, hours(12), 9), kOffset);
  EXPECT_TRUE(st.by_day_type) << "15 weeks hold 30 weekend days and 75 weekdays";
}

CapacitySite site_with_sessions(const std::vector<SessionRecord>& sessions) {
  auto site = small_site(60, 30);
  const auto st = session_statistics(sessions, kOffset);
  site.stored_sessions = st.sessions;
  site.sessions_by_day_type = st.by_day_type;
  return site;
}

// Varied sessions: arrivals 16:00-23:50, stays 8-15 h, energies 3-14 kWh (or all `kwh`), each a
// distinct triple.
std::vector<SessionRecord> varied_sessions(int count, double kwh = 0) {
  std::vector<SessionRecord> out;
  for (int i = 0; i < count; ++i) {
    const auto one = closed_sessions(1, 16 * 60 + (i * 47) % 470, hours(8 + i % 8),
                                     kwh > 0 ? kwh : 3 + (i * 7) % 12,
                                     sys_days(2025y / March / 3) + days(i));
    out.push_back(one.front());
  }
  return out;
}

TEST(PileVisits, DrawsWholeStoredSessionsOnePerLocalDayReproduciblyPerSeed) {
  const auto site = site_with_sessions(varied_sessions(40));
  std::set<std::tuple<int, long, double>> stored;
  for (const auto& s : site.stored_sessions) {
    stored.emplace(s.arrival_minute, static_cast<long>(s.stay.count()), s.energy_kwh);
  }
  const sys_days date = 2025y / June / 4;
  const TimePoint window = TimePoint(date) + hours(12) - kOffset;
  int visits = 0;
  bool seeds_differ = false;
  const auto first = pile_visits(site, date, 7, 1);
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    const auto v = pile_visits(site, date, 7, seed);
    const auto again = pile_visits(site, date, 7, seed);
    ASSERT_EQ(v.size(), again.size());
    ASSERT_LE(v.size(), 2u) << "one car per local day, and the window touches two";
    for (std::size_t i = 0; i < v.size(); ++i) {
      EXPECT_EQ(v[i].arrive, again[i].arrive);
      EXPECT_EQ(v[i].energy_kwh, again[i].energy_kwh);
      EXPECT_GE(v[i].arrive, window);
      EXPECT_LT(v[i].arrive, window + hours(24));
      if (i > 0) {
        EXPECT_GE(v[i].arrive, v[i - 1].depart) << "never two cars at once";
      }
      const auto local = v[i].arrive + kOffset;
      const int minute = static_cast<int>(floor<minutes>(local - floor<days>(local)).count());
      const long stay = static_cast<long>(floor<minutes>(v[i].depart - v[i].arrive).count());
      EXPECT_TRUE(stored.count({minute, stay, v[i].energy_kwh}))
          << "seed " << seed << ": arrival, stay and energy come from one stored session";
      ++visits;
    }
    if (v.size() != first.size() || (!v.empty() && v[0].arrive != first[0].arrive)) {
      seeds_differ = true;
    }
  }
  EXPECT_GT(visits, 30) << "evening arrivals fall inside the noon-to-noon window";
  EXPECT_TRUE(seeds_differ);
}

TEST(PileVisits, WithoutStoredSessionsDrawsFromTheFittedStatistics) {
  const auto site = small_site(60, 30);
  const auto stored = site_with_sessions(closed_sessions(40, 18 * 60, hours(12), 1));
  bool differs = false;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    for (const auto& v : pile_visits(site, 2025y / June / 4, 7, seed)) {
      differs = differs || v.energy_kwh != 1.0;
    }
    for (const auto& v : pile_visits(stored, 2025y / June / 4, 7, seed)) {
      EXPECT_EQ(v.energy_kwh, 1.0);
    }
  }
  EXPECT_TRUE(differs);
}

TEST(PileVisits, AWeekendDayDrawsFromWeekendSessionsWhenSplit) {
  CapacitySite site = small_site(60, 30);
  site.sessions_by_day_type = true;
  site.stored_sessions = {SessionSample{18 * 60, hours(1), 5, false},
                          SessionSample{10 * 60, hours(1), 9, true}};
  // From Friday noon: Friday's car comes at 18:00 (weekday), Saturday's at 10:00 (weekend).
  const sys_days friday = 2025y / June / 6;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const auto v = pile_visits(site, friday, 7, seed);
    ASSERT_EQ(v.size(), 2u) << seed;
    EXPECT_EQ(v[0].arrive, TimePoint(friday) - kOffset + hours(18));
    EXPECT_EQ(v[0].energy_kwh, 5);
    EXPECT_EQ(v[1].arrive, TimePoint(friday + days(1)) - kOffset + hours(10));
    EXPECT_EQ(v[1].energy_kwh, 9);
  }
}

TEST(Capacity, WithStoredSessionsAPileMoreExistingIsOneNewPileLess) {
  // Pile i's cars come from its own seed, so the scenario with one more existing 7 kW pile is
  // the one with one more new pile: each day's answer drops by exactly one.
  auto site = site_with_sessions(varied_sessions(40));
  auto more = site;
  more.existing_pile_kw.push_back(7);
  const auto a = estimate_hosting_capacity(site, few_days(0.9, 5, 4));
  const auto b = estimate_hosting_capacity(more, few_days(0.9, 5, 4));
  ASSERT_EQ(a.uncontrolled_by_day.size(), b.uncontrolled_by_day.size());
  for (std::size_t d = 0; d < a.uncontrolled_by_day.size(); ++d) {
    ASSERT_GT(a.uncontrolled_by_day[d], 0) << "day " << d;
    EXPECT_EQ(b.uncontrolled_by_day[d], a.uncontrolled_by_day[d] - 1) << "day " << d;
    EXPECT_EQ(b.orderly_by_day[d], a.orderly_by_day[d] - 1) << "day " << d;
  }
}

TEST(Capacity, StoredSessionsArrivingTogetherHostFewUncontrolled) {
  // Every car plugs in at 19:00: without control they all draw at once, whatever their size.
  const auto together = estimate_hosting_capacity(
      site_with_sessions(closed_sessions(40, 19 * 60, hours(10), 2)), few_days(0.9, 5, 4));
  const auto spread =
      estimate_hosting_capacity(site_with_sessions(varied_sessions(40, 2)), few_days(0.9, 5, 4));
  EXPECT_LT(together.uncontrolled_new_piles, spread.uncontrolled_new_piles);
  EXPECT_GT(together.orderly_new_piles, together.uncontrolled_new_piles);
}

TEST(Capacity, SmallStoredSessionsHostMorePilesThanTheFittedStatistics) {
  const auto fitted = estimate_hosting_capacity(small_site(60, 30), few_days(0.9, 5, 4));
  const auto small =
      estimate_hosting_capacity(site_with_sessions(varied_sessions(40, 2)), few_days(0.9, 5, 4));
  EXPECT_GT(small.uncontrolled_new_piles, fitted.uncontrolled_new_piles);
  EXPECT_GT(small.orderly_new_piles, fitted.orderly_new_piles);
  EXPECT_GE(small.orderly_new_piles, small.uncontrolled_new_piles);
}

TEST(SubtractPileLoad, TakesEachConfiguredPilesSampledPowerOffItsSlot) {
  BaseLoadHistory base;
  base.slot_minutes = 15;
  base.dates = {sys_days(2025y / March / 3), sys_days(2025y / March / 4)};
  base.days_kw.assign(2, std::vector<double>(96, 30.0));
  base.days_kw[0][90] = 5.0;                          // a quiet slot below what the piles drew
  const TimePoint midnight = TimePoint(base.dates[0]) - kOffset;
  std::vector<ChargerSample> samples;
  auto sample = [&](const std::string& id, TimePoint at, double w) {
    ChargerSample c;
    c.charger_id = id;
    c.at = at;
    c.power_w = w;
    samples.push_back(c);
  };
  // p-a charges at 7 kW 19:00-21:00 on the first day, one sample a minute; on the second day it
  // reports only at 00:00, idle. p-b never reports. p-gone is no longer configured.
  for (int m = 19 * 60; m < 21 * 60; ++m) sample("p-a", midnight + minutes(m), 7000);
  sample("p-a", midnight + minutes(90 * 15), 6000);   // 22:30, slot 90
  sample("p-a", midnight + days(1), 0);
  sample("p-a", midnight + days(1) + minutes(1), std::numeric_limits<double>::quiet_NaN());
  sample("p-a", midnight + days(1) + minutes(15), std::numeric_limits<double>::quiet_NaN());
  sample("p-gone", midnight + hours(19), 5000);
  sample("p-a", midnight - minutes(1), 7000);          // the day before: not in the history

  const auto r = subtract_pile_load(base, samples, {"p-a", "p-b"}, kOffset);
  EXPECT_DOUBLE_EQ(base.days_kw[0][76], 23.0);        // 19:00: 30 - 7
  EXPECT_DOUBLE_EQ(base.days_kw[0][83], 23.0);        // 20:45
  EXPECT_DOUBLE_EQ(base.days_kw[0][84], 30.0);        // 21:00: p-a has no sample, nothing taken
  EXPECT_DOUBLE_EQ(base.days_kw[0][90], 0.0) << "never below zero";
  EXPECT_DOUBLE_EQ(base.days_kw[1][0], 30.0);         // p-a idle
  EXPECT_DOUBLE_EQ(base.days_kw[0][95], 30.0);
  EXPECT_NEAR(r.energy_kwh, 7.0 * 2 + 5.0 * 0.25, 1e-9);
  EXPECT_EQ(r.pile_slots, 2u * 2u * 96u);
  // p-b: every slot; p-a: all but its 8 charging slots, 22:30 and the second day's 00:00 (the
  // NaN at 00:15 is no reading).
  EXPECT_EQ(r.pile_slots_without_data, 2u * 96u + (2u * 96u - 10u));
  EXPECT_EQ(r.slots_clamped, 1u);
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

// SessionBook rules (docs/sessions.md) on a small site: a private pile, a V2G private pile and a
// shared three-phase pile, under a tariff whose valley starts at 23:00 local (UTC+8). Every time
// is passed in; nothing reads a clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/sessions.hpp"
#include "orderly/gateway/settlement.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"
#include "../gateway/config_text.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using drivers::ChargerState;
using ::testing::AllOf;
using ::testing::HasSubstr;

// The shared test site and tariff (valley 23:00-07:00) with three piles and [sessions].
const std::string kConfig = testing::kMinimal + R"(
[[charger]]
id = "p1"
kind = "private"
household = "1-1-101"
phase = "A"
max_power_kw = 7
[[charger]]
id = "v1"
kind = "private"
household = "2-2-202"
phase = "B"
max_power_kw = 7
bidirectional = true
[[charger]]
id = "s1"
kind = "shared"
phase = "ABC"
max_power_kw = 22
[sessions]
default_departure = "07:30"
default_energy_kwh = 20
learning_days = 56
learning_min_sessions = 3
discharge_price_yuan_per_kwh = 0.5
)";

const Config& config() {
  static const Config c = parse_config(kConfig, "sessions_test.toml");
  return c;
}

constexpr minutes kOffset{8 * 60};

// A local (UTC+8) wall-clock time. 2024-07-08 is a Monday.
TimePoint local(int y, unsigned m, unsigned d, int hh, int mm, int ss = 0) {
  return sys_days(year{y} / month{m} / day{d}) + hours(hh) + minutes(mm) + seconds(ss) - kOffset;
}

drivers::ChargerSnapshot snap(ChargerState state, double energy_wh = 0, double power_w = 0,
                              std::string rfid = "") {
  drivers::ChargerSnapshot s;
  s.state = state;
  s.session_energy_wh = energy_wh;
  s.power_w = power_w;
  s.rfid = std::move(rfid);
  return s;
}

constexpr double kOffered = 7000;

// A closed session of `household` for the learning history.
SessionRecord past(const std::string& household, TimePoint started, TimePoint ended, double energy_wh) {
  SessionRecord r;
  r.id = "p1-" + std::to_string(duration_cast<milliseconds>(started.time_since_epoch()).count());
  r.charger_id = "p1";
  r.household = household;
  r.started_at = started;
  r.ended_at = ended;
  r.energy_wh = energy_wh;
  return r;
}

// The record a car plugged into p1 at `at` opens, on a book that knows `history`.
SessionRecord plug_in_after(const std::vector<SessionRecord>& history, TimePoint at, const Config& c = config()) {
  SessionBook book(c);
  book.restore({}, history);
  const auto out = book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, at);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? SessionRecord{} : out[0];
}

// ---- open / close --------------------------------------------------------------------------

TEST(SessionBook, OpensOnPlugInAndClosesOnUnplugOnly) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  EXPECT_TRUE(book.on_snapshot("p1", snap(ChargerState::unplugged), kOffered, t0).empty());
  EXPECT_EQ(book.open_session("p1"), std::nullopt);

  const auto opened = book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, t0 + seconds(5));
  ASSERT_EQ(opened.size(), 1u);
  const std::string id =
      "p1-" + std::to_string(duration_cast<milliseconds>((t0 + seconds(5)).time_since_epoch()).count());
  EXPECT_EQ(opened[0].id, id);
  EXPECT_EQ(opened[0].charger_id, "p1");
  EXPECT_EQ(opened[0].started_at, t0 + seconds(5));
  EXPECT_EQ(opened[0].ended_at, std::nullopt);
  EXPECT_TRUE(opened[0].is_private);
  EXPECT_EQ(opened[0].max_power_w, 7000);

  // Charging, offline (unknown) and a fault keep the session; only unplugged closes it.
  book.on_snapshot("p1", snap(ChargerState::charging, 10, 7000), kOffered, t0 + seconds(10));
  book.on_snapshot("p1", snap(ChargerState::unknown, NAN, NAN), kOffered, t0 + minutes(2));
  book.on_snapshot("p1", snap(ChargerState::fault, NAN, NAN), kOffered, t0 + minutes(3));
  book.on_snapshot("p1", snap(ChargerState::plugged, 500, 0), kOffered, t0 + minutes(4));
  ASSERT_TRUE(book.open_session("p1").has_value());
  EXPECT_EQ(book.open_session("p1")->id, id);
  ASSERT_EQ(book.active(t0 + minutes(4)).size(), 1u);

  const auto closed = book.on_snapshot("p1", snap(ChargerState::unplugged, 500), kOffered, t0 + minutes(5));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, id);
  EXPECT_EQ(closed[0].ended_at, t0 + minutes(5));
  EXPECT_DOUBLE_EQ(closed[0].energy_wh, 500);
  EXPECT_EQ(book.open_session("p1"), std::nullopt);
  EXPECT_TRUE(book.active(t0 + minutes(5)).empty());

  // The next plug-in is a new session with a new id.
  const auto again = book.on_snapshot("p1", snap(ChargerState::charging), kOffered, t0 + minutes(9));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].id, id);
  // A pile the config does not know is ignored.
  EXPECT_TRUE(book.on_snapshot("nope", snap(ChargerState::plugged), kOffered, t0).empty());
}

TEST(SessionBook, ACarAlreadyPluggedAtStartOpensASession) {
  SessionBook book(config());
  const auto opened = book.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered,
                                       local(2024, 7, 8, 19, 0));
  ASSERT_EQ(opened.size(), 1u);
}

// ---- owners ---------------------------------------------------------------------------------

TEST(SessionBook, PrivatePileBelongsToItsHousehold) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  const auto r = book.on_snapshot("p1", snap(ChargerState::plugged, 0, 0, "CARD-9"), kOffered, t0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].household, "1-1-101");
  EXPECT_EQ(r[0].rfid, "CARD-9");
  ChargeRequest other;
  other.household = "9-9-909";
  try {
    book.set_request("p1", other, t0);
    FAIL() << "expected RequestError";
  } catch (const RequestError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("household"), HasSubstr("private pile of household '1-1-101'")));
  }
  ChargeRequest own;
  own.household = "1-1-101";
  own.energy_kwh = 5;
  EXPECT_EQ(book.set_request("p1", own, t0).household, "1-1-101");
}

TEST(SessionBook, SharedPileTakesTheRfidCardThenTheResidentWhoClaimsIt) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  auto r = book.on_snapshot("s1", snap(ChargerState::plugged), kOffered, t0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_FALSE(r[0].is_private);
  EXPECT_EQ(r[0].household, "");

  // The card is presented after plug-in (piles that start on a swipe): the session is the card's.
  r = book.on_snapshot("s1", snap(ChargerState::charging, 0, 100, "04A1B2"), kOffered, t0 + seconds(20));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rfid, "04A1B2");
  EXPECT_EQ(r[0].household, "rfid:04A1B2");

  ChargeRequest claim;
  claim.household = "5-1-502";
  const SessionRecord claimed = book.set_request("s1", claim, t0 + minutes(1));
  EXPECT_EQ(claimed.household, "5-1-502");
  EXPECT_EQ(claimed.rfid, "04A1B2");
  EXPECT_EQ(book.open_session("s1")->household, "5-1-502");

  ChargeRequest thief;
  thief.household = "6-6-606";
  try {
    book.set_request("s1", thief, t0 + minutes(2));
    FAIL() << "expected RequestError";
  } catch (const RequestError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("household"), HasSubstr("claimed by household '5-1-502'")));
  }
  // The claim holds when the pile reports the card again.
  book.on_snapshot("s1", snap(ChargerState::charging, 10, 7000, "04A1B2"), kOffered, t0 + minutes(3));
  EXPECT_EQ(book.open_session("s1")->household, "5-1-502");
}

TEST(SessionBook, SharedPileWithACardAtPlugInIsTheCards) {
  SessionBook book(config());
  const auto r = book.on_snapshot("s1", snap(ChargerState::plugged, 0, 0, "77"), kOffered,
                                  local(2024, 7, 8, 19, 0));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].household, "rfid:77");
  EXPECT_EQ(r[0].rfid, "77");
}

// ---- requests: defaults, learning, resident values -------------------------------------------

TEST(SessionBook, WithoutHistoryTheSiteDefaultsApply) {
  SessionBook book(config());
  const auto r = book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, local(2024, 7, 8, 19, 0));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].departure, local(2024, 7, 9, 7, 30));
  EXPECT_EQ(r[0].requested_wh, 20000);
  EXPECT_EQ(r[0].request_source, "default");
  const auto a = book.active(local(2024, 7, 8, 19, 0));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].departure, local(2024, 7, 9, 7, 30));
  EXPECT_DOUBLE_EQ(a[0].remaining_kwh, 20);

  // Plugged in the morning: today's 07:30 if at least an hour away, else tomorrow's.
  SessionBook morning(config());
  EXPECT_EQ(morning.on_snapshot("p1", snap(ChargerState::plugged), kOffered, local(2024, 7, 8, 5, 0))[0].departure,
            local(2024, 7, 8, 7, 30));
  EXPECT_EQ(morning.on_snapshot("v1", snap(ChargerState::plugged), kOffered, local(2024, 7, 8, 7, 0))[0].departure,
            local(2024, 7, 9, 7, 30));
}

TEST(SessionBook, LearnsDepartureByWeekdayAndTypicalEnergyAsMedians) {
  std::vector<SessionRecord> history;
  // Mondays 1, 8 (June) and 24 (June): plugged 19:00, left Tuesday 07:10, 07:40, 07:20.
  history.push_back(past("1-1-101", local(2024, 6, 10, 19, 0), local(2024, 6, 11, 7, 10), 8000));
  history.push_back(past("1-1-101", local(2024, 6, 17, 19, 0), local(2024, 6, 18, 7, 40), 30000));
  history.push_back(past("1-1-101", local(2024, 6, 24, 19, 0), local(2024, 6, 25, 7, 20), 10000));
  // Fridays: leaves late on Saturday.
  history.push_back(past("1-1-101", local(2024, 6, 14, 20, 0), local(2024, 6, 15, 10, 0), 12000));
  history.push_back(past("1-1-101", local(2024, 6, 21, 20, 0), local(2024, 6, 22, 10, 30), 12000));
  history.push_back(past("1-1-101", local(2024, 6, 28, 20, 0), local(2024, 6, 29, 11, 0), 12000));
  // Another household's habits do not count for this one.
  for (int d = 1; d <= 5; ++d) {
    history.push_back(past("2-2-202", local(2024, 6, d, 1, 0), local(2024, 6, d, 2, 0), 90000));
  }

  const auto plug_in = [&](TimePoint at) { return plug_in_after(history, at); };
  // Monday: the Monday median, 07:20 next morning; energy: the median of all six, 12 kWh.
  const auto monday = plug_in(local(2024, 7, 8, 18, 30));
  EXPECT_EQ(monday.departure, local(2024, 7, 9, 7, 20));
  EXPECT_EQ(monday.requested_wh, 12000);
  EXPECT_EQ(monday.request_source, "learned");

  // Friday: 10:30 on Saturday.
  EXPECT_EQ(plug_in(local(2024, 7, 12, 21, 0)).departure, local(2024, 7, 13, 10, 30));

  // Wednesday has no history of its own: all days together (07:10 07:20 07:40 10:00 10:30
  // 11:00) are no habit (their middle half spans 07:25-10:22, wider than 120 minutes) and a
  // median would be 08:50, a time this household never leaves at: the default departure, with
  // the learned energy.
  const std::vector<SessionRecord> wednesday = {plug_in(local(2024, 7, 10, 22, 0))};
  ASSERT_EQ(wednesday.size(), 1u);
  EXPECT_EQ(wednesday[0].departure, local(2024, 7, 11, 7, 30));
  EXPECT_EQ(wednesday[0].requested_wh, 12000);
  EXPECT_EQ(wednesday[0].request_source, "learned");
}

TEST(SessionBook, ScatteredDeparturesAreNoHabitUnlessTheSpreadAllowsIt) {
  // Mondays, plugged in at 15:00, gone at 17:30, 22:00, 02:00 and 06:30: no typical departure.
  std::vector<SessionRecord> history;
  history.push_back(past("1-1-101", local(2024, 6, 3, 15, 0), local(2024, 6, 3, 17, 30), 6000));
  history.push_back(past("1-1-101", local(2024, 6, 10, 15, 0), local(2024, 6, 10, 22, 0), 6000));
  history.push_back(past("1-1-101", local(2024, 6, 17, 15, 0), local(2024, 6, 18, 2, 0), 6000));
  history.push_back(past("1-1-101", local(2024, 6, 24, 15, 0), local(2024, 6, 25, 6, 30), 6000));
  const TimePoint monday = local(2024, 7, 1, 15, 0);
  const auto scattered = plug_in_after(history, monday);
  EXPECT_EQ(scattered.departure, local(2024, 7, 2, 7, 30)) << "the default, not the median 00:00";
  EXPECT_EQ(scattered.requested_wh, 6000) << "the energy is still the household's";
  EXPECT_EQ(scattered.request_source, "learned");

  // A site that trusts any median: learning_max_spread_minutes = 1440.
  Config always = config();
  always.sessions.learning_max_spread_minutes = 1440;
  EXPECT_EQ(plug_in_after(history, monday, always).departure, local(2024, 7, 2, 0, 0));
}

TEST(SessionBook, TooLittleOrTooOldHistoryFallsBackToTheDefaults) {
  std::vector<SessionRecord> history;
  history.push_back(past("1-1-101", local(2024, 7, 1, 19, 0), local(2024, 7, 2, 6, 0), 5000));
  history.push_back(past("1-1-101", local(2024, 7, 2, 19, 0), local(2024, 7, 3, 6, 0), 5000));
  // Older than learning_days (56): forgotten.
  history.push_back(past("1-1-101", local(2024, 4, 1, 19, 0), local(2024, 4, 2, 6, 0), 5000));
  history.push_back(past("1-1-101", local(2024, 4, 8, 19, 0), local(2024, 4, 9, 6, 0), 5000));
  SessionBook book(config());
  book.restore({}, history);
  const auto r = book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, local(2024, 7, 8, 19, 0));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].departure, local(2024, 7, 9, 7, 30));
  EXPECT_EQ(r[0].requested_wh, 20000);
  EXPECT_EQ(r[0].request_source, "default");

  // A third recent session (closed by the book itself) is enough.
  book.on_snapshot("p1", snap(ChargerState::unplugged, 0), kOffered, local(2024, 7, 9, 6, 0));
  const auto next = book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, local(2024, 7, 9, 19, 0));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].departure, local(2024, 7, 10, 6, 0));
  EXPECT_EQ(next[0].requested_wh, 5000);
  EXPECT_EQ(next[0].request_source, "learned");
}

TEST(SessionBook, ResidentValuesOverrideAndUnsetFieldsKeepTheirValue) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, t0);
  ChargeRequest req;
  req.departure = local(2024, 7, 9, 6, 45);
  const SessionRecord a = book.set_request("p1", req, t0 + minutes(1));
  EXPECT_EQ(a.departure, local(2024, 7, 9, 6, 45));
  EXPECT_EQ(a.requested_wh, 20000);  // the default energy stays
  EXPECT_EQ(a.request_source, "resident");

  ChargeRequest more;
  more.energy_kwh = 35.5;
  more.not_before = local(2024, 7, 8, 23, 0);
  const SessionRecord b = book.set_request("p1", more, t0 + minutes(2));
  EXPECT_EQ(b.departure, local(2024, 7, 9, 6, 45));
  EXPECT_EQ(b.requested_wh, 35500);
  EXPECT_EQ(b.not_before, local(2024, 7, 8, 23, 0));
  auto active = book.active(t0 + minutes(2));
  ASSERT_EQ(active.size(), 1u);
  EXPECT_DOUBLE_EQ(active[0].remaining_kwh, 35.5);
  EXPECT_EQ(active[0].not_before, local(2024, 7, 8, 23, 0));
  EXPECT_FALSE(active[0].boost);
  // Once passed, not_before no longer holds the car back.
  EXPECT_EQ(book.active(local(2024, 7, 8, 23, 1))[0].not_before, std::nullopt);

  // A past not_before clears it; boost then goes through.
  ChargeRequest now_please;
  now_please.not_before = t0;
  now_please.boost = true;
  const SessionRecord c = book.set_request("p1", now_please, t0 + minutes(3));
  EXPECT_EQ(c.not_before, std::nullopt);
  EXPECT_TRUE(c.boost);
  EXPECT_TRUE(book.active(t0 + minutes(3))[0].boost);
}

// ---- request validation ---------------------------------------------------------------------

std::string request_error(SessionBook& book, const std::string& charger, const ChargeRequest& r,
                          TimePoint now) {
  try {
    book.set_request(charger, r, now);
  } catch (const RequestError& e) {
    return e.what();
  }
  return "";
}

TEST(SessionBook, RequestsOutOfRangeNameTheFieldAndWhatIsAccepted) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  ChargeRequest any;
  any.energy_kwh = 10;
  EXPECT_THAT(request_error(book, "p1", any, t0), AllOf(HasSubstr("no car is plugged into 'p1'")));
  EXPECT_THAT(request_error(book, "zz", any, t0),
              AllOf(HasSubstr("charger: 'zz' is not a configured charger")));
  book.on_snapshot("p1", snap(ChargerState::plugged), kOffered, t0);
  const SessionRecord before = *book.open_session("p1");

  ChargeRequest past_departure;
  past_departure.departure = t0 - minutes(1);
  EXPECT_THAT(request_error(book, "p1", past_departure, t0),
              AllOf(HasSubstr("departure: 2024-07-08 18:59 (UTC+08:00) is not accepted"),
                    HasSubstr("after now (2024-07-08 19:00 (UTC+08:00)) and within 7 days")));
  ChargeRequest far_departure;
  far_departure.departure = t0 + days(7) + minutes(1);
  EXPECT_THAT(request_error(book, "p1", far_departure, t0), HasSubstr("within 7 days"));

  for (double bad : {0.0, -3.0, 150.5, static_cast<double>(NAN)}) {
    ChargeRequest energy;
    energy.energy_kwh = bad;
    EXPECT_THAT(request_error(book, "p1", energy, t0),
                AllOf(HasSubstr("energy_kwh: "), HasSubstr("give more than 0 and at most 150 kWh")))
        << bad;
  }
  ChargeRequest max_energy;
  max_energy.energy_kwh = 150;
  EXPECT_EQ(request_error(book, "p1", max_energy, t0), "");

  ChargeRequest late_start;
  late_start.departure = local(2024, 7, 9, 7, 0);
  late_start.not_before = local(2024, 7, 9, 7, 0);
  EXPECT_THAT(request_error(book, "p1", late_start, t0),
              HasSubstr("not_before: 2024-07-09 07:00 (UTC+08:00) is not before the departure "
                        "2024-07-09 07:00 (UTC+08:00); give an earlier time, or a later departure"));

  ChargeRequest both;
  both.boost = true;
  both.not_before = local(2024, 7, 8, 23, 0);
  EXPECT_THAT(request_error(book, "p1", both, t0),
              HasSubstr("boost: \"charge now\" cannot be combined with not_before 2024-07-08 23:00"));

  // Nothing of a refused request was taken.
  const SessionRecord after = *book.open_session("p1");
  EXPECT_EQ(after.departure, before.departure);
  EXPECT_EQ(after.not_before, std::nullopt);
  EXPECT_FALSE(after.boost);
  EXPECT_EQ(after.requested_wh, 150000);  // the one accepted request
}

// ---- energy and settlement ------------------------------------------------------------------

TEST(SessionBook, SettlementAcrossATariffEdgeEqualsSettlingTheWholeSeries) {
  SessionBook book(config());
  // 22:40 -> 23:25 local: peak until 23:00, valley after; readings every 7 s at about 7 kW with
  // some jitter, so cuts fall inside reading intervals.
  const TimePoint t0 = local(2024, 7, 8, 22, 40, 3);
  std::vector<EnergyReading> series;
  book.on_snapshot("p1", snap(ChargerState::plugged, 0, 0), kOffered, t0);
  series.push_back({t0, 0});
  double energy = 0;
  SessionRecord last_persisted;
  int records = 0;
  for (int i = 1; i <= 400; ++i) {
    const TimePoint t = t0 + seconds(7 * i);
    energy += 7000.0 * 7 / 3600 * (1 + 0.1 * ((i * 37) % 11 - 5) / 5.0);
    const auto out = book.on_snapshot("p1", snap(ChargerState::charging, energy, 7000), kOffered, t);
    records += static_cast<int>(out.size());
    series.push_back({t, energy});
  }
  // At most one progress record a minute: 400 x 7 s = 46.7 min.
  EXPECT_LE(records, 47);
  EXPECT_GE(records, 40);
  const TimePoint end = t0 + seconds(7 * 401);
  const auto closed = book.on_snapshot("p1", snap(ChargerState::unplugged, energy + 3), kOffered, end);
  series.push_back({end, energy + 3});
  ASSERT_EQ(closed.size(), 1u);

  SessionRecord whole;
  apply_settlement(whole, settle(config().tariff, kOffset, series, 0.5));
  const SessionRecord& r = closed[0];
  EXPECT_NEAR(r.energy_wh, whole.energy_wh, 1e-6);
  for (int p = 0; p < kPeriodCount; ++p) EXPECT_NEAR(r.energy_wh_by_period[p], whole.energy_wh_by_period[p], 1e-6);
  EXPECT_GT(r.energy_wh_by_period[period_index(Period::peak)], 2000);
  EXPECT_GT(r.energy_wh_by_period[period_index(Period::valley)], 2000);
  EXPECT_DOUBLE_EQ(r.cost_yuan, whole.cost_yuan);
  EXPECT_EQ(r.discharged_wh, 0);
  EXPECT_EQ(r.last_reading_at, end);
  EXPECT_EQ(r.last_reading_wh, energy + 3);
}

TEST(SessionBook, PowerIsIntegratedWhenThePileHasNoSessionCounter) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);  // flat all along
  book.on_snapshot("p1", snap(ChargerState::charging, NAN, 7000), kOffered, t0);
  for (int i = 1; i <= 60; ++i) {
    book.on_snapshot("p1", snap(ChargerState::charging, NAN, i <= 30 ? 7000 : 3500), kOffered,
                     t0 + minutes(i));
  }
  const auto r = book.on_snapshot("p1", snap(ChargerState::unplugged, NAN, 0), kOffered, t0 + minutes(61));
  ASSERT_EQ(r.size(), 1u);
  // Each reading's power runs until the next: 7 kW for minutes 0-31, 3.5 kW for 31-61.
  EXPECT_NEAR(r[0].energy_wh, 7000.0 * 31 / 60 + 3500.0 * 30 / 60, 1e-6);
  EXPECT_NEAR(r[0].cost_yuan, round_yuan(r[0].energy_wh / 1000 * 0.6), 1e-9);
}

TEST(SessionBook, ACounterResetOnAOneWayPileIsNotDischarge) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);
  book.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  book.on_snapshot("p1", snap(ChargerState::charging, 1000, 7000), kOffered, t0 + minutes(10));
  // The pile restarted and counts from zero again.
  book.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered, t0 + minutes(11));
  book.on_snapshot("p1", snap(ChargerState::charging, 500, 7000), kOffered, t0 + minutes(15));
  const auto r = *book.open_session("p1");
  EXPECT_DOUBLE_EQ(r.energy_wh, 1500);
  EXPECT_EQ(r.discharged_wh, 0);
}

TEST(SessionBook, V2GDischargeIsCompensatedAndDeductedFromTheCost) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);  // flat: 0.6 yuan/kWh
  book.on_snapshot("v1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  book.on_snapshot("v1", snap(ChargerState::charging, 10000, 7000), kOffered, t0 + hours(1));
  // Gives 4 kWh back over the next hour (the counter is net of energy given back).
  book.on_snapshot("v1", snap(ChargerState::charging, 6000, -4000), kOffered, t0 + hours(2));
  const auto r = book.on_snapshot("v1", snap(ChargerState::unplugged, 6000, 0), kOffered, t0 + hours(3));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].energy_wh, 6000);
  EXPECT_DOUBLE_EQ(r[0].discharged_wh, 4000);
  EXPECT_DOUBLE_EQ(r[0].compensation_yuan, 2.0);      // 4 kWh x 0.5
  EXPECT_DOUBLE_EQ(r[0].cost_yuan, 10 * 0.6 - 2.0);   // charged 10 kWh at flat, minus compensation
  EXPECT_DOUBLE_EQ(r[0].energy_wh_by_period[period_index(Period::flat)], 10000);
}

TEST(SessionBook, ACounterZeroedAtUnplugIsNotDischargeEvenOnAV2GPile) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);
  book.on_snapshot("v1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  book.on_snapshot("v1", snap(ChargerState::charging, 7000, 7000), kOffered, t0 + hours(1));
  const auto r = book.on_snapshot("v1", snap(ChargerState::unplugged, 0, 0), kOffered, t0 + hours(1) + seconds(5));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_DOUBLE_EQ(r[0].energy_wh, 7000);
  EXPECT_EQ(r[0].discharged_wh, 0);
}

// ---- full, met ------------------------------------------------------------------------------

TEST(SessionBook, ACarThatStopsDrawingWithPowerOfferedIsFull) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);
  book.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  // Offered less than the pile's minimum (6 A x 230 V = 1380 W): not judged.
  for (int i = 1; i <= 5; ++i) {
    book.on_snapshot("p1", snap(ChargerState::plugged, 100, 0), 1000, t0 + minutes(i));
  }
  EXPECT_FALSE(book.active(t0 + minutes(5))[0].full);
  // Offered 7 kW and drawing 40 W: full after 3 minutes.
  std::vector<SessionRecord> out;
  for (int s = 0; s <= 180; s += 10) {
    out = book.on_snapshot("p1", snap(ChargerState::plugged, 100, 40), kOffered, t0 + minutes(6) + seconds(s));
    if (s < 180) {
      EXPECT_FALSE(book.active(t0)[0].full) << s;
    }
  }
  const auto a = book.active(t0 + minutes(9));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].full);
  EXPECT_EQ(a[0].remaining_kwh, 0);
  ASSERT_EQ(out.size(), 1u);  // met_at changed: persisted at once
  EXPECT_EQ(out[0].met_at, t0 + minutes(9));
  // It draws again (preconditioning, a top-up): not full any more.
  book.on_snapshot("p1", snap(ChargerState::charging, 110, 3000), kOffered, t0 + minutes(10));
  EXPECT_FALSE(book.active(t0 + minutes(10))[0].full);
}

TEST(SessionBook, MetWhenDeliveredReachesTheRequest) {
  SessionBook book(config());
  const TimePoint t0 = local(2024, 7, 8, 12, 0);
  book.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  ChargeRequest req;
  req.energy_kwh = 2;
  book.set_request("p1", req, t0);
  book.on_snapshot("p1", snap(ChargerState::charging, 1998.5, 7000), kOffered, t0 + minutes(10));
  EXPECT_EQ(book.open_session("p1")->met_at, std::nullopt);
  const auto out = book.on_snapshot("p1", snap(ChargerState::charging, 1999.2, 7000), kOffered, t0 + minutes(11));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].met_at, t0 + minutes(11));
  EXPECT_EQ(book.active(t0 + minutes(11))[0].remaining_kwh, 0);
  // A larger request is not met any more.
  req.energy_kwh = 5;
  const SessionRecord raised = book.set_request("p1", req, t0 + minutes(12));
  EXPECT_EQ(raised.met_at, std::nullopt);
  EXPECT_NEAR(book.active(t0 + minutes(12))[0].remaining_kwh, 5 - 1.9992, 1e-9);
}

// ---- restart ---------------------------------------------------------------------------------

TEST(SessionBook, RestoreResumesTheSameSessionWithItsRequestAndSettledTotals) {
  const TimePoint t0 = local(2024, 7, 8, 22, 30);
  SessionBook before(config());
  before.on_snapshot("s1", snap(ChargerState::plugged, 0, 0, "04A1"), kOffered, t0);
  ChargeRequest req;
  req.household = "5-1-502";
  req.departure = local(2024, 7, 9, 6, 0);
  req.energy_kwh = 30;
  before.set_request("s1", req, t0 + seconds(30));
  double energy = 0;
  for (int i = 1; i <= 60; ++i) {
    energy += 11000.0 / 60;
    before.on_snapshot("s1", snap(ChargerState::charging, energy, 11000, "04A1"), kOffered, t0 + minutes(i));
  }
  // What the store holds at the moment of the kill.
  const SessionRecord persisted = *before.open_session("s1");
  std::vector<SessionRecord> history = {
      past("1-1-101", local(2024, 7, 1, 19, 0), local(2024, 7, 2, 6, 0), 5000)};

  SessionBook after(config());
  after.restore({persisted}, history);
  const auto resumed = after.open_session("s1");
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->id, persisted.id);
  EXPECT_EQ(resumed->household, "5-1-502");
  EXPECT_EQ(resumed->departure, local(2024, 7, 9, 6, 0));
  EXPECT_EQ(resumed->requested_wh, 30000);
  EXPECT_EQ(resumed->request_source, "resident");
  EXPECT_EQ(resumed->energy_wh_by_period, persisted.energy_wh_by_period);
  EXPECT_EQ(resumed->cost_yuan, persisted.cost_yuan);
  EXPECT_EQ(resumed->last_reading_at, persisted.last_reading_at);
  const auto a = after.active(t0 + minutes(61));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].session_id, persisted.id);
  EXPECT_NEAR(a[0].remaining_kwh, 30 - 11, 1e-9);

  // Both books see the same future: the plug-in is not re-detected, totals continue alike, and
  // the claim survives the restart.
  for (int i = 61; i <= 90; ++i) {
    energy += 11000.0 / 60;
    const auto s = snap(ChargerState::charging, energy, 11000, "04A1");
    before.on_snapshot("s1", s, kOffered, t0 + minutes(i));
    const auto out = after.on_snapshot("s1", s, kOffered, t0 + minutes(i));
    for (const auto& r : out) EXPECT_EQ(r.id, persisted.id);
  }
  const auto end = snap(ChargerState::unplugged, energy, 0);
  const auto x = before.on_snapshot("s1", end, kOffered, t0 + minutes(91));
  const auto y = after.on_snapshot("s1", end, kOffered, t0 + minutes(91));
  ASSERT_EQ(x.size(), 1u);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].id, x[0].id);
  EXPECT_EQ(y[0].household, "5-1-502");
  EXPECT_NEAR(y[0].energy_wh, x[0].energy_wh, 1e-6);
  for (int p = 0; p < kPeriodCount; ++p) EXPECT_NEAR(y[0].energy_wh_by_period[p], x[0].energy_wh_by_period[p], 1e-6);
  // The unrounded running cost restarts from its rounded value: at most half a fen apart.
  EXPECT_NEAR(y[0].cost_yuan, x[0].cost_yuan, 0.01 + 1e-9);
  EXPECT_EQ(y[0].met_at, x[0].met_at);
  EXPECT_EQ(y[0].ended_at, x[0].ended_at);
}

TEST(SessionBook, EnergyChargedWhileTheGatewayWasDownIsSettledAfterRestore) {
  const TimePoint t0 = local(2024, 7, 8, 12, 0);
  SessionBook before(config());
  before.on_snapshot("p1", snap(ChargerState::charging, 0, 7000), kOffered, t0);
  before.on_snapshot("p1", snap(ChargerState::charging, 1000, 7000), kOffered, t0 + minutes(10));
  const SessionRecord persisted = *before.open_session("p1");
  SessionBook after(config());
  after.restore({persisted}, {});
  // Down for 20 minutes; the pile kept counting.
  EXPECT_TRUE(after.on_snapshot("p1", snap(ChargerState::charging, 3000, 7000), kOffered, t0 + minutes(30)).size() <= 1);
  const auto r = *after.open_session("p1");
  EXPECT_DOUBLE_EQ(r.energy_wh, 3000);
  EXPECT_DOUBLE_EQ(r.cost_yuan, round_yuan(3.0 * 0.6));
}

TEST(SessionBook, RestoreKeepsTheNewerOfTwoOpenSessionsAndDropsRemovedPiles) {
  const TimePoint t0 = local(2024, 7, 8, 19, 0);
  SessionRecord older;
  older.id = "p1-1";
  older.charger_id = "p1";
  older.household = "1-1-101";
  older.started_at = t0 - hours(30);
  older.departure = t0 - hours(20);
  older.requested_wh = 10000;
  older.request_source = "default";
  SessionRecord newer = older;
  newer.id = "p1-2";
  newer.started_at = t0 - hours(1);
  newer.departure = t0 + hours(12);
  SessionRecord removed = older;
  removed.id = "gone-1";
  removed.charger_id = "gone";
  SessionBook book(config());
  book.restore({newer, removed, older}, {});
  ASSERT_EQ(book.open_sessions().size(), 1u);
  EXPECT_EQ(book.open_session("p1")->id, "p1-2");
  // A restored session from before schema 3 (no request stored) gets one.
  SessionRecord schema2;
  schema2.id = "s1-9";
  schema2.charger_id = "s1";
  schema2.is_private = false;
  schema2.started_at = local(2024, 7, 8, 20, 0);
  book.restore({schema2}, {});
  const auto r = book.open_session("s1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->departure, local(2024, 7, 9, 7, 30));
  EXPECT_EQ(r->requested_wh, 20000);
  EXPECT_EQ(r->request_source, "default");
  EXPECT_EQ(book.open_session("p1"), std::nullopt);  // restore replaces what the book held
}

TEST(SessionBook, AClaimRelearnsTheRequestFromTheClaimingHouseholdsHabits) {
  std::vector<SessionRecord> history;
  for (int d : {1, 2, 3}) {
    history.push_back(past("5-1-502", local(2024, 7, d, 20, 0), local(2024, 7, d + 1, 6, 15), 9000));
  }
  SessionBook book(config());
  book.restore({}, history);
  const TimePoint t0 = local(2024, 7, 8, 21, 0);
  const auto opened = book.on_snapshot("s1", snap(ChargerState::plugged), kOffered, t0);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].request_source, "default");
  ChargeRequest claim;
  claim.household = "5-1-502";
  const SessionRecord claimed = book.set_request("s1", claim, t0 + minutes(1));
  EXPECT_EQ(claimed.request_source, "learned");
  EXPECT_EQ(claimed.departure, local(2024, 7, 9, 6, 15));
  EXPECT_EQ(claimed.requested_wh, 9000);
}

TEST(SessionBook, RecordsThroughTheStoreRestoreTheSameSessions) {
  orderly::test::TempDir dir;
  const TimePoint t0 = local(2024, 7, 8, 22, 50);
  SessionBook before(config());
  {
    Store store(dir / "orderly.db");
    std::vector<StoreRecord> written;
    const auto keep = [&](const std::vector<SessionRecord>& records) {
      for (const auto& r : records) written.push_back(StoreRecord{r});
    };
    keep(before.on_snapshot("p1", snap(ChargerState::plugged, 0, 0, "C1"), kOffered, t0));
    ChargeRequest req;
    req.energy_kwh = 12;
    req.not_before = local(2024, 7, 8, 23, 0);
    written.push_back(StoreRecord{before.set_request("p1", req, t0)});
    keep(before.on_snapshot("v1", snap(ChargerState::charging, 0, 7000), kOffered, t0));
    for (int i = 1; i <= 30; ++i) {
      keep(before.on_snapshot("v1", snap(ChargerState::charging, 7000.0 * i / 60, 7000), kOffered,
                              t0 + minutes(i)));
    }
    store.write(written);
  }
  Store store(dir / "orderly.db");
  SessionBook after(config());
  after.restore(store.open_sessions(), store.closed_sessions(t0 - days(56)));
  for (const std::string id : {"p1", "v1"}) {
    const auto a = before.open_session(id);
    const auto b = after.open_session(id);
    ASSERT_TRUE(a && b) << id;
    EXPECT_EQ(b->id, a->id);
    EXPECT_EQ(b->household, a->household);
    EXPECT_EQ(b->rfid, a->rfid);
    EXPECT_EQ(b->departure, a->departure);
    EXPECT_EQ(b->requested_wh, a->requested_wh);
    EXPECT_EQ(b->request_source, a->request_source);
    EXPECT_EQ(b->not_before, a->not_before);
    EXPECT_EQ(b->energy_wh_by_period, a->energy_wh_by_period);
    EXPECT_EQ(b->cost_yuan, a->cost_yuan);
    EXPECT_EQ(b->last_reading_at, a->last_reading_at);
    EXPECT_EQ(b->last_reading_wh, a->last_reading_wh);
  }
  EXPECT_EQ(after.active(t0).size(), 2u);
}

// ---- configuration --------------------------------------------------------------------------

TEST(SessionsConfig, ShippedExampleAndDefaults) {
  const Config shipped = load_config(orderly::test::source_dir() / "packaging" / "orderly.toml");
  EXPECT_EQ(shipped.sessions.default_departure_minute, 7 * 60 + 30);
  EXPECT_EQ(shipped.sessions.learning_days, 56);
  EXPECT_EQ(shipped.sessions.learning_min_sessions, 3);
  // The test site without its [sessions] section.
  const std::string site = kConfig;
  const Config c = parse_config(site.substr(0, site.find("[sessions]")), "defaults.toml");
  EXPECT_EQ(c.sessions.default_departure_text, "07:30");
  EXPECT_EQ(c.sessions.default_departure_minute, 7 * 60 + 30);
  EXPECT_EQ(c.sessions.default_energy_kwh, 20);
  EXPECT_EQ(c.sessions.learning_days, 56);
  EXPECT_EQ(c.sessions.discharge_price_yuan_per_kwh, 0);
}

TEST(SessionsConfig, BadValuesAreReportedWithFileAndLine) {
  std::string text = kConfig;
  text.replace(text.find("default_departure = \"07:30\""), 27, "default_departure = \"7.30\"");
  text.replace(text.find("learning_min_sessions = 3"), 25, "learning_min_sessions = 0");
  text += "learning_dayz = 3\n";
  try {
    parse_config(text, "site.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 3u) << e.what();
    EXPECT_THAT(e.errors()[0], AllOf(HasSubstr("site.toml:"), HasSubstr("sessions.default_departure"),
                                     HasSubstr("\"HH:MM\""), HasSubstr("got \"7.30\"")));
    EXPECT_THAT(e.errors()[1], AllOf(HasSubstr("sessions.learning_min_sessions"),
                                     HasSubstr("between 1 and 1000")));
    EXPECT_THAT(e.errors()[2], AllOf(HasSubstr("unknown key 'learning_dayz' in [sessions]"),
                                     HasSubstr("did you mean 'learning_days'?")));
  }
}

}  // namespace
}  // namespace orderly::gateway

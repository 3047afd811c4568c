// Issue 5, the week check: a residential community's week on an accelerated clock, end to end
// through real Mosquitto, simulated piles and transformer meter (their own MQTT clients), the
// gateway core with its web API and SQLite store. Cars come and go as the demo's community does
// (demo::generate_visits, fitted to a dataset of apartment-building charging), households draw
// the demo's base load (demo::base_load_w), and some residents set their request from the phone
// (HTTP PUT /api/v1/chargers/<id>/request); the others get the gateway's defaults.
//
// Asserted, as the issue words them:
// - zero minutes above the transformer limit: per simulated minute, the highest total the
//   simulated meter published (base load + what the piles report drawing) is at most the limit;
// - every feasible request met: a resident's request is feasible when its energy fits between
//   plug-in and the requested departure at the pile's maximum power, less one 15-minute slot of
//   slack (plans are made per slot), and with the transformer headroom the base load alone leaves
//   at its highest during that stay (limit - safety margin - base load) when that is below the
//   pile's maximum. Met = the car had at least the requested energy at the requested departure
//   (read from the simulated pile itself at that simulated instant), within 0.1 kWh;
// - private-pile valley share >= 80 % under the demo's tariff (valley 23:00-07:00), as the team
//   defined it: valley energy of private-pile sessions / their charging energy, from settlement;
// - sessions and settlement persisted: one row per visit, energies match what the piles
//   delivered, costs > 0, the by-period split sums to the energy and prices to the cost.
//
// Clock speed and the settings that follow from it (see kSpeed below).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo_community.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/sim/timeline.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/log.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "system_support.hpp"

namespace orderly {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using sim::MeterReading;
using sim::MosquittoBroker;
using sim::SimChargerOptions;
using sim::SimMqttCharger;
using sim::SimMqttMeter;
namespace demo = gateway::demo;

// 3000 simulated seconds per real second: the week takes 202 s of real time. Everything real-time
// in the loop (MQTT round trips, the core thread's scheduling) is stretched 3000 times, so a 10 ms
// hiccup is 30 simulated seconds; the settings below are chosen for that.
constexpr double kSpeed = 3000;
constexpr auto kWeek = days(7);
constexpr auto kUtcOffset = hours(8);
constexpr int kPiles = 16;                     // 13 private, 3 shared (every 5th from the 3rd)
constexpr double kPileW = 7000;
// 16 x 7 = 112 kW of piles on a 120 kW evening base-load peak: uncontrolled, these visits put
// the transformer over its limit for 31 minutes of the week, up to 158 kW (computed and asserted
// below).
constexpr double kLimitKw = 150;
constexpr double kBasePeakW = 120'000;
constexpr double kMarginKw = 5;
// The meter publishes every 10 ms of real time (30 simulated seconds), so nearly every simulated
// minute has a reading even when the box is busy (a minute without one keeps the previous
// reading, and fewer than 1 % may); the piles report every 200 ms (10 simulated minutes) and at once on a new limit.
constexpr auto kMeterPeriod = 10ms;
constexpr auto kPilePeriod = 200ms;
// Limits are valid for the most the config allows, 3600 simulated seconds = 1.2 s of real time;
// the gateway refreshes them at half that. The control tick is 60 simulated seconds (the
// gateway never ticks faster than 4 Hz real, i.e. every 750 simulated seconds here, but it also
// steps on every meter reading).
constexpr int kLimitValidityS = 3600;
constexpr double kControlPeriodS = 60;

bool is_shared(int pile) { return pile % 5 == 2; }
std::string pile_id(int pile) {
  char id[16];
  std::snprintf(id, sizeof id, "p-%02d", pile + 1);
  return id;
}
std::string household(int pile) { return "1-" + std::to_string(pile / 8 + 1) + "-" + std::to_string(101 + pile); }
// Who sets a request from the phone. Residents of the even-numbered private piles (p-02, p-04,
// ...) say when they need the car the next morning when they come home for the night (arrival
// from 14:00 to 02:00, departure 05:00-12:00), as the "ready by 07:30" form is meant to be used;
// the household on p-04 sets one for every stay, daytime ones too; everyone else gets the
// gateway's defaults. Why not more daytime requests: in this visit mix (fitted to real
// apartment-building sessions) about half the private piles' energy falls in stays that never
// touch the valley: if every car got all it wants the valley share could be 51 % at best, and
// with a daytime request on every other private pile about 70 % at best; the 80 % target would
// then measure the residents, not the gateway. With the requests below and defaults charged in
// the valley only, 89 % is reachable (same visits, computed offline). Measured: about 83 %, the
// rest being p-04's daytime requests (about 59 kWh: the resident's choice; the test prints the
// split by request source). The visits are drawn independently, so the households have no
// habits to learn: learned departures must fall back to the default (docs/sessions.md).
bool resident_sets_request(const demo::Visit& v) {
  if (is_shared(v.charger)) return false;
  const auto stay = v.depart - v.arrive;
  if (stay < 1h || stay > 23h) return false;  // "HH:MM" names a time within the next 24 h
  if (v.charger == 3) return true;
  const auto local_minute = [](TimePoint t) { return floor<minutes>(t.time_since_epoch() + kUtcOffset).count() % 1440; };
  const auto arrive = local_minute(v.arrive), depart = local_minute(v.depart);
  return v.charger % 2 == 1 && (arrive >= 14 * 60 || arrive < 2 * 60) && depart >= 5 * 60 && depart <= 12 * 60;
}

std::string week_config(int mqtt_port, const std::filesystem::path& db) {
  std::ostringstream t;
  t << "[site]\nname = \"week test\"\nutc_offset = \"+08:00\"\n"
    << "[site.transformer]\nid = \"transformer\"\nlimit_kw = " << kLimitKw << "\n"
    // The demo's tariff (gateway/src/cmd_demo.cpp): an illustrative Chinese TOU tariff,
    // valley 23:00-07:00, sharp peak 19:00-21:00 in January.
    << "[[tariff.schedule]]\neffective_from = 2020-01-01\n"
    << "[[tariff.schedule.season]]\nname = \"all-year\"\nmonths = [1,2,3,4,5,6,7,8,9,10,11,12]\n"
    << "sharp_months = [7, 8, 12, 1]\n"
    << "[tariff.schedule.season.price_yuan_per_kwh]\nsharp = 1.25\npeak = 1.02\nflat = 0.62\nvalley = 0.30\n"
    << "[tariff.schedule.season.hours]\nsharp = [\"19:00-21:00\"]\npeak = [\"08:00-11:00\", \"18:00-23:00\"]\n"
    << "flat = [\"07:00-08:00\", \"11:00-18:00\"]\nvalley = [\"23:00-07:00\"]\n"
    << "[mqtt]\nhost = \"127.0.0.1\"\nport = " << mqtt_port << "\n"
    << "[control]\nslot_minutes = 15\ncontrol_period_s = " << kControlPeriodS << "\nlimit_validity_s = " << kLimitValidityS
    << "\nfailsafe_timeout_s = " << kLimitValidityS << "\nsafety_margin_kw = " << kMarginKw << "\n"
    << "[web]\nlisten = \"127.0.0.1\"\nport = " << test::free_tcp_port() << "\n"
    << "[store]\npath = \"" << db.string() << "\"\n"
    << "[log]\nlevel = \"warn\"\n"
    << "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n";
  const char* phases[] = {"A", "B", "C"};
  for (int i = 0; i < kPiles; ++i) {
    t << "[[charger]]\nid = \"" << pile_id(i) << "\"\nkind = \"" << (is_shared(i) ? "shared" : "private") << "\"\n";
    if (!is_shared(i)) t << "household = \"" << household(i) << "\"\n";
    t << "phase = \"" << phases[i % 3] << "\"\ndriver = \"mqtt\"\nmax_power_kw = " << kPileW / 1000 << "\n";
  }
  return t.str();
}

// "HH:MM" local, as the phone form sends a departure.
std::string local_hhmm(TimePoint t) {
  const auto local = floor<minutes>(t.time_since_epoch() + kUtcOffset).count() % 1440;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(local / 60), static_cast<int>(local % 60));
  return buf;
}

// What happened to one visit, as the community (the outside world) saw it.
struct VisitLog {
  demo::Visit visit;
  bool plugged = false;
  bool unplugged = false;
  // A resident's request, when one was set.
  bool has_request = false;
  TimePoint requested_departure{};
  double requested_kwh = 0;
  int request_status = 0;       // HTTP status of the last attempt
  std::string request_error;
  double energy_at_departure_wh = -1;  // read from the pile at the requested departure
  double energy_at_unplug_wh = -1;
};

// The visits as the residents play them on the accelerated clock: plug cars in, set requests
// over HTTP, read the pile at the requested departure, unplug at the visit's end.
class Community {
 public:
  Community(std::vector<SimMqttCharger*> piles, std::vector<VisitLog>& log, std::string api_base)
      : piles_(std::move(piles)), log_(log), api_(std::move(api_base)) {}

  // At equal times a car is read before it leaves, and leaves before the next plugs in.
  std::vector<sim::Timeline::Event> events() {
    std::vector<sim::Timeline::Event> out;
    for (int pass = 0; pass < 3; ++pass)
      for (auto& v : log_) {
        auto* pile = piles_[static_cast<std::size_t>(v.visit.charger)];
        if (pass == 0 && v.has_request)
          out.push_back({v.requested_departure, [&v, pile] { v.energy_at_departure_wh = pile->session_energy_wh(); }});
        if (pass == 1)
          out.push_back({v.visit.depart, [&v, pile] {
                           v.energy_at_unplug_wh = pile->session_energy_wh();
                           pile->unplug();
                           v.unplugged = true;
                         }});
        if (pass == 2)
          out.push_back({v.visit.arrive, [this, &v, pile] {
                           pile->plug_in(v.visit.energy_wh, kPileW);
                           v.plugged = true;
                           if (v.has_request) set_request(v);
                         }});
      }
    return out;
  }

 private:
  // As a resident would: the session may not be open yet the instant the car is plugged in, so
  // try again for a moment (1 s of real time, 50 simulated minutes) until it is taken.
  void set_request(VisitLog& v) {
    const std::string url = api_ + "/api/v1/chargers/" + pile_id(v.visit.charger) + "/request";
    char body[96];
    std::snprintf(body, sizeof body, R"({"departure":"%s","energy_kwh":%.1f})", local_hhmm(v.requested_departure).c_str(),
                  v.requested_kwh);
    test::wait_until([&] {
      const auto r = test::http("PUT", url, body, 2000);
      v.request_status = static_cast<int>(r.status);
      v.request_error = r.status ? r.body : r.error;
      return r.status >= 200 && r.status < 300;
    }, 1s);
  }

  std::vector<SimMqttCharger*> piles_;
  std::vector<VisitLog>& log_;
  std::string api_;
};

double price(scheduler::Period p) {
  switch (p) {
    case scheduler::Period::sharp: return 1.25;
    case scheduler::Period::peak: return 1.02;
    case scheduler::Period::flat: return 0.62;
    case scheduler::Period::valley: return 0.30;
  }
  return 0;
}

TEST(Week, CommunityWeekStaysUnderTheLimitMeetsRequestsAndChargesPrivateCarsInTheValley) {
  const auto real_start = steady_clock::now();
  test::TempDir dir;
  auto broker = MosquittoBroker::start();

  // Monday 5 January 2026, 12:00 local: the first evening comes after a few real seconds.
  const TimePoint start = sys_days(2026y / January / 5) + hours(12) - kUtcOffset;
  const TimePoint end = start + kWeek;
  AcceleratedClock clock(start, kSpeed);

  const auto config = gateway::parse_config(week_config(broker->port(), dir / "orderly.db"), "week.toml");
  gateway::init_logging(config.log);
  test::add_test_operator(dir / "orderly.db");
  test::RunningGateway site(clock, config);
  const std::string api = site.web_url();

  std::mutex readings_mutex;
  std::vector<MeterReading> readings;
  readings.reserve(20'000);
  SimMqttMeter meter("tm-1", "127.0.0.1", broker->port(), clock,
                     [](TimePoint t) { return demo::base_load_w(t, kUtcOffset, kBasePeakW); }, kMeterPeriod);
  meter.on_reading([&](const MeterReading& r) {
    std::lock_guard lock(readings_mutex);
    readings.push_back(r);
  });
  meter.start();
  std::vector<std::unique_ptr<SimMqttCharger>> piles;
  std::vector<SimMqttCharger*> pile_ptrs;
  for (int i = 0; i < kPiles; ++i) {
    SimChargerOptions o;
    o.id = pile_id(i);
    o.port = broker->port();
    o.max_power_w = kPileW;
    o.publish_period = kPilePeriod;
    piles.push_back(std::make_unique<SimMqttCharger>(o, clock));
    piles.back()->start();
    pile_ptrs.push_back(piles.back().get());
  }

  // Every device connected and seen online by the gateway before the first car comes: the
  // first two simulated hours (2.4 s of real time) are for starting up.
  const TimePoint first_arrival = start + 2h;
  ASSERT_TRUE(test::wait_until([&] {
    if (!meter.connected()) return false;
    for (auto& p : piles)
      if (!p->connected()) return false;
    const auto r = test::http("GET", api + "/api/v1/status", "", 500);
    if (r.status != 200) return false;
    const auto st = nlohmann::json::parse(r.body, nullptr, false);
    if (!st.contains("chargers") || st["chargers"].size() != static_cast<std::size_t>(kPiles)) return false;
    for (const auto& c : st["chargers"])
      if (!c.value("online", false)) return false;
    return st.contains("site") && st["site"].value("meter_online", false);
  }, 10s)) << "devices did not come online";
  ASSERT_LT(clock.now(), first_arrival) << "start-up took longer than the warm-up";

  // The visits, and the residents' requests: departure 15 minutes before the car really leaves,
  // the energy the car wants.
  std::vector<VisitLog> visits;
  for (const auto& v : demo::generate_visits(kPiles, kPileW, first_arrival, end, kUtcOffset, 20260105)) {
    VisitLog l;
    l.visit = v;
    if (resident_sets_request(v) && v.energy_wh >= 1000) {
      l.has_request = true;
      l.requested_departure = floor<minutes>(v.depart - 15min);
      l.requested_kwh = std::floor(v.energy_wh / 100.0) / 10.0;
    }
    visits.push_back(l);
  }
  {
    Community residents(pile_ptrs, visits, api);
    std::optional<sim::Timeline> community;
    community.emplace(clock, residents.events());
    ASSERT_TRUE(test::wait_until([&] { return clock.now() >= end; }, duration_cast<milliseconds>(clock.real_wait(kWeek)) + 30s));
    const auto lag = community->worst_lag();
    community.reset();
    std::printf("community events lagged the clock by at most %.0f simulated s\n", duration<double>(lag).count());
  }
  meter.stop();
  for (auto& p : piles) p->stop();
  site.stop();

  // ---- zero minutes above the limit, per simulated minute, from what the meter published
  const double limit_w = kLimitKw * 1000;
  std::map<std::int64_t, double> max_by_minute;  // minute index since start -> highest reading
  for (const auto& r : readings) {
    if (r.at < start || r.at >= end) continue;
    const auto m = duration_cast<minutes>(r.at - start).count();
    auto [it, fresh] = max_by_minute.emplace(m, r.power_w);
    if (!fresh) it->second = std::max(it->second, r.power_w);
  }
  int minutes_over = 0, minutes_unread = 0;
  double peak_w = 0;
  std::string over_list;
  const auto week_minutes = duration_cast<minutes>(kWeek).count();
  double carried = 0;
  for (std::int64_t m = 0; m < week_minutes; ++m) {
    double w = carried;  // a minute without a reading keeps the last one (counted below)
    if (auto it = max_by_minute.find(m); it != max_by_minute.end()) w = it->second;
    else ++minutes_unread;
    carried = w;
    peak_w = std::max(peak_w, w);
    if (w > limit_w) {
      ++minutes_over;
      if (over_list.size() < 600) over_list += " " + std::to_string(m) + ":" + std::to_string(static_cast<int>(w));
    }
  }
  EXPECT_EQ(minutes_over, 0) << "minutes (since start) above " << limit_w << " W, with the highest reading:" << over_list;
  EXPECT_LT(minutes_unread, week_minutes / 100) << "the meter must read nearly every simulated minute";

  // ---- requests
  int requests = 0, requests_taken = 0, feasible = 0, met = 0;
  std::string unmet;
  for (const auto& l : visits) {
    if (!l.has_request || !l.plugged) continue;
    ++requests;
    if (l.request_status >= 200 && l.request_status < 300) ++requests_taken;
    else {
      ADD_FAILURE() << pile_id(l.visit.charger) << ": request not taken (HTTP " << l.request_status << "): " << l.request_error;
      continue;
    }
    if (l.requested_departure >= end) continue;  // beyond the simulated week: cannot be judged
    // Feasibility as documented at the top.
    double worst_base_w = 0;
    for (auto t = l.visit.arrive; t <= l.requested_departure; t += 5min)
      worst_base_w = std::max(worst_base_w, demo::base_load_w(t, kUtcOffset, kBasePeakW));
    const double power_w = std::min(kPileW, limit_w - kMarginKw * 1000 - worst_base_w);
    const double hours_avail = duration<double, std::ratio<3600>>(l.requested_departure - l.visit.arrive - 15min).count();
    if (l.requested_kwh * 1000 > power_w * hours_avail) continue;
    ++feasible;
    if (l.energy_at_departure_wh >= l.requested_kwh * 1000 - 100) ++met;
    else
      unmet += "\n  " + pile_id(l.visit.charger) + " arrived " + local_hhmm(l.visit.arrive) + " asked " +
               std::to_string(l.requested_kwh) + " kWh by " + local_hhmm(l.requested_departure) + ", had " +
               std::to_string(l.energy_at_departure_wh / 1000) + " kWh";
  }
  EXPECT_GT(feasible, 5) << "the week must hold enough feasible requests to mean something";
  EXPECT_EQ(met, feasible) << "feasible requests not met:" << unmet;

  // ---- sessions and settlement in SQLite
  gateway::Store store(dir / "orderly.db");
  const auto sessions = store.sessions(start - 1h, end + 1h);
  int plugged = 0;
  for (const auto& l : visits) plugged += l.plugged ? 1 : 0;
  EXPECT_EQ(static_cast<int>(sessions.size()), plugged) << "one session row per car that plugged in";
  std::map<std::pair<std::string, std::int64_t>, const VisitLog*> by_start;  // (pile, arrive minute)
  for (const auto& l : visits)
    by_start[{pile_id(l.visit.charger), duration_cast<minutes>(l.visit.arrive.time_since_epoch()).count()}] = &l;
  double private_wh = 0, private_valley_wh = 0, all_wh = 0, cost = 0;
  std::map<std::string, double> off_valley_kwh_by_source;
  int closed = 0;
  for (const auto& s : sessions) {
    const double split = s.energy_wh_by_period[0] + s.energy_wh_by_period[1] + s.energy_wh_by_period[2] + s.energy_wh_by_period[3];
    EXPECT_NEAR(split, s.energy_wh, 1.0) << s.id << ": the by-period split must sum to the energy";
    double priced = 0;
    for (int p = 0; p < 4; ++p) priced += s.energy_wh_by_period[static_cast<std::size_t>(p)] / 1000 * price(static_cast<scheduler::Period>(p));
    EXPECT_NEAR(s.cost_yuan, priced, 0.011 + 0.01 * priced) << s.id << ": cost = energy by period x price";
    if (s.energy_wh > 10) {
      EXPECT_GT(s.cost_yuan, 0) << s.id;
    }
    if (!s.ended_at) continue;
    ++closed;
    // The pile's own count for the same visit (a session starts within a few simulated minutes
    // of the plug-in the community played: a few real milliseconds).
    const VisitLog* match = nullptr;
    for (int dm = -10; dm <= 10 && !match; ++dm)
      if (auto it = by_start.find({s.charger_id, duration_cast<minutes>(s.started_at.time_since_epoch()).count() + dm});
          it != by_start.end())
        match = it->second;
    if (match && match->energy_at_unplug_wh >= 0)
      EXPECT_NEAR(s.energy_wh, match->energy_at_unplug_wh, std::max(50.0, 0.02 * match->energy_at_unplug_wh)) << s.id;
    else
      ADD_FAILURE() << s.id << " on " << s.charger_id << ": no visit of the community matches it";
    all_wh += s.energy_wh;
    cost += s.cost_yuan;
    if (s.is_private) {
      const double valley_wh = s.energy_wh_by_period[static_cast<std::size_t>(gateway::period_index(scheduler::Period::valley))];
      private_wh += s.energy_wh;
      private_valley_wh += valley_wh;
      // Where the private energy outside the valley came from: a resident's request or boost
      // (their choice), a learned or default request (the gateway's).
      const std::string source = s.boost ? "boost" : s.request_source.empty() ? "none" : s.request_source;
      off_valley_kwh_by_source[source] += (s.energy_wh - valley_wh) / 1000;
      if (s.energy_wh - valley_wh > 1000)
        std::printf("  off-valley %.1f of %.1f kWh: %s %s-%s, request %s by %s\n", (s.energy_wh - valley_wh) / 1000,
                    s.energy_wh / 1000, s.charger_id.c_str(), local_hhmm(s.started_at).c_str(),
                    local_hhmm(*s.ended_at).c_str(), source.c_str(),
                    s.departure ? local_hhmm(*s.departure).c_str() : "-");
    }
  }
  const double valley_share = private_wh > 0 ? private_valley_wh / private_wh : 0;
  std::printf("private energy outside the valley by request source:");
  for (const auto& [source, kwh] : off_valley_kwh_by_source) std::printf(" %s %.1f kWh", source.c_str(), kwh);
  std::printf("\n");

  // The same visits uncontrolled (every car at full power from plug-in until it has what it
  // wants or leaves), per simulated minute: the scenario must overload the transformer without
  // the gateway, or "zero minutes over" proves nothing.
  int uncontrolled_over = 0;
  double uncontrolled_peak_w = 0;
  for (std::int64_t m = 0; m < week_minutes; ++m) {
    const TimePoint t = start + minutes(m);
    double w = demo::base_load_w(t, kUtcOffset, kBasePeakW);
    for (const auto& l : visits) {
      const auto full_until = l.visit.arrive + duration_cast<Duration>(duration<double, std::ratio<3600>>(l.visit.energy_wh / kPileW));
      if (t >= l.visit.arrive && t < std::min(l.visit.depart, full_until)) w += kPileW;
    }
    uncontrolled_peak_w = std::max(uncontrolled_peak_w, w);
    if (w > limit_w) ++uncontrolled_over;
  }

  int failsafe_entries = 0;
  for (auto& p : piles) failsafe_entries += static_cast<int>(p->failsafe_entries());
  const double real_s = duration<double>(steady_clock::now() - real_start).count();
  std::printf(
      "week at %.0fx: %d visits, %d sessions stored (%d closed), %.1f kWh charged (%.1f kWh private, valley share "
      "%.1f %%), %.2f yuan; peak %.1f kW of %.0f kW, %d minutes over, %d minutes without a reading (uncontrolled: peak "
      "%.1f kW, %d minutes over); requests: %d set, %d taken, %d feasible, %d met; %d failsafe fallbacks; %.0f s real "
      "time\n",
      kSpeed, plugged, static_cast<int>(sessions.size()), closed, all_wh / 1000, private_wh / 1000, 100 * valley_share,
      cost, peak_w / 1000, kLimitKw, minutes_over, minutes_unread, uncontrolled_peak_w / 1000, uncontrolled_over,
      requests, requests_taken, feasible, met, failsafe_entries, real_s);

  EXPECT_GT(uncontrolled_over, 20) << "the scenario must overload the transformer when uncontrolled";
  EXPECT_GT(closed, plugged / 2);
  EXPECT_GT(private_wh, 0);
  EXPECT_GE(valley_share, 0.80) << "private-pile valley share";
  EXPECT_EQ(failsafe_entries, 0) << "a pile fell back to its failsafe power: the gateway let a limit expire";
}

}  // namespace
}  // namespace orderly

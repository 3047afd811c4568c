// The control loop with a manual clock and in-process devices: planning per slot and on events,
// the limiter on every meter sample, DR events, restart, and a slow disk. Real store (SQLite in a temp dir),
// real SessionBook and planner; only the chargers are fakes that record what they are sent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "config_text.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

class FakeCharger final : public drivers::ChargerDriver {
 public:
  FakeCharger(std::string id, double max_power_w) : id_(std::move(id)) {
    caps_.max_power_w = max_power_w;
    caps_.failsafe = true;
  }
  const std::string& id() const override { return id_; }
  drivers::Capabilities capabilities() const override { return caps_; }
  void apply_limit(const drivers::PowerLimit& limit) override { limits.push_back(limit); }

  std::vector<drivers::PowerLimit> limits;
  double last_w() const { return limits.empty() ? -1 : limits.back().power_w; }

 private:
  std::string id_;
  drivers::Capabilities caps_;
};

TimePoint local(int day, int hour, int minute, int second = 0) { return testing::january_2026(day, hour, minute, second); }

std::string config_text(const std::filesystem::path& db) {
  return R"(
[site]
name = "Control test"
[site.transformer]
id = "tx"
limit_kw = 30

)" + testing::kSimpleTariff + R"(

[control]
safety_margin_kw = 2

)" + testing::loopback_store_and_meter(db) + R"(

[[charger]]
id = "p1"
kind = "private"
phase = "A"
household = "1-1-101"
max_power_kw = 7

[[charger]]
id = "p2"
kind = "private"
household = "1-1-102"
phase = "B"
max_power_kw = 7

[[charger]]
id = "p3"
kind = "private"
household = "1-1-103"
phase = "C"
max_power_kw = 7
)";
}

// One gateway on a manual clock, its core loop run on the test thread; the test plays the
// devices. Every report is followed by the control step it posted.
class Site {
 public:
  Site(const std::filesystem::path& db, ManualClock& clock, StoreWriterOptions store = {}) : clock_(clock) {
    Config config = parse_config(config_text(db), "gateway_control_test.toml");
    config.web.port = 0;
    GatewayOptions options;
    options.store = std::move(store);
    options.devices = [this](const drivers::DeviceEvents& events) {
      events_ = events;
      std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> out;
      for (const char* id : {"p1", "p2", "p3"}) {
        auto fake = std::make_shared<FakeCharger>(id, 7000);
        fakes_[id] = fake;
        out[id] = fake;
      }
      return out;
    };
    gateway = std::make_unique<Gateway>(io_, clock_, std::move(config), std::move(options));
    gateway->start();
  }
  ~Site() { gateway->stop(); }

  FakeCharger& charger(const std::string& id) { return *fakes_.at(id); }
  boost::asio::io_context& io() { return io_; }

  void online(const std::string& id) {
    drivers::Health h;
    h.online = true;
    h.last_good = clock_.now();
    events_.health(id, h);
    test::pump(io_);
  }
  void car(const std::string& id, drivers::ChargerState state, double power_w, double energy_wh = 0) {
    drivers::ChargerSnapshot s;
    s.at = clock_.now();
    s.state = state;
    s.power_w = power_w;
    s.session_energy_wh = energy_wh;
    events_.charger_snapshot(id, s);
    test::pump(io_);
  }
  void plug(const std::string& id) {
    online(id);
    plugged_[id] = 0;
    car(id, drivers::ChargerState::plugged, 0);
  }
  void meter(double power_kw) {
    drivers::MeterSnapshot m;
    m.at = clock_.now();
    m.power_w = power_kw * 1000.0;
    events_.meter_snapshot("tx-meter", m);
    test::pump(io_);
  }
  // A resident's request, in force and committed before this returns, as the API answers it.
  SessionRecord request(const std::string& id, const ChargeRequest& r) {
    SessionRecord record;
    const auto durable = test::pump_until_durable(io_, [&](OnDurable done) { record = gateway->set_request(id, r, done); });
    EXPECT_TRUE(durable.committed) << durable.error;
    return record;
  }
  // "Charge now" for the car on `id`, drawing its 7 kW, with the meter showing it on `base_kw`.
  void boost_drawing(const std::string& id, double base_kw) {
    ChargeRequest boost;
    boost.boost = true;
    request(id, boost);
    car(id, drivers::ChargerState::charging, 7000);
    meter(base_kw + 7);
  }
  void add_dr(const DrEvent& e) {
    const auto durable = test::pump_until_durable(io_, [&](OnDurable done) { gateway->add_dr_event(e, done); });
    EXPECT_TRUE(durable.committed) << durable.error;
  }
  bool cancel_dr(const std::string& id) {
    bool known = false;
    const auto durable = test::pump_until_durable(io_, [&](OnDurable done) {
      known = gateway->cancel_dr_event(id, done);
      if (!known) done({false, "unknown"});
    });
    return known && durable.committed;
  }
  // Time passes with plugged-in cars drawing their last limit and the meter reporting
  // `base_kw` + what they draw.
  void run_until(TimePoint t, double base_kw) {
    while (clock_.now() < t) {
      const auto step = std::min<Duration>(seconds(30), t - clock_.now());
      clock_.advance(step);
      double charging_kw = 0;
      for (auto& [id, energy_wh] : plugged_) {
        const double w = std::max(fakes_.at(id)->last_w(), 0.0);
        energy_wh += w * duration<double>(step).count() / 3600.0;
        car(id, w > 0 ? drivers::ChargerState::charging : drivers::ChargerState::plugged, w, energy_wh);
        charging_kw += w / 1000.0;
      }
      meter(base_kw + charging_kw);
    }
  }
  double limits_sum_w() {
    double sum = 0;
    for (auto& [id, fake] : fakes_) sum += std::max(fake->last_w(), 0.0);
    return sum;
  }

  std::unique_ptr<Gateway> gateway;

 private:
  boost::asio::io_context io_;
  ManualClock& clock_;
  drivers::DeviceEvents events_;
  std::map<std::string, std::shared_ptr<FakeCharger>> fakes_;
  std::map<std::string, double> plugged_;  // car -> session energy so far (Wh)
};

TEST(GatewayControl, PlansValleyHoursUnderTheLimit) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  Site site(dir / "orderly.db", clock);
  site.meter(10);
  for (const char* id : {"p1", "p2", "p3"}) site.plug(id);
  site.meter(10);
  // Peak hours: every car has a limit, and it is 0 (the default request fits in the valley).
  for (const char* id : {"p1", "p2", "p3"}) {
    EXPECT_FALSE(site.charger(id).limits.empty()) << id;
    EXPECT_EQ(site.charger(id).last_w(), 0) << id;
  }
  ASSERT_NE(site.gateway->plan(), nullptr);
  EXPECT_EQ(site.gateway->plan()->algorithm, "optimal");
  EXPECT_EQ(site.gateway->plan()->chargers.size(), 3u);

  site.run_until(local(5, 23, 20), 10);
  EXPECT_GT(site.limits_sum_w(), 0);
  EXPECT_LE(site.limits_sum_w(), (30 - 2 - 10) * 1000.0 + 1);
  const auto status = site.gateway->status();
  const auto& session = status["chargers"][0]["session"];
  ASSERT_TRUE(session.is_object()) << status.dump();
  EXPECT_TRUE(session["plan"]["feasible"].get<bool>()) << session.dump();
  EXPECT_EQ(session["plan"]["expected_cost_yuan"].get<double>() > 0, true);
  EXPECT_THAT(session["plan"]["finish"].get<std::string>(), ::testing::StartsWith("2026-01-06T0"));
}

TEST(GatewayControl, BoostChargesAtOnceAndNotBeforeWaits) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  Site site(dir / "orderly.db", clock);
  site.meter(10);
  site.plug("p1");
  site.plug("p2");
  EXPECT_EQ(site.charger("p1").last_w(), 0);

  ChargeRequest boost;
  boost.boost = true;
  const auto record = site.request("p1", boost);
  EXPECT_TRUE(record.boost);
  EXPECT_NEAR(site.charger("p1").last_w(), 7000, 1);  // full power now, at the peak price

  ChargeRequest later;
  later.not_before = local(6, 1, 0);
  later.energy_kwh = 10;
  site.request("p2", later);
  site.run_until(local(6, 0, 50), 10);
  EXPECT_EQ(site.charger("p2").last_w(), 0);
  site.run_until(local(6, 6, 50), 10);
  bool charged = false;
  for (const auto& l : site.charger("p2").limits) charged = charged || l.power_w > 0;
  EXPECT_TRUE(charged);

  // The requests were committed before they were answered.
  Store store(dir / "orderly.db");
  const auto open = store.open_sessions();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_TRUE(open[0].boost || open[1].boost);
}

TEST(GatewayControl, DrEventAndOverloadCutWithinOneStep) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  Site site(dir / "orderly.db", clock);
  site.meter(5);
  site.plug("p1");
  site.boost_drawing("p1", 5);
  EXPECT_NEAR(site.charger("p1").last_w(), 7000, 1);

  // The platform lowers the site to 12 kW now: 12 - 2 margin - 5 base leaves 5 kW.
  site.add_dr({"dr-1", clock.now(), clock.now() + hours(1), 12, "platform"});
  EXPECT_LE(site.charger("p1").last_w(), 5000 + 1);
  ASSERT_EQ(site.gateway->dr_events().size(), 1u);
  EXPECT_TRUE(site.gateway->status()["dr_events"][0]["active"].get<bool>());
  EXPECT_TRUE(site.cancel_dr("dr-1"));
  EXPECT_FALSE(site.cancel_dr("dr-1"));
  site.meter(12);
  EXPECT_NEAR(site.charger("p1").last_w(), 7000, 1);

  // A base-load step: the meter shows 33 kW with the car at 7 kW. The same sample cuts it.
  const auto sent = site.charger("p1").limits.size();
  site.meter(33);
  ASSERT_GT(site.charger("p1").limits.size(), sent);
  EXPECT_LE(site.charger("p1").last_w(), 2000 + 1);  // 30 - 2 - (33 - 7) = 2 kW

  // A stale meter leaves no headroom at all.
  clock.advance(seconds(30));
  site.gateway->control_step();
  EXPECT_EQ(site.charger("p1").last_w(), 0);
}

// A commit the disk makes slow (seconds) holds up neither the limiter nor anything else on the
// core thread, and a resident's request is still answered only once its record is committed.
TEST(GatewayControl, ASlowCommitDelaysNeitherTheLimiterNorTheAnswerPastItsCommit) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  std::atomic<bool> slow{false};
  std::atomic<bool> in_commit{false};
  StoreWriterOptions store;
  store.before_commit = [&] {
    if (!slow) return;
    in_commit = true;
    std::this_thread::sleep_for(seconds(4));
    in_commit = false;
  };
  Site site(dir / "orderly.db", clock, store);
  site.meter(5);
  site.plug("p1");
  site.plug("p2");
  site.boost_drawing("p1", 5);
  ASSERT_NEAR(site.charger("p1").last_w(), 7000, 1);

  slow = true;
  std::optional<web::ApiResponse> answer;
  bool committed_when_answered = false;
  site.gateway->handle_api_async(
      {"PUT", "/api/v1/chargers/p2/request", {}, R"({"energy_kwh": 12, "departure": "07:00"})"},
      [&](web::ApiResponse r) {
        answer = r;
        if (r.status != 200) return;
        const auto id = nlohmann::json::parse(r.body)["session"]["id"].get<std::string>();
        const auto stored = Store(dir / "orderly.db").session(id);
        committed_when_answered = stored && stored->requested_wh == 12000;
      });
  ASSERT_TRUE(test::pump_until(site.io(), [&] { return in_commit.load(); })) << "the writer never started a commit";

  // The request is in flight and the disk busy: a base-load step is cut in the step its meter
  // sample posts. 30 - 2 - (33 - 7) = 2 kW are left for the car.
  site.meter(33);
  EXPECT_LE(site.charger("p1").last_w(), 2000 + 1);
  EXPECT_FALSE(answer.has_value()) << "answered before its record was committed";
  EXPECT_TRUE(in_commit.load()) << "the commit ended before the limiter ran: the test proves nothing";

  ASSERT_TRUE(test::pump_until(site.io(), [&] { return answer.has_value(); }, seconds(30)));
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_TRUE(committed_when_answered) << "the answer came before the record was in the file";
  slow = false;
}

// A disk that refuses the write: the resident is told it was not saved, and why.
TEST(GatewayControl, ARequestTheStoreCannotSaveIsAnswered503WithTheReason) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  std::atomic<bool> failing{false};
  StoreWriterOptions store;
  store.flush_interval = milliseconds(50);  // retries come one interval apart
  store.before_commit = [&] {
    if (failing) throw StoreError("disk I/O error (injected)");
  };
  Site site(dir / "orderly.db", clock, store);
  site.meter(5);
  site.plug("p1");
  failing = true;
  const auto answer = test::pump_api(site.io(), *site.gateway,
                                     {"PUT", "/api/v1/chargers/p1/request", {}, R"({"boost": true})"});
  failing = false;
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_THAT(answer.body, ::testing::HasSubstr("disk I/O error (injected)"));
  EXPECT_THAT(answer.body, ::testing::HasSubstr("send it again"));
}

TEST(GatewayControl, BaseLoadOffTheForecastForFiveMinutesReplans) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 0) + seconds(30));
  Site site(dir / "orderly.db", clock);
  site.meter(10);
  site.plug("p1");
  ASSERT_NE(site.gateway->plan(), nullptr);
  EXPECT_EQ(site.gateway->plan()->reason, "plug-in");
  site.run_until(local(5, 20, 4), 25);  // 15 kW above the plan's 10 kW, for 3.5 minutes
  EXPECT_EQ(site.gateway->plan()->reason, "plug-in");
  site.run_until(local(5, 20, 7), 25);  // now for more than 5 minutes
  EXPECT_EQ(site.gateway->plan()->reason, "forecast");
  EXPECT_NEAR(site.gateway->plan()->base_kw[0], 25, 0.5);
}

TEST(GatewayControl, PrunesOnceADayWithTheConfiguredRetention) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 0));
  {
    Store store(dir / "orderly.db");
    MeterSample old;
    old.at = clock.now() - days(100);  // past the default 90 days of raw samples
    old.meter_id = "tx-meter";
    old.power_w = 12000;
    store.write(old);
    old.at = clock.now() - days(1);
    store.write(old);
  }
  {
    Site site(dir / "orderly.db", clock);  // the first control step prunes
  }                                         // stop() commits what was queued
  Store store(dir / "orderly.db");
  EXPECT_EQ(store.row_count("meter_samples"), 1);
  EXPECT_EQ(store.row_count("meter_aggregates"), 1);
}

// Issue 12: the wall clock jumps three years ahead while a car charges. The step is an event and
// a re-plan; the charging goes on; the prune the new date asks for waits until the new time has
// held for 24 h of running, so nothing is deleted by the jump itself.
TEST(GatewayControl, AClockStepOfYearsIsLoggedReplannedAndDeletesNothing) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 0));
  {
    Store store(dir / "orderly.db");
    MeterSample old;
    old.meter_id = "tx-meter";
    old.power_w = 12000;
    old.at = clock.now() - days(100);  // folded into an aggregate by the prune at start
    store.write(old);
    old.at = clock.now() - days(10);   // kept: inside the 90 days of raw samples
    store.write(old);
    store.write(EventRecord{clock.now() - minutes(1), "info", "gateway", "stopped"});  // a restart, not a week off
  }
  auto counts = [&] {
    const Store store(dir / "orderly.db");
    return std::pair{store.row_count("meter_samples"), store.row_count("meter_aggregates")};
  };
  {
    Site site(dir / "orderly.db", clock);
    site.meter(10);
    site.plug("p1");
    site.boost_drawing("p1", 10);
    const double before_w = site.charger("p1").last_w();
    ASSERT_GT(before_w, 0);

    clock.advance(seconds(1));
    clock.step(days(3 * 365));
    site.meter(17);  // the next sample's control step sees the step
    ASSERT_NE(site.gateway->plan(), nullptr);
    EXPECT_THAT(site.gateway->plan()->reason, ::testing::HasSubstr("clock-step"));
    EXPECT_EQ(site.charger("p1").last_w(), before_w) << "a step is no reason to cut a car";

    // Just under a day of running on the new date: held. (Hour by hour, with the devices
    // reporting, so the limiter keeps its fresh readings.)
    for (int h = 0; h < 23; ++h) {
      clock.advance(hours(1));
      site.online("p1");
      site.car("p1", drivers::ChargerState::charging, std::max(site.charger("p1").last_w(), 0.0));
      site.meter(17);
    }
    clock.advance(minutes(59));
    site.meter(17);
  }
  {
    const Store store(dir / "orderly.db");
    bool step_event = false;
    bool held_event = false;
    for (const auto& e : store.recent_events(500)) {
      step_event = step_event || (e.source == "clock" && e.level == "warn" &&
                                  e.message.find("stepped forward by 1095 d") != std::string::npos);
      held_event = held_event || (e.source == "store" && e.message.find("retention held") != std::string::npos);
    }
    EXPECT_TRUE(step_event);
    EXPECT_TRUE(held_event);
    EXPECT_EQ(store.meter_samples("tx-meter", local(5, 20, 0) - days(11), local(5, 20, 0) - days(9)).size(), 1u)
        << "the 10-day-old sample survived the jump";
    EXPECT_EQ(store.row_count("meter_aggregates"), 1) << "the aggregate folded at start survived the jump";
  }
  const auto [samples_held, aggregates_held] = counts();

  // A restart during the hold does not lift it: the last prune is from before the jump.
  {
    Site site(dir / "orderly.db", clock);
    site.meter(17);
  }
  EXPECT_EQ(counts().second, aggregates_held);
  {
    const Store store(dir / "orderly.db");
    EXPECT_EQ(store.meter_samples("tx-meter", local(5, 20, 0) - days(11), local(5, 20, 0) - days(9)).size(), 1u);
  }

  // Once the new date has held for 24 h, retention is applied to it.
  {
    Site site(dir / "orderly.db", clock);
    clock.advance(hours(24));
    site.meter(17);
  }
  const Store store(dir / "orderly.db");
  EXPECT_TRUE(store.meter_samples("tx-meter", local(5, 20, 0) - days(11), local(5, 20, 0) - days(9)).empty())
      << "confirmed: three years on, the old raw sample is past retention";
  EXPECT_LE(store.row_count("meter_samples"), samples_held);
}

TEST(GatewayControl, RestartRestoresSessionsPlanAndLimitsOnFirstContact) {
  test::TempDir dir;
  ManualClock clock(local(5, 20, 5));
  std::string session_id;
  {
    Site site(dir / "orderly.db", clock);
    site.meter(10);
    site.plug("p1");
    ChargeRequest r;
    r.energy_kwh = 12;
    r.departure = local(6, 6, 0);
    session_id = site.request("p1", r).id;
    site.add_dr({"dr-night", local(6, 2, 0), local(6, 3, 0), 20, "platform"});
  }  // stop() as a clean shutdown; the kill -9 case is the system test's
  clock.advance(seconds(40));
  Site again(dir / "orderly.db", clock);
  const auto open = again.gateway->sessions().open_session("p1");
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->id, session_id);
  EXPECT_NEAR(open->requested_wh, 12000, 1);
  ASSERT_NE(again.gateway->plan(), nullptr);
  EXPECT_TRUE(again.gateway->plan()->chargers.count("p1"));
  EXPECT_THAT(again.gateway->plan()->reason, ::testing::HasSubstr("start"));
  ASSERT_EQ(again.gateway->dr_events().size(), 1u);

  // First contact: a limit goes out at once, long before any failsafe could expire.
  EXPECT_TRUE(again.charger("p1").limits.empty());
  again.online("p1");
  EXPECT_FALSE(again.charger("p1").limits.empty());

  Store store(dir / "orderly.db");
  const auto plan = store.latest_plan();  // the first run's last plan, committed at its stop
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->reason, "dr-event");
}

}  // namespace
}  // namespace orderly::gateway

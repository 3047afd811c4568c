// The API on a started gateway (real store, SessionBook and planner; in-process chargers): a
// resident's request is committed before the answer and shows in the status; DR events for the
// operator. Driven on the test thread with a manual clock.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"
#include "report_site.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

// 2026-01-05 (a Monday) local time, +08:00.
TimePoint local(int day, int hour, int minute = 0) { return testing::local(2026, 1, day, hour, minute); }

std::string config_text(const std::filesystem::path& db) {
  return testing::report_site(40, R"(
[web]
listen = "127.0.0.1"
[store]
path = ")" + db.string() + R"("
[[charger]]
id = "p1"
kind = "private"
household = "1-101"
phase = "A"
max_power_kw = 7
[[charger]]
id = "p2"
kind = "private"
household = "1-102"
phase = "B"
max_power_kw = 7
[[charger]]
id = "s1"
kind = "shared"
phase = "C"
max_power_kw = 7
)");
}

class ApiLive : public ::testing::Test {
 protected:
  ApiLive() : clock_(local(5, 20)) {
    Config config = parse_config(config_text(dir_ / "orderly.db"), "api_live_test.toml");
    config.web.port = 0;
    GatewayOptions options;
    options.devices = [this](const drivers::DeviceEvents& events) {
      events_ = events;
      std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> out;
      for (const char* id : {"p1", "p2", "s1"}) out[id] = std::make_shared<test::IdleCharger>(id);
      return out;
    };
    gateway_ = std::make_unique<Gateway>(io_, clock_, std::move(config), std::move(options));
    gateway_->start();
    drivers::MeterSnapshot m;
    m.at = clock_.now();
    m.power_w = 10000;
    events_.meter_snapshot("tm", m);
    test::pump(io_);
  }
  ~ApiLive() override { gateway_->stop(); }

  void plug(const std::string& id) {
    drivers::Health h;
    h.online = true;
    h.last_good = clock_.now();
    events_.health(id, h);
    drivers::ChargerSnapshot s;
    s.at = clock_.now();
    s.state = drivers::ChargerState::plugged;
    s.power_w = 0;
    s.session_energy_wh = 0;
    events_.charger_snapshot(id, s);
    test::pump(io_);
  }

  // As the web server calls it: a write is answered once its record is committed.
  web::ApiResponse call(const std::string& method, const std::string& path, std::string body = {}) {
    return test::pump_api(io_, *gateway_, {method, path, {}, std::move(body)});
  }
  static json body(const web::ApiResponse& r) { return json::parse(r.body); }

  orderly::test::TempDir dir_;
  boost::asio::io_context io_;
  ManualClock clock_;
  drivers::DeviceEvents events_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(ApiLive, RequestIsCommittedBeforeTheAnswerAndShowsInTheStatus) {
  plug("p1");
  const auto r = call("PUT", "/api/v1/chargers/p1/request",
                      R"({"departure": "07:30", "energy_kwh": 25, "boost": false, "not_before": null})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto session = body(r)["session"];
  EXPECT_EQ(session["charger"], "p1");
  EXPECT_EQ(session["departure"], "2026-01-06T07:30:00+08:00");  // the next 07:30
  EXPECT_EQ(session["requested_kwh"], 25.0);
  EXPECT_EQ(session["request_source"], "resident");

  // Acknowledged, so already in the file: a second connection sees it without waiting.
  const Store store(dir_ / "orderly.db");
  const auto stored = store.session(session["id"].get<std::string>());
  ASSERT_TRUE(stored);
  EXPECT_DOUBLE_EQ(stored->requested_wh, 25000);
  ASSERT_TRUE(stored->departure);
  EXPECT_EQ(*stored->departure, local(6, 7, 30));

  const auto live = call("GET", "/api/v1/chargers/p1/session");
  ASSERT_EQ(live.status, 200);
  EXPECT_EQ(body(live)["session"]["requested_kwh"], 25.0);
  const auto status = gateway_->status();
  EXPECT_EQ(status["chargers"][0]["session"]["requested_kwh"], 25.0);
  EXPECT_EQ(status["chargers"][0]["session"]["request_source"], "resident");
}

web::ApiRequest as_resident(const std::string& household, std::string method, std::string path, std::string body = {}) {
  web::ApiRequest r{std::move(method), std::move(path), {}, std::move(body)};
  r.caller = web::Principal{"resident-" + household, web::Role::resident, household, "csrf"};
  return r;
}

// The resident page's plan view: the timeline per slot, and what charging now would cost instead.
TEST_F(ApiLive, ThePlanCarriesItsTimelineAndTheSavingAgainstChargingNow) {
  plug("p1");
  ASSERT_EQ(call("PUT", "/api/v1/chargers/p1/request", R"({"departure": "07:30", "energy_kwh": 14})").status, 200);
  json plan;
  ASSERT_TRUE(test::pump_until(io_, [&] {
    plan = gateway_->status()["chargers"][0]["session"]["plan"];
    return plan.is_object() && plan.value("expected_kwh", 0.0) > 13.9;
  })) << gateway_->status()["chargers"][0];
  // 20:00 is peak (1.0): now, 14 kWh at 7 kW costs 14 and is done by 22:00; the plan waits for
  // the valley (0.3) after 23:00.
  EXPECT_NEAR(plan["total_cost_yuan"].get<double>(), 4.2, 0.01) << plan;
  EXPECT_NEAR(plan["charge_now_cost_yuan"].get<double>(), 14.0, 0.01) << plan;
  EXPECT_NEAR(plan["saving_yuan"].get<double>(), 9.8, 0.01) << plan;
  EXPECT_EQ(plan["charge_now_finish"], "2026-01-05T22:00:00+08:00");
  const json timeline = plan["timeline"];
  EXPECT_EQ(timeline["start"], "2026-01-05T20:00:00+08:00");
  ASSERT_EQ(timeline["kw"].size(), timeline["price_per_kwh"].size());
  ASSERT_GT(timeline["kw"].size(), 44u);  // to 07:30 at least, in 15-minute slots
  EXPECT_EQ(timeline["price_per_kwh"][0], 1.0);
  EXPECT_EQ(timeline["price_per_kwh"][12], 0.3);
  double planned_kwh = 0;
  for (const auto& kw : timeline["kw"]) planned_kwh += kw.get<double>() * 0.25;
  EXPECT_NEAR(planned_kwh, 14.0, 0.05);
}

// The operator's transformer chart: the next 24 h slot by slot from the plan in force.
TEST_F(ApiLive, TheStatusCarriesTheTransformersNext24Hours) {
  plug("p1");
  ASSERT_EQ(call("PUT", "/api/v1/chargers/p1/request", R"({"departure": "07:30", "energy_kwh": 14})").status, 200);
  json ahead;
  ASSERT_TRUE(test::pump_until(io_, [&] {
    ahead = gateway_->status()["transformer_outlook"];
    if (!ahead.is_object()) return false;
    double kwh = 0;
    for (const auto& kw : ahead["planned_kw"]) kwh += kw.get<double>() * 0.25;
    return kwh > 13.9;
  })) << gateway_->status()["transformer_outlook"];
  EXPECT_EQ(ahead["slot_start"], "2026-01-05T20:00:00+08:00");
  EXPECT_EQ(ahead["slot_minutes"], 15);
  ASSERT_EQ(ahead["base_kw"].size(), ahead["planned_kw"].size());
  ASSERT_EQ(ahead["limit_kw"].size(), ahead["planned_kw"].size());
  EXPECT_GE(ahead["planned_kw"].size(), 40u);  // to the plan's horizon, at most 24 h
  EXPECT_LE(ahead["planned_kw"].size(), 96u);
  EXPECT_EQ(ahead["limit_kw"][0], 40.0);
  EXPECT_EQ(ahead["planned_kw"][0], 0.0);  // peak now: the car waits for the valley
  EXPECT_TRUE(ahead["phase_limit_kw"]["A"][0].is_null());  // no phase limits configured
  // p1 is wired on phase A: all of its plan is on A.
  ASSERT_EQ(ahead["phase_planned_kw"]["A"].size(), ahead["planned_kw"].size());
  for (std::size_t k = 0; k < ahead["planned_kw"].size(); ++k) {
    EXPECT_EQ(ahead["phase_planned_kw"]["A"][k], ahead["planned_kw"][k]) << "slot " << k;
    EXPECT_EQ(ahead["phase_planned_kw"]["B"][k], 0.0) << "slot " << k;
    EXPECT_EQ(ahead["phase_planned_kw"]["C"][k], 0.0) << "slot " << k;
  }
  // The meter here reports no phases: the history says so per point instead of plotting zeros.
  const json history = gateway_->status()["history"];
  ASSERT_FALSE(history.empty());
  EXPECT_TRUE(history.back()["phase_load_kw"][0].is_null()) << history.back();
}

// The QR code on a shared pile opens the page at #pile=s1: whoever is logged in claims the car
// plugged in there for their household, and after that it is theirs alone.
TEST_F(ApiLive, AResidentClaimsAnUnclaimedSharedPileForTheirOwnHousehold) {
  plug("s1");
  const auto look = test::pump_api(io_, *gateway_, as_resident("1-101", "GET", "/api/v1/chargers/s1/session"));
  ASSERT_EQ(look.status, 200) << look.body;
  EXPECT_EQ(body(look)["session"]["household"], "");
  const auto other = test::pump_api(io_, *gateway_, as_resident("1-101", "PUT", "/api/v1/chargers/s1/request",
                                                                R"({"household": "1-102", "energy_kwh": 5})"));
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(body(other)["field"], "household");

  const auto claim = test::pump_api(io_, *gateway_, as_resident("1-101", "PUT", "/api/v1/chargers/s1/request",
                                                                R"({"departure": "07:00", "energy_kwh": 10})"));
  ASSERT_EQ(claim.status, 200) << claim.body;
  EXPECT_EQ(body(claim)["session"]["household"], "1-101");
  EXPECT_EQ(test::pump_api(io_, *gateway_, as_resident("1-102", "GET", "/api/v1/chargers/s1/session")).status, 403);
  EXPECT_EQ(test::pump_api(io_, *gateway_, as_resident("1-101", "GET", "/api/v1/chargers/s1/session")).status, 200);
}

TEST_F(ApiLive, RequestWithoutACarIsRefusedWithTheReason) {
  const auto r = call("PUT", "/api/v1/chargers/p2/request", R"({"energy_kwh": 10})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_FALSE(body(r)["error"].get<std::string>().empty());
  EXPECT_EQ(body(r)["path"], "/api/v1/chargers/p2/request");
}

TEST_F(ApiLive, OperatorAddsListsAndCancelsADemandResponseEvent) {
  const auto added = call("POST", "/api/v1/dr-events",
                          R"({"id": "evening-1", "start": "2026-01-05T19:30", "end": "2026-01-05T21:00", "limit_kw": 25})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(body(added)["event"]["active"], true);
  EXPECT_EQ(body(added)["event"]["source"], "operator");

  const auto list = call("GET", "/api/v1/dr-events");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(body(list)["events"].size(), 1u);
  EXPECT_EQ(body(list)["events"][0]["id"], "evening-1");
  EXPECT_EQ(body(list)["events"][0]["start"], "2026-01-05T19:30:00+08:00");
  EXPECT_EQ(body(list)["events"][0]["limit_kw"], 25.0);
  {
    const Store store(dir_ / "orderly.db");  // persisted before the 201
    EXPECT_EQ(store.dr_events(local(5, 0), local(6, 0)).size(), 1u);
  }

  const auto cancelled = call("DELETE", "/api/v1/dr-events/evening-1");
  EXPECT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_TRUE(body(call("GET", "/api/v1/dr-events"))["events"].empty());
  EXPECT_EQ(call("DELETE", "/api/v1/dr-events/evening-1").status, 404);
}

TEST_F(ApiLive, DemandResponseEventErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (const auto& c : {Case{R"({"end": "2026-01-05T21:00", "limit_kw": 25})", "start"},
                        Case{R"({"start": "2026-01-05T19:30", "limit_kw": 25})", "end"},
                        Case{R"({"start": "2026-01-05T19:30", "end": "2026-01-05T21:00"})", "limit_kw"},
                        Case{R"({"start": "2026-01-05T19:30", "end": "2026-01-05T19:00", "limit_kw": 25})", "end"},
                        Case{R"({"start": "2026-01-05T10:00", "end": "2026-01-05T11:00", "limit_kw": 25})", "end"},
                        Case{R"({"start": "19:30", "end": "2026-01-05T21:00", "limit_kw": 25})", "start"},
                        Case{R"({"start": "2026-01-05T19:30", "end": "2026-01-05T21:00", "limit_kw": -5})", "limit_kw"},
                        Case{R"({"start": "2026-01-05T19:30", "end": "2026-01-05T21:00", "limit_kw": 25, "kw": 1})", "kw"}}) {
    const auto r = call("POST", "/api/v1/dr-events", c.body);
    EXPECT_EQ(r.status, 400) << c.body << ": " << r.body;
    EXPECT_EQ(body(r)["field"], c.field) << c.body << ": " << r.body;
  }
  const auto wrong = call("PUT", "/api/v1/dr-events");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, POST");
  EXPECT_EQ(call("GET", "/api/v1/dr-events/x").allow, "DELETE");
}

}  // namespace
}  // namespace orderly::gateway

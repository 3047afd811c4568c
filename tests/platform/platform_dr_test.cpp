// Orderly's extensions to T/CEC 102 and the plain JSON API, over real HTTP on loopback with the
// platform simulator (docs/platform-api.md): demand response from the platform
// (orderly_dr_event / orderly_dr_cancel, the DR drill: a 2 h peak-shaving event followed in every
// slot on a simulated clock, its result pushed exactly once; cancel and overlapping events; the
// notice a resident whose plan changed sees), the area load, plan and flexibility messages pulled
// and pushed, and the REST API a platform account reads with its token.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/test/http_call.hpp"
#include "platform_site.hpp"

namespace orderly::test {
namespace {

using namespace std::chrono;
using drivers::ChargerState;
using gateway::tcec::Ret;
using json = nlohmann::json;

constexpr const char* kResult = "orderly_notification_dr_result";
constexpr double kBaseKw = 20;

// The community with two cars charging now: each pile draws what its limit allows (up to 7 kW)
// and the transformer meter reads the base load plus that, one simulated minute at a time.
class DrSite {
 public:
  explicit DrSite(const std::string& platform_keys = "") : site(PlatformSite::sim_options(), platform_keys) {
    site.online("p1");
    site.online("p2");
    site.clock.set(gateway::testing::january_2026(5, 17, 0));
    site.meter(kBaseKw);
    for (const char* pile : {"p1", "p2"}) {
      site.car(pile, ChargerState::plugged, 0, 0);
      on_core(site.running().io(), [&] {
        gateway::ChargeRequest r;
        r.boost = true;
        r.energy_kwh = 40;
        site.gateway().set_request(pile, r);
      });
      energy_wh[pile] = 0;
    }
  }

  // One minute on, in readings 10 s apart (a meter silent for longer is stale): the gateway steps with the last readings, then the
  // piles follow the limits it sent and the meter reads the result. Returns the highest
  // transformer load the meter read in [from, to), or 0.
  double minute(TimePoint from = {}, TimePoint to = TimePoint::max()) {
    double highest_kw = 0;
    for (const auto& [at, kw] : readings()) if (at >= from && at < to) highest_kw = std::max(highest_kw, kw);
    return highest_kw;
  }

  // The same minute's readings: when, and the load read.
  std::vector<std::pair<TimePoint, double>> readings() {
    std::vector<std::pair<TimePoint, double>> out;
    for (int reading = 0; reading < 6; ++reading) {
      site.clock.advance(seconds(10));
      step();
      double charging_w = 0;
      for (auto& [pile, wh] : energy_wh) {
        const double setpoint = on_core(site.running().io(), [&, id = pile] {
          return site.gateway().controller().chargers().at(id).setpoint_w;
        });
        const double w = setpoint < 0 ? 7000 : std::min(7000.0, setpoint);
        wh += w / 360;
        charging_w += w;
        site.car(pile, ChargerState::charging, w, wh);
      }
      const double load_kw = kBaseKw + charging_w / 1000;
      site.meter(load_kw);
      step();
      out.emplace_back(site.clock.now(), load_kw);
    }
    return out;
  }

  void step() {
    on_core(site.running().io(), [&] { site.gateway().control_step(); });
  }

  // What the plan in force expects the transformer to draw in the slot `t` falls in: its base
  // load forecast and every car's planned power, the baseline a DR event is measured against.
  double planned_kw(TimePoint t) {
    return on_core(site.running().io(), [&] {
      const gateway::ActivePlan& plan = *site.gateway().plan();
      const auto k = static_cast<std::size_t>(plan.grid.slot_of(t));
      double kw = plan.base_kw.at(k);
      for (const auto& [id, c] : plan.chargers) kw += c.kw.at(k);
      return kw;
    });
  }

  PlatformSim::Answer send(const std::string& interface, const json& data) {
    return site.platform.pull(site.web_url(), interface, data);
  }

  PlatformSite site;
  std::map<std::string, double> energy_wh;
};

json peak_shaving(const std::string& id, const std::string& start, const std::string& end, double cap_kw) {
  return {{"EventID", id}, {"EventType", 1}, {"StartTime", start}, {"EndTime", end}, {"CapPower", cap_kw}};
}

TEST(PlatformDr, TheDrillFollowsA2hPeakShavingEventInEverySlotAndReportsItOnce) {
  DrSite drill;
  for (int i = 0; i < 10; ++i) drill.minute();  // both cars at full power: 34 kW

  std::vector<double> baseline_kw;
  for (int k = 0; k < 8; ++k) baseline_kw.push_back(drill.planned_kw(gateway::testing::january_2026(5, 18, 15 * k)));
  const auto ack = drill.send("orderly_dr_event", peak_shaving("dr-1", "2026-01-05 18:00:00", "2026-01-05 20:00:00", 25));
  ASSERT_TRUE(ack.decoded.ok()) << ack.decoded.error;
  ASSERT_EQ(ack.decoded.value.ret, Ret::ok) << ack.decoded.value.msg;
  EXPECT_EQ(ack.decoded.value.data["EventID"], "dr-1");
  EXPECT_EQ(ack.decoded.value.data["SuccStat"], 0);
  EXPECT_DOUBLE_EQ(ack.decoded.value.data["PowerLimit"], 25);
  const json events = drill.site.status()["dr_events"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["source"], "platform");

  // Every minute read inside the window is under the cap; before it the cars ran at full power.
  std::map<int, double> worst_by_slot;
  const TimePoint start = gateway::testing::january_2026(5, 18, 0);
  while (drill.site.clock.now() < gateway::testing::january_2026(5, 20, 30)) {
    const TimePoint at = drill.site.clock.now();
    const int slot = static_cast<int>((at - start) / minutes(15));
    // The minute's readings come after `at`; those inside the window count.
    const double load_kw = drill.minute(start, start + hours(2));
    if (at >= start && at < start + hours(2)) worst_by_slot[slot] = std::max(worst_by_slot[slot], load_kw);
  }
  ASSERT_EQ(worst_by_slot.size(), 8u);
  for (const auto& [slot, kw] : worst_by_slot) EXPECT_LE(kw, 25.0) << "slot " << slot;

  ASSERT_TRUE(wait_until([&] { return drill.site.platform.pushes(kResult).size() == 1; })) << "the result is pushed";
  const json result = drill.site.platform.pushes(kResult)[0].data;
  EXPECT_EQ(result["EventID"], "dr-1");
  EXPECT_EQ(result["EventType"], 1);
  EXPECT_EQ(result["Cancelled"], 0);
  EXPECT_EQ(result["StartTime"], "2026-01-05 18:00:00");
  EXPECT_EQ(result["EndTime"], "2026-01-05 20:00:00");
  EXPECT_DOUBLE_EQ(result["PowerLimit"], 25);
  ASSERT_EQ(result["Slots"].size(), 8u);
  double delivered_kwh = 0;
  for (std::size_t k = 0; k < 8; ++k) {
    const json& slot = result["Slots"][k];
    EXPECT_LE(slot["ActualPower"].get<double>(), 25.0) << slot.dump();
    EXPECT_EQ(slot["MeasuredSeconds"], 900) << slot.dump();
    // The baseline is the plan in force when the event came: the base forecast and both cars.
    EXPECT_NEAR(slot["BaselinePower"].get<double>(), baseline_kw[k], 0.006) << slot.dump();
    EXPECT_NEAR(slot["DeliveredReduction"].get<double>(),
                slot["BaselinePower"].get<double>() - slot["ActualPower"].get<double>(), 0.011);
    delivered_kwh += slot["DeliveredReduction"].get<double>() * 0.25;
  }
  EXPECT_NEAR(result["DeliveredEnergy"].get<double>(), delivered_kwh, 0.05);
  EXPECT_NEAR(result["DeliveredEnergy"].get<double>(),
              result["BaselineEnergy"].get<double>() - result["ActualEnergy"].get<double>(), 0.011);

  // Exactly once: more time and control steps queue nothing more for the event.
  for (int i = 0; i < 30; ++i) drill.minute();
  ASSERT_TRUE(wait_until([&] { return drill.site.status()["platform"].value("queued", -1) == 0; }));
  EXPECT_EQ(drill.site.platform.pushes(kResult).size(), 1u);
  EXPECT_EQ(drill.site.platform.duplicates(), 0);
  std::size_t rows = 0;
  for (const auto& e : drill.site.outbox()) rows += e.message.kind == kResult;
  EXPECT_EQ(rows, 1u);
}

TEST(PlatformDr, OverlappingEventsTheLowerCapWinsAndACancelReportsWhatRan) {
  DrSite drill;
  for (int i = 0; i < 5; ++i) drill.minute();
  ASSERT_EQ(drill.send("orderly_dr_event", peak_shaving("a", "2026-01-05 17:15:00", "2026-01-05 18:15:00", 30))
                .decoded.value.ret,
            Ret::ok);
  ASSERT_EQ(drill.send("orderly_dr_event", peak_shaving("b", "2026-01-05 17:30:00", "2026-01-05 18:00:00", 24))
                .decoded.value.ret,
            Ret::ok);
  double worst_a_only = 0, worst_both = 0;
  const TimePoint b_start = gateway::testing::january_2026(5, 17, 30);
  while (drill.site.clock.now() < gateway::testing::january_2026(5, 17, 45)) {
    for (const auto& [at, kw] : drill.readings()) {
      if (at >= gateway::testing::january_2026(5, 17, 15) && at < b_start) worst_a_only = std::max(worst_a_only, kw);
      if (at >= b_start) worst_both = std::max(worst_both, kw);
    }
  }
  EXPECT_LE(worst_a_only, 30.0);
  EXPECT_GT(worst_a_only, 24.0) << "b is not in force yet";
  EXPECT_LE(worst_both, 24.0) << "the lower cap of the two in force";

  // The platform cancels b mid-window: its result covers 17:30 to the cancel.
  const auto cancelled = drill.send("orderly_dr_cancel", {{"EventID", "b"}});
  ASSERT_EQ(cancelled.decoded.value.ret, Ret::ok) << cancelled.decoded.value.msg;
  EXPECT_EQ(drill.send("orderly_dr_cancel", {{"EventID", "b"}}).decoded.value.ret, Ret::data) << "gone";
  drill.minute();
  ASSERT_TRUE(wait_until([&] { return drill.site.platform.pushes(kResult).size() == 1; }));
  const json b = drill.site.platform.pushes(kResult)[0].data;
  EXPECT_EQ(b["EventID"], "b");
  EXPECT_EQ(b["Cancelled"], 1);
  EXPECT_EQ(b["EndTime"], "2026-01-05 17:45:00");
  ASSERT_EQ(b["Slots"].size(), 1u);
  EXPECT_EQ(b["Slots"][0]["EndTime"], "2026-01-05 17:45:00");

  // a goes on alone at its own cap, and is reported after its end.
  double worst_after = 0;
  while (drill.site.clock.now() < gateway::testing::january_2026(5, 18, 20))
    worst_after = std::max(worst_after, drill.minute({}, gateway::testing::january_2026(5, 18, 15)));
  EXPECT_LE(worst_after, 30.0);
  EXPECT_GT(worst_after, 24.0);
  ASSERT_TRUE(wait_until([&] { return drill.site.platform.pushes(kResult).size() == 2; }));
  const json a = drill.site.platform.pushes(kResult)[1].data;
  EXPECT_EQ(a["EventID"], "a");
  EXPECT_EQ(a["Cancelled"], 0);
  EXPECT_EQ(a["Slots"].size(), 4u);
}

TEST(PlatformDr, AReductionIsTakenFromTheBaselineAndBadEventsGet4004) {
  DrSite drill;
  for (int i = 0; i < 5; ++i) drill.minute();
  double peak_kw = 0;
  for (int k = 0; k < 4; ++k) peak_kw = std::max(peak_kw, drill.planned_kw(gateway::testing::january_2026(5, 18, 15 * k)));
  json reduction = {{"EventID", "r"}, {"EventType", 1}, {"StartTime", "2026-01-05 18:00:00"},
                    {"EndTime", "2026-01-05 19:00:00"}, {"ReductionPower", 10}};
  const auto ack = drill.send("orderly_dr_event", reduction);
  ASSERT_EQ(ack.decoded.value.ret, Ret::ok) << ack.decoded.value.msg;
  // The highest slot the plan in force expects in the window, less 10.
  EXPECT_NEAR(ack.decoded.value.data["PowerLimit"].get<double>(), peak_kw - 10, 1e-6);

  const auto refused = [&](json data, const std::string& field) {
    const auto answer = drill.send("orderly_dr_event", data);
    EXPECT_TRUE(answer.decoded.ok()) << answer.decoded.error;
    EXPECT_EQ(answer.decoded.value.ret, Ret::data) << data.dump();
    EXPECT_THAT(answer.decoded.value.msg, ::testing::HasSubstr(field));
  };
  json bad = peak_shaving("x", "2026-01-05 18:00:00", "2026-01-05 19:00:00", 25);
  bad["EventType"] = 3;
  refused(bad, "EventType");
  bad = peak_shaving("x", "2026-01-05 18:00:00", "2026-01-05 19:00:00", 25);
  bad["ReductionPower"] = 5;
  refused(bad, "CapPower");
  refused(peak_shaving("x", "2026-01-05 19:00:00", "2026-01-05 18:00:00", 25), "EndTime");
  refused(peak_shaving("x", "2026-01-05 10:00:00", "2026-01-05 11:00:00", 25), "end has passed");
  refused(peak_shaving("x", "18:00", "2026-01-05 19:00:00", 25), "StartTime");
  reduction["EventType"] = 2;
  refused(reduction, "valley filling takes a cap");
  EXPECT_EQ(drill.send("orderly_dr_cancel", {{"EventID", "nope"}}).decoded.value.ret, Ret::data);
  EXPECT_EQ(drill.site.status()["dr_events"].size(), 1u) << "nothing refused is in force";
}

TEST(PlatformDr, AResidentWhosePlanChangesSeesANotice) {
  DrSite drill;
  for (int i = 0; i < 5; ++i) drill.minute();
  const auto none = on_core(drill.site.running().io(), [&] {
    return drill.site.gateway().status_for(web::Principal{"r1", web::Role::resident, "1-1-101", "", false});
  });
  ASSERT_EQ(none["chargers"].size(), 1u);
  EXPECT_TRUE(none["chargers"][0]["dr_notice"].is_null());

  ASSERT_EQ(drill.send("orderly_dr_event", peak_shaving("dr-n", "2026-01-05 17:30:00", "2026-01-06 06:00:00", 5))
                .decoded.value.ret,
            Ret::ok);
  drill.minute();
  const auto mine = on_core(drill.site.running().io(), [&] {
    return drill.site.gateway().status_for(web::Principal{"r1", web::Role::resident, "1-1-101", "", false});
  });
  ASSERT_EQ(mine["chargers"].size(), 1u) << "only the resident's own pile";
  const json& notice = mine["chargers"][0]["dr_notice"];
  ASSERT_TRUE(notice.is_object()) << mine["chargers"][0].dump();
  EXPECT_EQ(notice["dr_events"], json::array({"dr-n"}));
  EXPECT_NE(notice["finish_before"], notice["finish_after"]);

  // The notice belongs to the session: the next car on the pile does not inherit it.
  drill.site.car("p1", ChargerState::unplugged, 0, 0);
  drill.site.car("p1", ChargerState::plugged, 0, 0);
  const auto next = on_core(drill.site.running().io(), [&] { return drill.site.gateway().status(); });
  EXPECT_TRUE(next["chargers"][0]["dr_notice"].is_null());
}

// The sum of every car's planned power in slot k of a charging_plan message.
double planned_cars_kw(const json& plan, std::size_t k) {
  double kw = 0;
  for (const json& e : plan["EquipmentPlans"]) kw += e["Powers"][k].get<double>();
  return kw;
}

// The three per-slot messages agree with each other and with the limit in force in each slot.
void expect_consistent(const json& area, const json& plan, const json& flex, double limit_in_window_kw) {
  const std::size_t slots = area["ForecastBasePower"].size();
  ASSERT_GE(slots, 96u) << "24 h of 15-minute slots at least";
  ASSERT_EQ(area["PlannedPower"].size(), slots);
  ASSERT_EQ(area["PowerLimits"].size(), slots);
  ASSERT_EQ(flex["UpPower"].size(), slots);
  ASSERT_EQ(flex["DownPower"].size(), slots);
  ASSERT_EQ(plan["EquipmentPlans"].size(), 2u);
  EXPECT_EQ(area["SlotStart"], "2026-01-05 17:00:00");
  EXPECT_EQ(plan["SlotStart"], area["SlotStart"]);
  for (std::size_t k = 0; k < slots; ++k) {
    const double cars = planned_cars_kw(plan, k);
    EXPECT_NEAR(area["PlannedPower"][k].get<double>(), area["ForecastBasePower"][k].get<double>() + cars, 0.03) << k;
    EXPECT_NEAR(flex["DownPower"][k].get<double>(), cars, 0.03) << k;
    // Up: what the limit (less the 2 kW safety margin) leaves, at most what the cars could add.
    const double limit = area["PowerLimits"][k];
    const double headroom = limit - 2 - area["PlannedPower"][k].get<double>();
    const double cars_room = 14 - cars;
    EXPECT_NEAR(flex["UpPower"][k].get<double>(), std::clamp(headroom, 0.0, cars_room), 0.05) << k;
    // 18:00-19:00 local is slots 4..7 of a grid starting at 17:00.
    EXPECT_DOUBLE_EQ(limit, k >= 4 && k < 8 ? limit_in_window_kw : 100.0) << k;
  }
}

TEST(PlatformExtension, AreaLoadPlanAndFlexibilityArePulledAndPushed) {
  DrSite drill("push_extensions = true");
  drill.minute();
  ASSERT_EQ(drill.send("orderly_dr_event", peak_shaving("e", "2026-01-05 18:00:00", "2026-01-05 19:00:00", 22))
                .decoded.value.ret,
            Ret::ok);
  drill.minute();
  const auto pulled = [&](const std::string& interface) {
    const auto a = drill.send(interface, json::object());
    EXPECT_EQ(a.decoded.value.ret, Ret::ok) << interface << ": " << a.decoded.value.msg;
    EXPECT_LT(a.took, seconds(1));
    return a.decoded.value.data;
  };
  const json area = pulled("orderly_query_area_load");
  EXPECT_EQ(area["StationID"], "S-001");
  EXPECT_DOUBLE_EQ(area["MeasuredPower"], 34);
  EXPECT_DOUBLE_EQ(area["PowerLimit"], 100);
  const json plan = pulled("orderly_query_charging_plan");
  EXPECT_EQ(plan["EquipmentPlans"][0]["EquipmentID"], "p1");
  EXPECT_EQ(plan["EquipmentPlans"][0]["ChargeNow"], 1);
  expect_consistent(area, plan, pulled("orderly_query_flexibility"), 22);

  // Pushed every push_interval_s, newest only like the other snapshots.
  for (int i = 0; i < 2; ++i) drill.minute();
  for (const char* kind : {"orderly_notification_area_load", "orderly_notification_charging_plan",
                           "orderly_notification_flexibility"})
    EXPECT_TRUE(wait_until([&] { return !drill.site.platform.pushes(kind).empty(); })) << kind;
  const json pushed = drill.site.platform.pushes("orderly_notification_flexibility").back().data;
  EXPECT_EQ(pushed["StationID"], "S-001");
  EXPECT_FALSE(pushed["UpPower"].empty());
}

TEST(PlatformExtension, AStandardPlatformIsNotPushedTheExtensions) {
  DrSite drill;  // push_extensions off: the default
  for (int i = 0; i < 3; ++i) drill.minute();
  ASSERT_TRUE(wait_until([&] { return !drill.site.platform.pushes("notification_realtime_power_info").empty(); }))
      << "the periodic pushes ran";
  ASSERT_TRUE(wait_until([&] { return drill.site.status()["platform"].value("queued", -1) == 0; }));
  for (const auto& push : drill.site.platform.pushes()) EXPECT_FALSE(push.kind.starts_with("orderly_")) << push.kind;
}

struct Reply {
  long status = 0;
  json body;
};

// One request of the platform's, with its token.
Reply call(const std::string& method, const std::string& url, const std::string& token, const std::string& body = {}) {
  const HttpReply answer =
      http_call(method, url, body, {"Authorization: Bearer " + token, "Content-Type: application/json"});
  return {answer.status, json::parse(answer.body, nullptr, false)};
}

TEST(PlatformRest, APlatformTokenReadsTheSameDataAndSendsDrEvents) {
  DrSite drill;
  const std::string token = gateway::Accounts(drill.site.config.store.path).add("city", web::Role::platform, "", {});
  const std::string api = drill.site.web_url() + "/api/v1";
  drill.minute();

  EXPECT_EQ(call("GET", api + "/platform/area-load", "forged").status, 401);
  const Reply stations = call("GET", api + "/platform/stations", token);
  ASSERT_EQ(stations.status, 200) << stations.body;
  EXPECT_EQ(stations.body["StationInfos"][0]["StationID"], "S-001");
  const Reply status = call("GET", api + "/platform/station-status", token);
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.body["ConnectorStatusInfos"][0]["Status"], 3);
  EXPECT_EQ(call("GET", api + "/platform/nothing", token).status, 404);
  EXPECT_EQ(call("POST", api + "/platform/plan", token, "{}").status, 405);

  // A DR event as the platform: a reduction with a type; the same books as over T/CEC.
  const Reply added = call("POST", api + "/dr-events", token,
                           R"({"id": "rest-1", "type": "peak-shaving", "start": "2026-01-05T18:00",
                               "end": "2026-01-05T19:00", "limit_kw": 22})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.body["event"]["source"], "platform");
  EXPECT_EQ(call("POST", api + "/dr-events", token,
                 R"({"start": "2026-01-05T18:00", "end": "2026-01-05T19:00", "limit_kw": 5, "reduction_kw": 5})")
                .status,
            400);
  drill.minute();
  const Reply area = call("GET", api + "/platform/area-load", token);
  const Reply plan = call("GET", api + "/platform/plan", token);
  const Reply flex = call("GET", api + "/platform/flexibility", token);
  ASSERT_EQ(area.status, 200);
  expect_consistent(area.body, plan.body, flex.body, 22);

  while (drill.site.clock.now() < gateway::testing::january_2026(5, 19, 1)) drill.minute();
  const Reply results = call("GET", api + "/platform/dr-results", token);
  ASSERT_EQ(results.status, 200);
  ASSERT_EQ(results.body["results"].size(), 1u);
  EXPECT_EQ(results.body["results"][0]["EventID"], "rest-1");
  EXPECT_EQ(results.body["results"][0]["Slots"].size(), 4u);
  ASSERT_TRUE(wait_until([&] { return drill.site.platform.pushes(kResult).size() == 1; })) << "and pushed";
}

}  // namespace
}  // namespace orderly::test

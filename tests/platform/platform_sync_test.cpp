// The gateway and a platform simulator over real HTTP on loopback: the platform's pulls, the
// gateway's pushes from the durable outbox, the Ret codes of bad requests, token renewal, and
// the outage drill (a simulated day without the platform, with and without a gateway restart).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/gateway/store.hpp"
#include "platform_site.hpp"

namespace orderly::test {
namespace {

using namespace std::chrono;
using drivers::ChargerState;
using gateway::tcec::Ret;
using json = nlohmann::json;

constexpr const char* kOrder = "notification_charge_order_info";
constexpr const char* kStatus = "notification_stationStatus";

// The T/CEC statuses the platform has for `connector`, in arrival order.
std::vector<int> statuses_of(const PlatformSim& platform, const std::string& connector) {
  std::vector<int> out;
  for (const auto& p : platform.pushes(kStatus))
    if (p.data["ConnectorStatusInfo"]["ConnectorID"] == connector) out.push_back(p.data["ConnectorStatusInfo"]["Status"]);
  return out;
}

std::vector<std::string> order_ids(const PlatformSim& platform) {
  std::vector<std::string> out;
  for (const auto& p : platform.pushes(kOrder)) out.push_back(p.data["StartChargeSeq"]);
  return out;
}

bool all_delivered(const PlatformSite& site) {
  for (const auto& e : site.outbox())
    if (!e.delivered_at) return false;
  return true;
}

TEST(PlatformPull, EveryInterfaceAnswersWithinOneSecond) {
  PlatformSite site;
  site.online("p1");
  site.online("p2");
  site.car("p1", ChargerState::plugged, 0, 0);
  site.clock.advance(minutes(1));
  site.car("p1", ChargerState::charging, 7000, 120);

  const auto info = site.platform.pull(site.web_url(), "query_stations_info", {{"PageNo", 1}, {"PageSize", 10}});
  ASSERT_TRUE(info.decoded.ok()) << info.decoded.error;
  EXPECT_EQ(info.decoded.value.ret, Ret::ok) << info.decoded.value.msg;
  EXPECT_LT(info.took, seconds(1));
  const json& station = info.decoded.value.data["StationInfos"][0];
  EXPECT_EQ(station["StationID"], "S-001");
  EXPECT_EQ(station["EquipmentInfos"].size(), 2u);
  EXPECT_EQ(station["EquipmentInfos"][0]["ConnectorInfos"][0]["ConnectorID"], "p1");

  const auto status = site.platform.pull(site.web_url(), "query_station_status", {{"StationIDs", {"S-001", "other"}}});
  ASSERT_EQ(status.decoded.value.ret, Ret::ok) << status.decoded.value.msg;
  EXPECT_LT(status.took, seconds(1));
  EXPECT_EQ(status.decoded.value.data["Total"], 1);
  const json& connectors = status.decoded.value.data["StationStatusInfos"][0]["ConnectorStatusInfos"];
  EXPECT_EQ(connectors[0], json({{"ConnectorID", "p1"}, {"Status", 3}, {"ParkStatus", 0}, {"LockStatus", 0}}));
  EXPECT_EQ(connectors[1]["Status"], 1);

  const std::string seq = on_core(site.running().io(), [&] { return site.gateway().sessions().open_session("p1")->id; });
  const auto equip = site.platform.pull(site.web_url(), "query_equip_charge_status", {{"StartChargeSeq", seq}});
  ASSERT_EQ(equip.decoded.value.ret, Ret::ok) << equip.decoded.value.msg;
  EXPECT_LT(equip.took, seconds(1));
  EXPECT_EQ(equip.decoded.value.data["ConnectorStatus"], 3);
  EXPECT_DOUBLE_EQ(equip.decoded.value.data["TotalPower"], 0.12);

  const auto stats = site.platform.pull(site.web_url(), "query_station_stats",
                                        {{"StationID", "S-001"}, {"StartTime", "2026-01-05"}, {"EndTime", "2026-01-05"}});
  ASSERT_EQ(stats.decoded.value.ret, Ret::ok) << stats.decoded.value.msg;
  EXPECT_LT(stats.took, seconds(1));
  EXPECT_EQ(stats.decoded.value.data["StationStats"]["StationID"], "S-001");
  EXPECT_EQ(stats.decoded.value.data["StationStats"]["EquipmentStatsInfos"].size(), 2u);
}

TEST(PlatformPull, BadRequestsGetTheirRetCodeSigned) {
  PlatformSite site;
  const std::string url = site.web_url();
  PlatformSim& p = site.platform;
  // A token first, so the other refusals are not just 4002.
  ASSERT_EQ(p.pull(url, "query_stations_info", json::object()).decoded.value.ret, Ret::ok);
  const std::string bearer = "Bearer " + p.pull_token();
  const auto ret_of = [](const PlatformSim::Answer& a) {
    EXPECT_TRUE(a.decoded.ok()) << "the refusal must be signed with the pull secrets: " << a.decoded.error;
    return a.decoded.value.ret;
  };

  json body = json::parse(p.envelope({{"StationIDs", {"S-001"}}}));
  body["Sig"] = "00000000000000000000000000000000";
  EXPECT_EQ(ret_of(p.post(url, "query_station_status", body.dump(), bearer)), Ret::signature);

  body = json::parse(p.envelope({{"StationIDs", {"S-001"}}}));
  body.erase("Seq");
  EXPECT_EQ(ret_of(p.post(url, "query_station_status", body.dump(), bearer)), Ret::envelope);

  EXPECT_EQ(ret_of(p.post(url, "query_station_status", p.envelope({{"StationIDs", {"S-001"}}}), "")), Ret::token);
  EXPECT_EQ(ret_of(p.post(url, "query_station_status", p.envelope({{"StationIDs", {"S-001"}}}), "Bearer forged")),
            Ret::token);

  // Data that decrypts to something other than JSON, and a business field missing.
  const auto s = pull_secrets();
  const std::string data = gateway::tcec::encrypt_data("not json", s);
  const json not_json = {{"OperatorID", "MA0CITY01"}, {"Data", data}, {"TimeStamp", "20261207083000"}, {"Seq", "0001"},
                         {"Sig", gateway::tcec::hmac_md5_hex(s.sig_secret, "MA0CITY01" + data + "202612070830000001")}};
  EXPECT_EQ(ret_of(p.post(url, "query_station_status", not_json.dump(), bearer)), Ret::data);
  const auto missing = p.post(url, "query_station_status", p.envelope({{"Stations", {"S-001"}}}), bearer);
  EXPECT_EQ(ret_of(missing), Ret::data);
  EXPECT_THAT(missing.decoded.value.msg, ::testing::HasSubstr("StationIDs"));

  // query_token with the wrong secret: answered, refused in Data.
  const auto wrong = p.post(url, "query_token", p.envelope({{"OperatorID", "MA0CITY01"}, {"OperatorSecret", "nope"}}), "");
  EXPECT_EQ(ret_of(wrong), Ret::ok);
  EXPECT_EQ(wrong.decoded.value.data["SuccStat"], 1);
  EXPECT_EQ(wrong.decoded.value.data["FailReason"], 2);
}

TEST(PlatformPush, StatusChangesAndTheOrderArriveWithChargeDetailsPerPeriod) {
  PlatformSite site;
  site.online("p1");
  // 06:00: the session runs from the valley into the flat period at 07:00.
  site.clock.advance(hours(6));
  site.session("p1", 14);  // two hours at 7 kW
  ASSERT_TRUE(wait_until([&] { return site.platform.pushes(kOrder).size() == 1 && all_delivered(site); }))
      << "the order and the status changes reach the platform";
  EXPECT_THAT(statuses_of(site.platform, "p1"), ::testing::ElementsAre(1, 2, 3, 1));
  const json order = site.platform.pushes(kOrder)[0].data;
  EXPECT_DOUBLE_EQ(order["TotalPower"], 14);
  EXPECT_EQ(order["StartTime"], "2026-01-05 06:00:00");
  ASSERT_EQ(order["SumPeriod"], 2);
  const json& details = order["ChargeDetails"];
  EXPECT_EQ(details[0]["DetailStartTime"], "2026-01-05 07:00:00");  // flat, in tariff order
  EXPECT_DOUBLE_EQ(details[0]["ElecPrice"], 0.6);
  EXPECT_EQ(details[1]["DetailStartTime"], "2026-01-05 06:00:00");  // valley
  EXPECT_DOUBLE_EQ(details[1]["ElecPrice"], 0.3);
  EXPECT_NEAR(details[0]["DetailPower"].get<double>() + details[1]["DetailPower"].get<double>(), 14, 0.02);
  EXPECT_NEAR(order["TotalElecMoney"].get<double>(),
              details[0]["DetailElecMoney"].get<double>() + details[1]["DetailElecMoney"].get<double>(), 0.02);
  EXPECT_FALSE(site.platform.pushes("notification_equip_charge_status").empty()) << "pushed while charging";
  EXPECT_FALSE(site.platform.pushes("notification_realtime_power_info").empty());
  EXPECT_EQ(site.platform.duplicates(), 0);

  ASSERT_TRUE(wait_until([&] { return site.status()["platform"].value("queued", -1) == 0; }));
  const json status = site.status()["platform"];
  EXPECT_TRUE(status["enabled"]);
  EXPECT_TRUE(status["last_delivered_at"].is_string());
  EXPECT_EQ(status["last_error"], "");
}

TEST(PlatformPush, A4002RenewsTheTokenAndSendsAgainOnce) {
  PlatformSite site;
  site.online("p1");
  ASSERT_TRUE(wait_until([&] { return statuses_of(site.platform, "p1").size() == 1; }));
  EXPECT_EQ(site.platform.tokens_issued(), 1);
  site.platform.revoke_tokens();
  site.car("p1", ChargerState::plugged, 0, 0);
  ASSERT_TRUE(wait_until([&] { return statuses_of(site.platform, "p1").size() == 2; }));
  EXPECT_EQ(site.platform.tokens_issued(), 2);
  for (const auto& e : site.outbox()) {
    if (e.message.kind != kStatus) continue;
    EXPECT_EQ(e.attempts, 1) << "the renewal and the resend are one attempt";
  }
}

// While the platform is away, sessions run through a simulated day; when it is back, every
// message reaches it exactly once, each kind in the order it was written.
void outage_drill(bool restart_midway) {
  PlatformSite site;
  site.online("p1");
  site.online("p2");
  ASSERT_TRUE(wait_until([&] { return statuses_of(site.platform, "p2").size() == 1; }));
  site.platform.stop();

  std::vector<std::string> sessions;
  std::vector<int> p1_expected = {1};  // idle
  const TimePoint back = site.clock.now() + hours(24);
  for (int i = 0; site.clock.now() < back - hours(2); ++i) {
    const std::string pile = i % 2 ? "p2" : "p1";
    sessions.push_back(site.session(pile, 7));  // an hour
    if (pile == "p1") p1_expected.insert(p1_expected.end(), {2, 3, 1});
    site.clock.advance(minutes(30));
    if (restart_midway && i == 8) {
      site.stop_gateway();
      site.start_gateway();
      site.online("p1");  // a restarted gateway reports every pile's status afresh
      site.online("p2");
      p1_expected.push_back(1);
    }
  }
  site.clock.set(back);
  EXPECT_GE(sessions.size(), 14u);
  EXPECT_TRUE(site.platform.pushes(kOrder).empty());
  ASSERT_TRUE(wait_until([&] { return site.status()["platform"].value("last_error", "") != ""; }))
      << "the status names why nothing is delivered";
  EXPECT_GE(site.status()["platform"].value("oldest_queued_age_s", 0), 20 * 3600);
  // /healthz names the stuck outbox (docs/web-api.md "Monitoring").
  const auto outbox_check = [&] {
    return on_core(site.running().io(), [&] {
      for (const auto& c : site.gateway().health())
        if (c.name == "platform_outbox") return c;
      return web::HealthCheck{"no platform_outbox check", false, ""};
    });
  };
  EXPECT_FALSE(outbox_check().ok) << outbox_check().detail;

  site.platform.start();
  // Every retry is due once the clock passes retry_max_s. A pass that was failing while the
  // platform came back reschedules its message from the advanced clock, so the clock moves on
  // again (once a second, as time would) until the outbox is empty.
  auto advanced_at = std::chrono::steady_clock::now();
  std::size_t extra_advances = 0;  // each is a new due snapshot
  site.clock.advance(seconds(site.config.platform.retry_max_s));
  ASSERT_TRUE(wait_until([&] {
    if (all_delivered(site)) return true;
    if (std::chrono::steady_clock::now() - advanced_at > seconds(1)) {
      advanced_at = std::chrono::steady_clock::now();
      site.clock.advance(seconds(site.config.platform.retry_max_s));
      ++extra_advances;
    }
    return false;
  }, seconds(60))) << "the outbox drains";
  EXPECT_TRUE(wait_until([&] { return outbox_check().ok; })) << outbox_check().detail;
  EXPECT_EQ(order_ids(site.platform), sessions);
  EXPECT_EQ(statuses_of(site.platform, "p1"), p1_expected);
  EXPECT_EQ(site.platform.duplicates(), 0);
  // Periodic snapshots are newest-only: a few station loads, not one a minute for a day.
  EXPECT_LE(site.platform.pushes("notification_realtime_power_info").size(), 4u + extra_advances);
}

TEST(PlatformOutage, ADayWithoutThePlatformLosesNothing) { outage_drill(false); }

TEST(PlatformOutage, ADayWithoutThePlatformAndARestartLosesNothing) { outage_drill(true); }

}  // namespace
}  // namespace orderly::test

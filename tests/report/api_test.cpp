// Gateway::handle_api on a gateway that is constructed but not started (no devices, no sockets):
// routes, parameters, errors and the answers built from a real SQLite file written through Store.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/report.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"
#include "report_site.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

constexpr minutes kOffset = testing::kSiteOffset;
using testing::local;

std::string config_text(const std::filesystem::path& db) {
  return testing::two_pile_site("[store]\npath = \"" + db.string() + "\"\n");
}

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : clock_(local(2026, 1, 20, 21)),
        gateway_(io_, clock_, parse_config(config_text(dir_ / "orderly.db"), "api_test.toml")) {
    Store store(dir_ / "orderly.db");
    store.write(session("jan-a", "p1", "1-101", local(2026, 1, 5, 22), 9000));
    store.write(session("jan-b", "s1", "2-202", local(2026, 1, 6, 19), 4000));
    store.write(session("dec", "p1", "1-101", local(2025, 12, 31, 23, 59), 1000));
    MeterSample m;
    m.at = local(2026, 1, 5, 19);
    m.meter_id = "tm";
    m.power_w = 48000;
    store.write(m);
  }

  static SessionRecord session(const std::string& id, const std::string& charger, const std::string& household,
                               TimePoint started, double valley_wh) {
    SessionRecord s;
    s.id = id;
    s.charger_id = charger;
    s.household = household;
    s.is_private = charger == "p1";
    s.max_power_w = 7000;
    s.started_at = started;
    s.ended_at = started + hours(8);
    s.energy_wh_by_period[period_index(Period::valley)] = valley_wh;
    s.energy_wh = valley_wh;
    s.cost_yuan = round_yuan(valley_wh / 1000 * 0.3);
    return s;
  }

  web::ApiResponse call(const std::string& method, const std::string& path,
                        std::map<std::string, std::string> query = {}, std::string body = {}) {
    return gateway_.handle_api({method, path, std::move(query), std::move(body)});
  }
  static json body(const web::ApiResponse& r) { return json::parse(r.body); }

  orderly::test::TempDir dir_;
  boost::asio::io_context io_;
  ManualClock clock_;
  Gateway gateway_;
};

TEST_F(ApiTest, KpiDefaultsToTheCurrentLocalMonthUntilNow) {
  const auto r = call("GET", "/api/v1/kpi");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  const auto k = body(r);
  EXPECT_EQ(k["from"], "2026-01-01T00:00:00+08:00");
  EXPECT_EQ(k["to"], "2026-01-20T21:00:00+08:00");
  EXPECT_EQ(k["valley_share"]["sessions"], 2);
  EXPECT_EQ(k["valley_share"]["charged_kwh"], 13.0);
  EXPECT_EQ(k["transformer"]["peak_kw"], 48.0);
  EXPECT_EQ(k["transformer"]["peak_at"], "2026-01-05T19:00:00+08:00");
}

TEST_F(ApiTest, KpiTimesInEveryAcceptedSpelling) {
  for (const auto& [given, expected] : std::vector<std::pair<std::string, std::string>>{
           {"2026-01-05", "2026-01-05T00:00:00+08:00"},
           {"2026-01-05T07:30", "2026-01-05T07:30:00+08:00"},
           {"2026-01-05T07:30:15+08:00", "2026-01-05T07:30:15+08:00"},
           {"2026-01-04T23:30:00Z", "2026-01-05T07:30:00+08:00"},
           {"2026-01-05T07:30:00 08:00", "2026-01-05T07:30:00+08:00"},  // '+' arrived unencoded
           {"2026-01-05T00:30-01:00", "2026-01-05T09:30:00+08:00"},
       }) {
    const auto r = call("GET", "/api/v1/kpi", {{"from", given}, {"to", "2026-01-10"}});
    ASSERT_EQ(r.status, 200) << given << ": " << r.body;
    EXPECT_EQ(body(r)["from"], expected) << given;
  }
}

TEST_F(ApiTest, KpiParameterErrorsNameTheField) {
  struct Case {
    std::map<std::string, std::string> query;
    std::string field;
  };
  for (const auto& c : {Case{{{"from", "yesterday"}}, "from"}, Case{{{"to", "2026-02-30"}}, "to"},
                        Case{{{"from", "2026-01-05T25:00"}}, "from"},
                        Case{{{"from", "2026-01-10"}, {"to", "2026-01-05"}}, "to"},
                        Case{{{"from", "2024-01-01"}, {"to", "2026-01-01"}}, "to"},
                        Case{{{"form", "2026-01-01"}}, "form"}}) {
    const auto r = call("GET", "/api/v1/kpi", c.query);
    EXPECT_EQ(r.status, 400) << r.body;
    const auto b = body(r);
    EXPECT_EQ(b["field"], c.field) << r.body;
    EXPECT_EQ(b["path"], "/api/v1/kpi");
    EXPECT_FALSE(b["error"].get<std::string>().empty());
  }
  const auto wrong = call("POST", "/api/v1/kpi");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET");
}

TEST_F(ApiTest, SessionsInAPeriodFilteredByHousehold) {
  const auto all = call("GET", "/api/v1/sessions", {{"from", "2026-01-01"}, {"to", "2026-02-01"}});
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(body(all)["sessions"].size(), 2u);
  const auto one = call("GET", "/api/v1/sessions", {{"from", "2025-12-01"}, {"household", "1-101"}});
  ASSERT_EQ(one.status, 200) << one.body;
  const auto list = body(one)["sessions"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], "dec");
  EXPECT_EQ(list[1]["id"], "jan-a");
  EXPECT_EQ(list[1]["energy_kwh_by_period"]["valley"], 9.0);
  EXPECT_EQ(body(one)["truncated"], false);
}

TEST_F(ApiTest, StatementCsvIsADownloadAndJsonHasTheRows) {
  const auto csv = call("GET", "/api/v1/statements/2026-01.csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.download_name, "orderly-statement-2026-01.csv");
  EXPECT_EQ(csv.body.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_NE(csv.body.find("2026-01,1-101,,1,"), std::string::npos) << csv.body;
  EXPECT_EQ(csv.body.find("2025-12"), std::string::npos);

  const auto rows = call("GET", "/api/v1/statements/2026-01.json");
  ASSERT_EQ(rows.status, 200) << rows.body;
  const auto b = body(rows);
  EXPECT_EQ(b["month"], "2026-01");
  ASSERT_EQ(b["rows"].size(), 2u);
  EXPECT_EQ(b["rows"][1]["household"], "2-202");
  EXPECT_EQ(b["rows"][1]["energy_kwh"], 4.0);
  EXPECT_EQ(b["rows"][1]["cost_yuan"], 1.2);
}

TEST_F(ApiTest, UnknownMonthOrBadNameIs404) {
  for (const char* path : {"/api/v1/statements/2026-03.csv", "/api/v1/statements/2026-13.csv",
                           "/api/v1/statements/2026-01.xlsx", "/api/v1/statements/january.json"}) {
    const auto r = call("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(body(r)["path"], path);
  }
}

TEST_F(ApiTest, UnknownChargerIs404AndMethodsAreChecked) {
  EXPECT_EQ(call("GET", "/api/v1/chargers/zz/session").status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/chargers/zz/request", {}, "{}").status, 404);
  const auto wrong = call("POST", "/api/v1/chargers/p1/request", {}, "{}");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "PUT");
  const auto session = call("GET", "/api/v1/chargers/p1/session");
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(body(session)["charger"], "p1");
  EXPECT_TRUE(body(session)["session"].is_null());  // nothing plugged in
  EXPECT_EQ(call("GET", "/api/v1/nothing").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/chargers/p1/other").status, 404);
}

TEST_F(ApiTest, RequestBodyErrorsNameTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  for (const auto& c : {Case{R"({"departure": "25:00"})", "departure"},
                        Case{R"({"departure": 730})", "departure"},
                        Case{R"({"energy_kwh": "20"})", "energy_kwh"},
                        Case{R"({"boost": "yes"})", "boost"},
                        Case{R"({"not_before": "soon"})", "not_before"},
                        Case{R"({"household": 3})", "household"},
                        Case{R"({"departure_time": "07:30"})", "departure_time"}}) {
    const auto r = call("PUT", "/api/v1/chargers/p1/request", {}, c.body);
    EXPECT_EQ(r.status, 400) << c.body << ": " << r.body;
    EXPECT_EQ(body(r)["field"], c.field) << r.body;
  }
  for (const char* bad : {"", "[1]", "{\"departure\":"}) {
    const auto r = call("PUT", "/api/v1/chargers/p1/request", {}, bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(body(r)["error"].get<std::string>().find("JSON object"), std::string::npos);
  }
}

// Issue 16: a body that fits max_body_bytes but nests 32 Ki levels deep crashed a Debug build
// when the error message quoted the value. Now it is a 400 naming the limit, for both bodies.
// Found by the api_body and http_request fuzz targets: such years overflowed TimePoint.
TEST_F(ApiTest, DatesBeyondTheRepresentableYearsAreRefused) {
  const auto dr = call("POST", "/api/v1/dr-events", {},
                       R"({"id": "evening-1", "start": "7228-01-20T18:00", "end": "2026-01-20T20:00", "limit_kw": 60})");
  EXPECT_EQ(dr.status, 400) << dr.body;
  const auto kpi = call("GET", "/api/v1/kpi", {{"from", "0226-01-01"}, {"to", "2026-01-20T21:00"}}, "");
  EXPECT_EQ(kpi.status, 400) << kpi.body;
  const auto statement = call("GET", "/api/v1/statements/9999-01.csv", {}, "");
  EXPECT_EQ(statement.status, 404) << statement.body;
}

TEST_F(ApiTest, DeeplyNestedBodyIsRefusedWithTheLimit) {
  const std::string deep = std::string(32 * 1024, '[') + std::string(32 * 1024, ']');
  for (const auto& [method, path] : {std::pair{"PUT", "/api/v1/chargers/p1/request"}, std::pair{"POST", "/api/v1/dr-events"}}) {
    for (const std::string& b : {deep, "{\"energy_kwh\": " + deep.substr(16 * 1024, 32 * 1024) + "}"}) {
      const auto r = call(method, path, {}, b);
      EXPECT_EQ(r.status, 400) << path;
      EXPECT_NE(body(r)["error"].get<std::string>().find("nested deeper than 32 levels"), std::string::npos) << r.body;
    }
  }
  const auto big = call("PUT", "/api/v1/chargers/p1/request", {}, "{\"household\": \"" + std::string(70000, 'x') + "\"}");
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(body(big)["error"].get<std::string>().find("over the limit of 65536 bytes"), std::string::npos) << big.body;
}

TEST_F(ApiTest, StoreReadsAreAnsweredFromAWorkerBackOnTheCoreThread) {
  const web::ApiRequest kpi{"GET", "/api/v1/kpi", {{"from", "2026-01-01"}}, ""};
  std::optional<web::ApiResponse> answer;
  std::thread::id answered_on;
  gateway_.handle_api_async(kpi, [&](web::ApiResponse r) {
    answer = std::move(r);
    answered_on = std::this_thread::get_id();
  });
  // The worker's work guard keeps run() going until its answer has been handed over.
  io_.run();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answered_on, std::this_thread::get_id());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, gateway_.handle_api(kpi).body);

  // Anything that touches the gateway's own state is answered at once, on the caller's thread.
  bool at_once = false;
  gateway_.handle_api_async({"GET", "/api/v1/chargers/p1/session", {}, ""},
                            [&](web::ApiResponse r) { at_once = r.status == 200; });
  EXPECT_TRUE(at_once);
}

TEST_F(ApiTest, WorkerErrorsAreAnswersToo) {
  std::optional<web::ApiResponse> answer;
  gateway_.handle_api_async({"GET", "/api/v1/kpi", {{"from", "tomorrow"}}, ""},
                            [&](web::ApiResponse r) { answer = std::move(r); });
  io_.run();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 400);
  EXPECT_EQ(body(*answer)["field"], "from");
}

}  // namespace
}  // namespace orderly::gateway

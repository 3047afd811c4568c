// GET /healthz and GET /metrics over real HTTP against a whole Gateway (real SQLite store,
// real Beast server, libcurl and a Beast client as the monitoring system): every scrape parses
// line by line as the Prometheus text format, the counters move with what the gateway does, and
// health names each check and, with 503, the one failing (a silent meter, a failing disk, a
// stalled control loop).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "../system/system_support.hpp"
#include "config_text.hpp"
#include "exposition_check.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/test/gateway_support.hpp"
#include "routes.hpp"

namespace orderly {
namespace {

using namespace std::chrono;
using json = nlohmann::json;
namespace beast = boost::beast;

// A private pile (household 1-1-101, phase A), a shared one (phase B) and the transformer meter.
std::string site_config(const std::filesystem::path& db) {
  test::SiteToml site;
  site.db = db;
  site.limit_kw = 100;
  std::string text = test::site_toml(site) + "[[meter]]\nid = \"tx-meter\"\nrole = \"transformer\"\n";
  text += "[[charger]]\nid = \"p1\"\nkind = \"private\"\nhousehold = \"1-1-101\"\nphase = \"A\"\nmax_power_kw = 7\n";
  text += "[[charger]]\nid = \"p2\"\nkind = \"shared\"\nphase = \"B\"\nmax_power_kw = 7\n";
  return text;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

// One request with the Beast client, so a scrape can carry any header (a scraper's Bearer token).
struct Answer {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};
Answer beast_get(std::uint16_t port, const std::string& target, const std::string& authorization = {}) {
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(seconds(10));
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  beast::http::request<beast::http::empty_body> request{beast::http::verb::get, target, 11};
  request.set(beast::http::field::host, "127.0.0.1");
  if (!authorization.empty()) request.set(beast::http::field::authorization, authorization);
  beast::http::write(stream, request);
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> response;
  beast::http::read(stream, buffer, response);
  return {response.result_int(), std::string(response[beast::http::field::content_type]), response.body()};
}

class MetricsApi : public ::testing::Test {
 protected:
  MetricsApi() {
    const auto db = dir_.path() / "orderly.db";
    test::add_test_operator(db);
    gateway::Accounts accounts(db);
    accounts.add("wang", web::Role::resident, "1-1-101", {}, std::string(kPassword));
    scraper_token_ = accounts.add("prometheus", web::Role::platform, "", {});

    auto config = gateway::parse_config(site_config(db), "metrics.toml");
    config.web.port = 0;
    gateway::GatewayOptions options;
    options.devices = [this](const drivers::DeviceEvents& events) {
      events_ = events;
      std::map<std::string, std::shared_ptr<drivers::ChargerDriver>> drivers;
      for (const char* id : {"p1", "p2"}) drivers[id] = std::make_shared<test::IdleCharger>(id);
      return drivers;
    };
    options.store.flush_interval = milliseconds(20);
    options.store.before_commit = [this] {
      if (disk_fails_) throw std::runtime_error("disk I/O error (injected)");
    };
    site_ = std::make_unique<test::RunningGateway>(clock_, config, std::move(options));
    base_ = site_->web_url();
  }

  // Device reports as the drivers deliver them, on the core thread.
  void meter_reads(double power_kw) {
    test::on_core(site_->io(), [&] {
      drivers::MeterSnapshot m;
      m.at = clock_.now();
      m.power_w = power_kw * 1000;
      events_.meter_snapshot("tx-meter", m);
      return 0;
    });
  }
  void charger_online(const std::string& id) {
    test::on_core(site_->io(), [&] {
      drivers::Health h;
      h.online = true;
      h.errors = 2;
      h.dropped = 5;
      events_.health(id, h);
      drivers::ChargerSnapshot s;
      s.at = clock_.now();
      s.state = drivers::ChargerState::plugged;
      s.power_w = 0;
      events_.charger_snapshot(id, s);
      return 0;
    });
  }
  void add_dr_event(const std::string& id) {
    test::on_core(site_->io(), [&] {
      site_->gateway().add_dr_event({id, clock_.now() + hours(1), clock_.now() + hours(2), 50, "operator"});
      return 0;
    });
  }

  test::Exposition scrape() {
    const auto r = test::http("GET", base_ + "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    auto parsed = test::check_exposition(r.body);
    EXPECT_TRUE(parsed.errors.empty()) << joined(parsed.errors) << "\n" << r.body;
    return parsed;
  }
  json healthz(long* status = nullptr) {
    const auto r = test::http_once("GET", base_ + "/healthz", "", 5000, nullptr);
    if (status) *status = r.status;
    return json::parse(r.body, nullptr, false);
  }

  static constexpr const char* kPassword = "correct horse battery";
  test::TempDir dir_;
  ManualClock clock_{gateway::testing::january_2026(20, 12, 0)};
  drivers::DeviceEvents events_;
  std::atomic<bool> disk_fails_{false};
  std::string scraper_token_;
  std::unique_ptr<test::RunningGateway> site_;
  std::string base_;
};

TEST_F(MetricsApi, EveryLineOfAScrapeIsValidAndTheCountersFollowTheGateway) {
  meter_reads(40);
  charger_online("p1");
  add_dr_event("evening");
  // Limits go out once a step has seen the pile online.
  ASSERT_TRUE(test::wait_until([&] {
    const auto m = scrape();
    const auto sent = m.series.lower_bound(R"(orderly_limits_sent_total{link="mqtt")");
    return m.errors.empty() && m.series.count(R"(orderly_replans_total{reason="dr-event"})") &&
           sent != m.series.end() && sent->first.starts_with(R"(orderly_limits_sent_total{link="mqtt")");
  })) << test::http("GET", base_ + "/metrics").body;

  const auto m = scrape();
  for (const char* family :
       {"orderly_core_loop_latency_seconds", "orderly_control_steps_total", "orderly_replans_total",
        "orderly_planner_seconds", "orderly_devices_online", "orderly_device_reports_total",
        "orderly_limits_sent_total", "orderly_device_errors_total", "orderly_device_timeouts_total",
        "orderly_device_messages_dropped_total", "orderly_store_queue_records", "orderly_store_write_failures_total",
        "orderly_store_dropped_records_total", "orderly_http_responses_total", "orderly_websocket_clients"})
    EXPECT_TRUE(m.types.count(family)) << family;
  EXPECT_EQ(m.types.at("orderly_planner_seconds"), "histogram");
  EXPECT_GE(m.series.at("orderly_planner_seconds_count"), 2);  // the start's and the DR event's
  EXPECT_GE(m.series.at("orderly_control_steps_total"), 1);
  EXPECT_EQ(m.series.at(R"(orderly_devices_online{link="mqtt",kind="private_charger"})"), 1);
  EXPECT_EQ(m.series.at(R"(orderly_devices_online{link="mqtt",kind="shared_charger"})"), 0);
  EXPECT_EQ(m.series.at(R"(orderly_devices_configured{link="mqtt",kind="transformer_meter"})"), 1);
  EXPECT_EQ(m.series.at(R"(orderly_device_reports_total{link="mqtt",type="meter_snapshot"})"), 1);
  EXPECT_EQ(m.series.at(R"(orderly_device_reports_total{link="mqtt",type="charger_snapshot"})"), 1);
  EXPECT_EQ(m.series.at(R"(orderly_device_errors_total{link="mqtt"})"), 2);
  EXPECT_EQ(m.series.at(R"(orderly_device_messages_dropped_total{link="mqtt"})"), 5);
  EXPECT_GE(m.series.at("orderly_store_committed_records_total"), 1);
  EXPECT_EQ(m.series.at("orderly_store_dropped_records_total"), 0);
  // The scrapes before this one, counted by the web server under their route.
  EXPECT_GE(m.series.at(R"(orderly_http_responses_total{method="GET",route="/metrics",code="200"})"), 1);

  // The same counts in the status API.
  const json status = json::parse(test::http("GET", base_ + "/api/v1/status").body);
  EXPECT_EQ(status["counters"]["devices"]["dropped"], 5);
  EXPECT_EQ(status["counters"]["devices"]["errors"], 2);
  EXPECT_EQ(status["counters"]["store"]["dropped_records"], 0);
  EXPECT_GE(status["counters"]["store"]["committed_records"].get<int>(), 1);
  EXPECT_EQ(status["chargers"][0]["dropped"], 5);
}

TEST_F(MetricsApi, WebSocketClientsAreCounted) {
  std::string cookie;
  const json login = {{"user", "wang"}, {"password", kPassword}};
  ASSERT_EQ(test::http_once("POST", base_ + "/api/v1/login", login.dump(), 5000, nullptr, &cookie).status, 200);
  EXPECT_EQ(scrape().series.at("orderly_websocket_clients"), 0);
  boost::asio::io_context io;
  beast::websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).expires_after(seconds(10));
  beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), site_->gateway().web_port()});
  ws.set_option(beast::websocket::stream_base::decorator(
      [&cookie](beast::websocket::request_type& r) { r.set(beast::http::field::cookie, cookie); }));
  ws.handshake("127.0.0.1", "/api/v1/live");
  EXPECT_TRUE(test::wait_until([&] { return scrape().series.at("orderly_websocket_clients") == 1; }));
  EXPECT_GE(scrape().series.at("orderly_http_connections"), 2);  // the socket and the scrape's own
  ws.close(beast::websocket::close_code::normal);
  EXPECT_TRUE(test::wait_until([&] { return scrape().series.at("orderly_websocket_clients") == 0; }));
}

TEST_F(MetricsApi, MetricsNeedStaffOrAScraperToken) {
  EXPECT_EQ(test::http_once("GET", base_ + "/metrics", "", 5000, nullptr).status, 401);
  std::string cookie;
  const json login = {{"user", "wang"}, {"password", kPassword}};
  ASSERT_EQ(test::http_once("POST", base_ + "/api/v1/login", login.dump(), 5000, nullptr, &cookie).status, 200);
  const test::ApiSession resident{cookie, ""};
  EXPECT_EQ(test::http_once("GET", base_ + "/metrics", "", 5000, &resident).status, 403);

  const Answer scraped = beast_get(site_->gateway().web_port(), "/metrics", "Bearer " + scraper_token_);
  EXPECT_EQ(scraped.status, 200u);
  EXPECT_EQ(scraped.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(test::check_exposition(scraped.body).errors.empty());
  EXPECT_EQ(beast_get(site_->gateway().web_port(), "/metrics", "Bearer made-up").status, 401u);
}

TEST_F(MetricsApi, HealthNamesEveryCheckAndAnswers503NamingTheFailingOne) {
  // No meter reading yet: the limiter cannot trust the transformer's load.
  long status = 0;
  json h = healthz(&status);
  EXPECT_EQ(status, 503) << h;
  EXPECT_EQ(h["failing"], json::array({"transformer_meter"})) << h;
  std::vector<std::string> names;
  for (const auto& c : h["checks"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"core_loop", "transformer_meter", "store"}));

  meter_reads(40);
  EXPECT_TRUE(test::wait_until([&] { return healthz(&status)["ok"] == true && status == 200; })) << healthz();
  // The old path answers the same truth.
  const auto legacy = test::http_once("GET", base_ + "/api/v1/health", "", 5000, nullptr);
  EXPECT_EQ(legacy.status, 200);
  EXPECT_EQ(json::parse(legacy.body)["checks"].size(), 3u);

  // The disk fails: the next record is given up on after its retries, and health says so.
  disk_fails_ = true;
  add_dr_event("during-failure");
  EXPECT_TRUE(test::wait_until([&] { return healthz(&status)["failing"] == json::array({"store"}); })) << healthz();
  EXPECT_EQ(status, 503);
  EXPECT_NE(healthz()["checks"][2]["detail"].get<std::string>().find("disk I/O error"), std::string::npos);
  EXPECT_GE(scrape().series.at("orderly_store_write_failures_total"), 3);
  EXPECT_GE(scrape().series.at("orderly_store_dropped_records_total"), 1);
  EXPECT_EQ(scrape().series.at("orderly_store_healthy"), 0);

  disk_fails_ = false;
  add_dr_event("after-failure");
  EXPECT_TRUE(test::wait_until([&] { return healthz(&status)["ok"] == true; })) << healthz();
  EXPECT_EQ(status, 200);

  // Public, so it names no household, pile or account.
  const std::string text = healthz().dump();
  for (const char* secret : {"1-1-101", "p1", "wang", test::kTestOperator}) EXPECT_EQ(text.find(secret), std::string::npos);
}

TEST_F(MetricsApi, TheMeterGoingSilentFailsItsCheck) {
  meter_reads(40);
  long status = 0;
  ASSERT_TRUE(test::wait_until([&] { return healthz(&status)["ok"] == true; })) << healthz();
  clock_.advance(seconds(11));  // beyond the 10 s a reading stays fresh
  // The control loop's next tick brings its heartbeat up to the new time; the meter stays silent.
  EXPECT_TRUE(test::wait_until([&] { return healthz(&status)["failing"] == json::array({"transformer_meter"}); }))
      << healthz();
  EXPECT_EQ(status, 503);
}

// A gateway driven on the test thread: its control loop runs only when the test pumps it, so a
// stalled loop is a clock moving on without a step.
TEST(CoreLoopHealth, AStalledControlLoopFailsItsCheck) {
  test::TempDir dir;
  auto config = gateway::parse_config(site_config(dir.path() / "orderly.db"), "metrics.toml");
  config.web.port = 0;
  config.meters.clear();  // only the loop is under test
  ManualClock clock{gateway::testing::january_2026(20, 12, 0)};
  boost::asio::io_context io;
  gateway::GatewayOptions options;
  options.devices = [](const drivers::DeviceEvents&) {
    return std::map<std::string, std::shared_ptr<drivers::ChargerDriver>>{};
  };
  options.static_dir = test::source_dir() / "web" / "static";
  gateway::Gateway gw(io, clock, config, std::move(options));
  const auto core_loop = [&] { return gw.health().at(0); };
  EXPECT_FALSE(core_loop().ok) << "not started";
  gw.start();
  test::pump(io);
  EXPECT_TRUE(core_loop().ok) << core_loop().detail;

  clock.advance(seconds(6));  // five ticks of the 1 s control period and one more, without a step
  EXPECT_EQ(core_loop().name, "core_loop");
  EXPECT_FALSE(core_loop().ok);
  EXPECT_EQ(core_loop().detail, "last control step 6.0 s ago (stuck beyond 5.0 s)");
  const auto [status, body] = web::health_answer(gw);
  EXPECT_EQ(status, beast::http::status::service_unavailable);
  EXPECT_EQ(json::parse(body)["failing"], json::array({"core_loop"})) << body;

  gw.control_step();
  EXPECT_TRUE(core_loop().ok);
  gw.stop();
}

}  // namespace
}  // namespace orderly

#include "fake_application.hpp"

#include <future>

#include <boost/asio/post.hpp>

#include "orderly/test/support.hpp"

namespace orderly::web::test {

nlohmann::json example_status() {
  nlohmann::json history = nlohmann::json::array();
  for (int hour = 0; hour < 24; ++hour) {
    const double base_kw = 180.0 + 120.0 * (hour >= 18 && hour <= 22 ? 1.0 : 0.3);
    history.push_back({{"time", "2026-01-05T" + std::string(hour < 10 ? "0" : "") +
                                    std::to_string(hour) + ":00:00+08:00"},
                       {"load_kw", base_kw + 20.0},
                       {"charging_kw", 20.0},
                       {"limit_kw", 400}});
  }
  return {
      {"time", "2026-01-05T20:15:00+08:00"},
      {"site",
       {{"name", "幸福里小区 1# 台区"},
        {"transformer_limit_kw", 400},
        {"load_kw", 320.5},
        {"base_load_kw", 280.0},
        {"charging_kw", 40.5},
        {"tariff_period", "peak"},
        {"price_per_kwh", 1.02},
        {"demo_speed", 60},
        {"meter_online", true}}},
      {"history", history},
      {"chargers",
       {{{"id", "c01"}, {"name", "3-1-101"}, {"kind", "private"}, {"phase", "A"},
         {"state", "charging"}, {"online", true}, {"power_kw", 7.0}, {"limit_kw", 7.0},
         {"max_kw", 7.0}, {"session_energy_kwh", 3.2}, {"failsafe", true}, {"household", "3-1-101"},
         {"error", ""}},
        {{"id", "c02"}, {"name", "3-2-502"}, {"kind", "private"}, {"phase", "B"},
         {"state", "plugged"}, {"online", true}, {"power_kw", 0.0}, {"limit_kw", 0.0},
         {"max_kw", 7.0}, {"session_energy_kwh", 0.0}, {"failsafe", true}, {"household", "3-2-502"},
         {"error", ""},
         {"session",
          {{"id", "c02-1767611400000"}, {"household", "3-2-502"},
           {"plugged_at", "2026-01-05T19:10:00+08:00"}, {"departure", "2026-01-06T07:30:00+08:00"},
           {"requested_kwh", 30.0}, {"delivered_kwh", 0.0}, {"request_source", "learned"},
           {"boost", false}, {"not_before", nullptr},
           {"plan",
            {{"start", "2026-01-05T23:00:00+08:00"}, {"finish", "2026-01-06T03:20:00+08:00"},
             {"expected_kwh", 30.0}, {"total_cost_yuan", 9.0}, {"feasible", true}, {"note", ""}}}}}},
        {{"id", "s01"}, {"name", "公共桩 1"}, {"kind", "shared"}, {"phase", "ABC"},
         {"state", "offline"}, {"online", false}, {"power_kw", 0.0}, {"limit_kw", nullptr},
         {"max_kw", 22.0}, {"session_energy_kwh", 0.0}, {"failsafe", false}, {"household", ""},
         {"error", "Modbus timeout after 3 tries"}}}},
      {"devices_offline", 1},
      {"dr_events",
       {{{"id", "grid-1"}, {"start", "2026-01-05T19:30:00+08:00"}, {"end", "2026-01-05T21:00:00+08:00"},
         {"limit_kw", 300.0}, {"source", "platform"}, {"active", true}}}}};
}

nlohmann::json large_status(int chargers, int history_points) {
  nlohmann::json status = example_status();
  const nlohmann::json charger = status["chargers"][0];
  const nlohmann::json point = status["history"][0];
  status["chargers"] = nlohmann::json::array();
  status["history"] = nlohmann::json::array();
  for (int i = 0; i < chargers; ++i) {
    auto c = charger;
    c["id"] = "c" + std::to_string(i);
    c["name"] = std::to_string(i / 100 + 1) + "-" + std::to_string(i % 100 + 101);
    status["chargers"].push_back(std::move(c));
  }
  for (int i = 0; i < history_points; ++i) {
    auto p = point;
    p["load_kw"] = 200.0 + (i % 97);
    status["history"].push_back(std::move(p));
  }
  return status;
}

ApiResponse example_api(const ApiRequest& request) {
  auto json = [](int status, const nlohmann::json& body) {
    return ApiResponse{status, "application/json; charset=utf-8", body.dump(), "", "", {}};
  };
  if (request.path == "/api/v1/kpi" && request.method == "GET") {
    return json(200, {{"from", "2026-01-01T00:00:00+08:00"},
                      {"to", "2026-01-05T20:15:00+08:00"},
                      {"valley_share",
                       {{"all", 0.724}, {"private", 0.861}, {"target_all", 0.6}, {"target_private", 0.8},
                        {"charged_kwh", 1234.5}, {"valley_kwh", 893.8}, {"private_charged_kwh", 1000.0},
                        {"private_valley_kwh", 861.0}, {"sessions", 120}}},
                      {"transformer",
                       {{"limit_kw", 400}, {"peak_kw", 385.2}, {"peak_at", "2026-01-03T19:41:00+08:00"},
                        {"minutes_above_limit", 0}, {"minutes_measured", 6015},
                        {"aggregate_slots", 0}, {"aggregate_slots_above_limit", 0}}},
                      {"requests", {{"with_request", 100}, {"met", 98}, {"share_met", 0.98}}},
                      {"cost",
                       {{"sessions", 120}, {"energy_kwh", 1234.5}, {"cost_yuan", 518.49},
                        {"per_kwh", 0.42}, {"uncontrolled_cost_yuan", 876.5},
                        {"uncontrolled_per_kwh", 0.71}, {"saving_yuan", 358.01}}}});
  }
  if (request.path.starts_with("/api/v1/statements/") && request.path.ends_with(".csv")) {
    return {200, "text/csv; charset=utf-8", "\xEF\xBB\xBFmonth,household\r\n2026-01,3-1-101\r\n",
            "orderly-statement-2026-01.csv", "", {}};
  }
  if (request.path.starts_with("/api/v1/chargers/") && request.path.ends_with("/request")) {
    if (request.method != "PUT") {
      return {405, "application/json; charset=utf-8",
              nlohmann::json{{"error", "use PUT"}, {"path", request.path}}.dump(), "", "PUT", {}};
    }
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return json(400, {{"error", "body must be a JSON object"}, {"path", request.path}});
    }
    return json(200, {{"ok", true}, {"request", body}});
  }
  if (request.path == "/api/v1/dr-events" && request.method == "POST") {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return json(400, {{"error", "body must be a JSON object"}, {"path", request.path}});
    }
    return json(201, {{"event", body}});
  }
  if (request.path.starts_with("/api/v1/dr-events/") && request.method == "DELETE") {
    return json(200, {{"cancelled", request.path.substr(18)}});
  }
  return json(404, {{"error", "no such API; see docs/web-api.md"}, {"path", request.path}});
}

std::optional<ApiResponse> test_login_api(const ApiRequest& request) {
  auto json = [](int status, const nlohmann::json& body) {
    return ApiResponse{status, "application/json; charset=utf-8", body.dump(), "", "", {}};
  };
  if (request.path == "/api/v1/login") {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object() || body.value("link", "") != kTestLoginLink) {
      return json(401, {{"error", "unknown login link"}, {"path", request.path}});
    }
    auto answer = json(200, {{"user", "admin"}, {"role", "admin"}, {"csrf_token", kTestCsrf}});
    answer.session_cookie = std::string(kTestSession);
    return answer;
  }
  if (request.path == "/api/v1/me" && request.caller) {
    return json(200, {{"user", request.caller->user}, {"role", to_string(request.caller->role)},
                      {"csrf_token", request.caller->csrf_token}});
  }
  return std::nullopt;
}

std::optional<Principal> test_principal(const Credentials& credentials) {
  if (credentials.bearer_token == kTestToken) return Principal{"test-admin", Role::admin, "", "", true};
  if (credentials.session_id == kTestSession) return Principal{"admin", Role::admin, "", std::string(kTestCsrf), false};
  return std::nullopt;
}

ServerOptions test_options() {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.static_dir = orderly::test::web_assets_dir();
  options.push_interval = std::chrono::milliseconds(50);
  return options;
}

RunningServer::RunningServer(ServerOptions options, nlohmann::json status) : app(std::move(status)) {
  server_.emplace(io, app, std::move(options));
  server_->start();
  port_ = server_->port();
  thread_ = std::thread([this] { io.run(); });
}

RunningServer::~RunningServer() {
  // stop() must release every session and timer, so run() returns on its own: a hang here is a
  // leak in the server, and the ctest timeout reports it.
  boost::asio::post(io, [this] { server_->stop(); });
  thread_.join();
}

std::string RunningServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void RunningServer::on_server_thread(const std::function<void()>& change) {
  std::promise<void> done;
  boost::asio::post(io, [&] {
    change();
    done.set_value();
  });
  done.get_future().wait();
}

void RunningServer::set_status(nlohmann::json status) {
  on_server_thread([&] { app.set_status(std::move(status)); });
}

}  // namespace orderly::web::test

#pragma once
// A stand-in for the gateway: serves a status document shaped like docs/web-api.md and lets a
// test change it, on the server's io_context as the real gateway would.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "orderly/web/application.hpp"
#include "orderly/web/server.hpp"

namespace orderly::web::test {

// The example status from docs/web-api.md: 幸福里小区, 320.5 kW of 400 kW, charger c01 charging.
nlohmann::json example_status();
// The example with `chargers` chargers and `history_points` history entries (1440 = one a minute).
nlohmann::json large_status(int chargers, int history_points);

// The fake's accounts: the bearer token kTestToken and the browser session kTestSession (from
// POST /api/v1/login {"link": kTestLoginLink}, the page's #login= link) are admins.
inline constexpr std::string_view kTestToken = "test-admin-token";
inline constexpr std::string_view kTestLoginLink = "test-login-link";
inline constexpr std::string_view kTestSession = "test-session";
inline constexpr std::string_view kTestCsrf = "test-csrf";
std::optional<Principal> test_principal(const Credentials& credentials);
// The fake's login and /api/v1/me; nullopt for every other path.
std::optional<ApiResponse> test_login_api(const ApiRequest& request);

// The API the page uses, answered with fixed examples shaped like docs/web-api.md: KPIs,
// the statement CSV, and a 200 echo for PUT /api/v1/chargers/<id>/request.
ApiResponse example_api(const ApiRequest& request);

class FakeApplication : public Application {
 public:
  explicit FakeApplication(nlohmann::json status) : status_(std::move(status)) {}
  nlohmann::json status() const override { return status_; }
  std::optional<Principal> authenticate(const Credentials& credentials) override {
    return accounts(credentials);
  }
  std::function<std::optional<Principal>(const Credentials&)> accounts = test_principal;
  void on_status_changed(std::function<void()> callback) override { callback_ = std::move(callback); }

  // Records the call (server thread) and answers with `api` (example_api by default).
  // Login and /api/v1/me are answered by the fake's accounts, not recorded.
  ApiResponse handle_api(const ApiRequest& request) override {
    if (auto answer = test_login_api(request)) return *answer;
    api_requests.push_back(request);
    return api(request);
  }
  // With defer_api, API calls wait in `deferred` until the test calls answer_deferred() (on the
  // server thread), as the gateway's long reads do.
  void handle_api_async(const ApiRequest& request, std::function<void(ApiResponse)> reply) override {
    if (!defer_api) return reply(handle_api(request));
    deferred.push_back([this, request, reply] { reply(handle_api(request)); });
  }
  void answer_deferred() {
    auto waiting = std::move(deferred);
    deferred.clear();
    for (auto& answer : waiting) answer();
  }
  std::function<ApiResponse(const ApiRequest&)> api = example_api;
  std::vector<ApiRequest> api_requests;
  bool defer_api = false;
  std::vector<std::function<void()>> deferred;

  // Must run on the io_context thread (post to it), as the gateway's own changes do.
  void set_status(nlohmann::json status) {
    status_ = std::move(status);
    if (callback_) callback_();
  }
  bool has_callback() const { return static_cast<bool>(callback_); }

 private:
  nlohmann::json status_;
  std::function<void()> callback_;
};

// A Server on 127.0.0.1:<ephemeral> running on its own io_context thread for one test.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options, nlohmann::json status = example_status());
  ~RunningServer();
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const;
  // The page logged in as the fake's admin through its #login= link (what `orderly demo` prints).
  std::string page_url(const std::string& path) const { return url(path) + "#login=" + std::string(kTestLoginLink); }
  // Runs `change` on the server thread and waits for it to have run.
  void on_server_thread(const std::function<void()>& change);
  void set_status(nlohmann::json status);

  boost::asio::io_context io;
  FakeApplication app;

 private:
  std::optional<Server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

ServerOptions test_options();

}  // namespace orderly::web::test

#pragma once
// The narrow interface through which the web server reaches the gateway. web/ holds no state:
// every page and API answer is built from what this returns. gateway implements it; web never
// includes gateway or drivers headers. Called on the core io_context thread only.
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace orderly::web {

// One API call as the application sees it: already parsed, size-limited and percent-decoded.
struct ApiRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // "/api/v1/chargers/p-101/request"
  std::map<std::string, std::string> query;    // decoded ?key=value pairs
  std::string body;                            // raw body (JSON for POST/PUT)
  std::string authorization{};                 // the Authorization header as sent ("Bearer ...")
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::string download_name;                   // non-empty: sent as an attachment (CSV)
  std::string allow;                           // with 405: the methods the path accepts ("GET, PUT")
};

class Application {
 public:
  virtual ~Application() = default;

  // What the live page shows: site load against the limit, recent history and every charger.
  // Schema in docs/web-api.md ("GET /api/v1/status").
  virtual nlohmann::json status() const = 0;

  // The web server asks to be told when status() changed, to push it to open WebSockets.
  // The callback runs on the core thread; the server throttles pushes itself.
  virtual void on_status_changed(std::function<void()> callback) = 0;

  // Every /api/v1/ path other than status, health and live: requests, sessions, KPIs,
  // statements. Errors are answered as {"error": ..., "path": ...} with a 4xx status naming the
  // field at fault. The default knows no API.
  virtual ApiResponse handle_api(const ApiRequest& request) {
    return {404, "application/json; charset=utf-8",
            nlohmann::json{{"error", "no such API; see docs/web-api.md"}, {"path", request.path}}.dump(), "", ""};
  }

  // What the web server calls: the answer may come later, so a slow read (KPIs over a year)
  // can run beside the core loop instead of holding it. `reply` must be called exactly once, on
  // the core thread. The default answers at once with handle_api().
  virtual void handle_api_async(const ApiRequest& request, std::function<void(ApiResponse)> reply) {
    reply(handle_api(request));
  }
};

}  // namespace orderly::web

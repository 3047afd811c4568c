#pragma once
// Request handling without sockets: turns one parsed HTTP request into one response. Kept apart
// from the session code so the routing rules (static files, traversal, API, errors) are tested
// without a network.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <boost/beast/http.hpp>

#include "access.hpp"
#include "orderly/base/prometheus.hpp"
#include "orderly/web/application.hpp"

namespace orderly::web {

inline constexpr std::string_view kServerName = "orderly";
inline constexpr std::string_view kStatusPath = "/api/v1/status";
inline constexpr std::string_view kHealthPath = "/api/v1/health";
inline constexpr std::string_view kLivePath = "/api/v1/live";
// Outside /api/v1 where monitoring tools look for them; /api/v1/health answers as /healthz does.
inline constexpr std::string_view kHealthzPath = "/healthz";
inline constexpr std::string_view kMetricsPath = "/metrics";
// Everything else under here goes to Application::handle_api.
inline constexpr std::string_view kApiPrefix = "/api/v1/";

// app.status_for(who) serialised; never throws (a failing application yields an {"error": ...}
// object).
std::string status_text(const Application& app, const Principal& who);

// The path part of a request target: no query string, no fragment, still percent-encoded.
std::string_view target_path(std::string_view target);

// Decodes %XX escapes; returns false on a malformed escape or a NUL byte.
bool percent_decode(std::string_view in, std::string& out);

// The file under `static_dir` that `path` names, or an empty path when it would leave it.
// "/" and paths ending in "/" name index.html.
std::filesystem::path static_file_for(const std::filesystem::path& static_dir, std::string_view decoded_path);

// The content type browsers need for a file, from its extension.
std::string_view content_type_for(const std::filesystem::path& file);

// {"error": message, "path": path} with `status`.
Response error_response(boost::beast::http::status status, std::string_view message,
                        std::string_view path, unsigned version, bool keep_alive);

// Splits a query string ("a=1&b=x%20y") into decoded pairs; '+' is a space (HTML forms,
// URLSearchParams). Returns an empty string, or what is wrong with it (malformed escape, a key
// given twice, an empty key).
std::string parse_query(std::string_view query, std::map<std::string, std::string>& out);

// The API call a request makes, for Application::handle_api: the decoded path and query, the
// body as sent. HEAD is passed on as GET (the body is dropped afterwards). Empty optional and
// `error` set when the target cannot be decoded.
std::optional<ApiRequest> api_request(const Request& request, std::string& error);

// ApiResponse -> HTTP: status, content type, no-store, and Content-Disposition: attachment when
// the application named a download.
Response api_response(const ApiResponse& api, const Request& request);

// The web server's own part of GET /metrics (docs/web-api.md), counted on the core thread.
struct ServerCounters {
  // (method, route pattern or "static" / "unmatched" / "unparsed", status code) -> responses
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> responses;
  std::uint64_t connections_refused = 0;  // closed on accept at max_connections
  std::size_t connections = 0;            // open now: HTTP, live and channel sockets
  std::size_t live_clients = 0;           // live status WebSockets open now
};
void append_server_metrics(prometheus::Text& text, const ServerCounters& counters);

// {"ok": ..., "failing": [names], "checks": [...]} for GET /healthz and /api/v1/health, and
// the status it is answered with (200, or 503 when a check fails).
std::pair<boost::beast::http::status, std::string> health_answer(const Application& app);

// Non-const: API calls (a resident's request) change the application's state. For callers
// without an event loop (tests, benchmarks): an API answer the application defers is a 500.
Response handle_request(Application& app, const std::filesystem::path& static_dir,
                        const Request& request, const AccessPolicy& policy = {});

// The same, for the server: every request passes the access checks (access.hpp) first; API
// calls go through Application::handle_api_async and `done` is called when the application
// answers (perhaps after this returns); everything else is answered before this returns.
void handle_request_async(Application& app, const std::filesystem::path& static_dir,
                          const Request& request, std::function<void(Response)> done,
                          const AccessPolicy& policy = {}, std::string_view client_address = {},
                          const ServerCounters* counters = nullptr);

}  // namespace orderly::web

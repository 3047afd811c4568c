#include "routes.hpp"

#include "access.hpp"

#include <exception>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace orderly::web {

namespace http = boost::beast::http;

namespace {

// Strings from devices or request targets may hold invalid UTF-8; replacing it keeps the API
// answering instead of throwing from dump().
std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void add_common_headers(Response& response) {
  response.set(http::field::server, kServerName);
  response.set("X-Content-Type-Options", "nosniff");
}

Response json_response(http::status status, std::string body, const Request& request) {
  Response response{status, request.version()};
  add_common_headers(response);
  response.set(http::field::content_type, "application/json; charset=utf-8");
  // Live data: a cached copy would show a stale transformer load.
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response method_not_allowed(std::string_view path, const Request& request) {
  Response response = error_response(http::status::method_not_allowed,
                                     "method " + std::string(request.method_string()) +
                                         " not allowed here; use GET",
                                     path, request.version(), request.keep_alive());
  response.set(http::field::allow, "GET, HEAD");
  return response;
}

bool is_get_or_head(const Request& request) {
  return request.method() == http::verb::get || request.method() == http::verb::head;
}

Response finish_head(Response response, const Request& request) {
  if (request.method() == http::verb::head) {
    const auto length = response.body().size();
    response.body().clear();
    response.content_length(length);
  }
  return response;
}

std::optional<std::string> read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::nullopt;
  return content;
}

Response api_failure(const std::exception& e, const ApiRequest& api, const Request& request) {
  spdlog::error("web: {} {} failed: {}", api.method, api.path, e.what());
  return error_response(http::status::internal_server_error,
                        std::string("the gateway failed to answer: ") + e.what(),
                        target_path(request.target()), request.version(), request.keep_alive());
}

Response metrics_response(const Application& app, const ServerCounters* counters, const Request& request) {
  prometheus::Text text;
  std::string body;
  try {
    body = app.metrics_text();
  } catch (const std::exception& e) {
    // A scrape that fails entirely shows as a gap; a partial one would read as zeros.
    spdlog::error("web: building the metrics failed: {}", e.what());
    return error_response(http::status::internal_server_error, std::string("metrics unavailable: ") + e.what(),
                          kMetricsPath, request.version(), request.keep_alive());
  }
  if (counters) append_server_metrics(text, *counters);
  body += text.str();
  Response response{http::status::ok, request.version()};
  add_common_headers(response);
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

}  // namespace

std::pair<http::status, std::string> health_answer(const Application& app) {
  nlohmann::json checks = nlohmann::json::array();
  nlohmann::json failing = nlohmann::json::array();
  try {
    for (const HealthCheck& c : app.health()) {
      checks.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
      if (!c.ok) failing.push_back(c.name);
    }
  } catch (const std::exception& e) {
    spdlog::error("web: the health checks failed: {}", e.what());
    checks.push_back({{"name", "health_checks"}, {"ok", false}, {"detail", e.what()}});
    failing.push_back("health_checks");
  }
  const bool ok = failing.empty();
  return {ok ? http::status::ok : http::status::service_unavailable,
          dump({{"ok", ok}, {"failing", std::move(failing)}, {"checks", std::move(checks)}})};
}

void append_server_metrics(prometheus::Text& text, const ServerCounters& counters) {
  text.family("orderly_http_responses_total", "counter",
              "HTTP responses sent, by method, route (the route table's pattern, static for the page's files) and status");
  for (const auto& [key, count] : counters.responses) {
    const auto& [method, route, status] = key;
    text.sample(static_cast<double>(count), {{"method", method}, {"route", route}, {"code", std::to_string(status)}});
  }
  text.counter("orderly_http_connections_refused_total",
               "connections closed on accept because [web] max_connections were open",
               static_cast<double>(counters.connections_refused));
  text.gauge("orderly_http_connections", "open HTTP, live status and channel (OCPP) connections",
             static_cast<double>(counters.connections));
  text.gauge("orderly_websocket_clients", "live status WebSockets (/api/v1/live) open",
             static_cast<double>(counters.live_clients));
}

std::string status_text(const Application& app, const Principal& who) {
  try {
    return dump(app.status_for(who));
  } catch (const std::exception& e) {
    spdlog::error("web: building the status failed: {}", e.what());
    return dump({{"error", std::string("status unavailable: ") + e.what()}, {"path", kStatusPath}});
  }
}

std::string_view target_path(std::string_view target) {
  const auto end = target.find_first_of("?#");
  return end == std::string_view::npos ? target : target.substr(0, end);
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int high = hex(in[i + 1]);
      const int low = hex(in[i + 2]);
      if (high < 0 || low < 0) return false;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}

std::filesystem::path static_file_for(const std::filesystem::path& static_dir,
                                      std::string_view decoded_path) {
  if (decoded_path.empty() || decoded_path.front() != '/') return {};
  std::filesystem::path relative;
  std::size_t start = 1;
  while (start <= decoded_path.size()) {
    auto end = decoded_path.find('/', start);
    if (end == std::string_view::npos) end = decoded_path.size();
    const std::string_view segment = decoded_path.substr(start, end - start);
    // Backslashes and ".." would let a request climb out of static_dir; "." is harmless but
    // has no business in a link the page itself makes.
    if (segment == ".." || segment == "." || segment.find('\\') != std::string_view::npos) return {};
    if (!segment.empty()) relative /= std::string(segment);
    start = end + 1;
  }
  if (decoded_path.back() == '/') relative /= "index.html";
  return static_dir / relative;
}

std::string_view content_type_for(const std::filesystem::path& file) {
  const std::string extension = file.extension().string();
  if (extension == ".html" || extension == ".htm") return "text/html; charset=utf-8";
  if (extension == ".js" || extension == ".mjs") return "text/javascript; charset=utf-8";
  if (extension == ".css") return "text/css; charset=utf-8";
  if (extension == ".json") return "application/json; charset=utf-8";
  if (extension == ".webmanifest") return "application/manifest+json; charset=utf-8";
  if (extension == ".svg") return "image/svg+xml";
  if (extension == ".png") return "image/png";
  if (extension == ".ico") return "image/x-icon";
  if (extension == ".woff2") return "font/woff2";
  if (extension == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

Response error_response(http::status status, std::string_view message, std::string_view path,
                        unsigned version, bool keep_alive) {
  Response response{status, version};
  add_common_headers(response);
  response.set(http::field::content_type, "application/json; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(keep_alive);
  response.body() = dump({{"error", message}, {"path", path}});
  response.prepare_payload();
  return response;
}

std::string parse_query(std::string_view query, std::map<std::string, std::string>& out) {
  out.clear();
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const auto equals = pair.find('=');
    std::string raw_key(pair.substr(0, equals));
    std::string raw_value(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1));
    for (auto* part : {&raw_key, &raw_value}) {
      for (char& c : *part) {
        if (c == '+') c = ' ';
      }
    }
    std::string key;
    std::string value;
    if (!percent_decode(raw_key, key) || !percent_decode(raw_value, value)) {
      return "malformed percent-encoding in query parameter '" + raw_key + "'";
    }
    if (key.empty()) return "query parameter without a name";
    if (!out.emplace(key, std::move(value)).second) {
      return "query parameter '" + key + "' given twice; give it once";
    }
  }
  return {};
}

std::optional<ApiRequest> api_request(const Request& request, std::string& error) {
  const std::string_view target = request.target();
  const std::string_view raw_path = target_path(target);
  ApiRequest api;
  if (!percent_decode(raw_path, api.path)) {
    error = "malformed percent-encoding in path";
    return std::nullopt;
  }
  if (raw_path.size() < target.size() && target[raw_path.size()] == '?') {
    std::string_view query = target.substr(raw_path.size() + 1);
    query = query.substr(0, query.find('#'));
    error = parse_query(query, api.query);
    if (!error.empty()) return std::nullopt;
  }
  api.method = request.method() == http::verb::head ? "GET" : std::string(request.method_string());
  api.body = request.body();
  api.authorization = std::string(request[http::field::authorization]);
  return api;
}

Response api_response(const ApiResponse& api, const Request& request) {
  // An application bug must not become a malformed status line.
  const int code = api.status >= 100 && api.status <= 599 ? api.status : 500;
  Response response{static_cast<http::status>(code), request.version()};
  add_common_headers(response);
  response.set(http::field::content_type,
               api.content_type.empty() ? "application/octet-stream" : api.content_type);
  response.set(http::field::cache_control, "no-store");
  if (!api.download_name.empty()) {
    // Only characters that need no quoting or RFC 6266 encoding: the names are ours
    // ("orderly-statement-2026-01.csv"), so anything else is replaced, never interpreted.
    std::string name = api.download_name;
    for (char& c : name) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '.' || c == '-' || c == '_';
      if (!plain) c = '_';
    }
    response.set(http::field::content_disposition, "attachment; filename=\"" + name + "\"");
  }
  // RFC 9110 15.5.6: a 405 carries the methods the path does accept.
  if (!api.allow.empty()) response.set(http::field::allow, api.allow);
  response.keep_alive(request.keep_alive());
  response.body() = api.body;
  response.prepare_payload();
  return finish_head(std::move(response), request);
}

namespace {

Response static_response(const std::filesystem::path& static_dir, const Request& request) {
  const std::string_view raw_path = target_path(request.target());
  const bool keep_alive = request.keep_alive();
  std::string decoded;
  if (!percent_decode(raw_path, decoded)) {
    return error_response(http::status::bad_request, "malformed percent-encoding in path", raw_path,
                          request.version(), keep_alive);
  }
  const std::filesystem::path file = static_file_for(static_dir, decoded);
  if (file.empty()) {
    return error_response(http::status::bad_request,
                          "path must start with / and contain no '..', '.' or '\\' segments",
                          raw_path, request.version(), keep_alive);
  }
  if (!is_get_or_head(request)) return method_not_allowed(raw_path, request);

  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return error_response(http::status::not_found, "no such page or file", raw_path,
                          request.version(), keep_alive);
  }
  auto content = read_whole_file(file);
  if (!content) {
    spdlog::warn("web: cannot read {}", file.string());
    return error_response(http::status::internal_server_error, "file exists but cannot be read",
                          raw_path, request.version(), keep_alive);
  }
  Response response{http::status::ok, request.version()};
  add_common_headers(response);
  response.set(http::field::content_type, content_type_for(file));
  // Revalidate on every load so an upgraded .deb shows its new page without a hard refresh.
  response.set(http::field::cache_control, "no-cache");
  // Only our own files, scripts and the live socket: no inline scripts, nothing from the
  // internet (the box often has none).
  response.set("Content-Security-Policy",
               "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
               "style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  response.keep_alive(keep_alive);
  response.body() = std::move(*content);
  response.prepare_payload();
  return finish_head(std::move(response), request);
}

}  // namespace

Response handle_request(Application& app, const std::filesystem::path& static_dir,
                        const Request& request, const AccessPolicy& policy) {
  // Tests and benchmarks call this without an event loop: the answer must come at once.
  auto answer = std::make_shared<std::optional<Response>>();
  handle_request_async(app, static_dir, request, [answer](Response r) { *answer = std::move(r); }, policy);
  if (*answer) return std::move(**answer);
  return error_response(http::status::internal_server_error,
                        "the application answers later; serve it with handle_request_async",
                        target_path(request.target()), request.version(), request.keep_alive());
}

void handle_request_async(Application& app, const std::filesystem::path& static_dir,
                          const Request& request, std::function<void(Response)> done,
                          const AccessPolicy& policy, std::string_view client_address,
                          const ServerCounters* counters) {
  const std::string_view raw_path = target_path(request.target());
  if (!raw_path.starts_with("/api/") && raw_path != kHealthzPath && raw_path != kMetricsPath) {
    if (auto refused = admit_static(policy, request)) return done(std::move(*refused));
    return done(static_response(static_dir, request));
  }
  std::string error;
  auto api = api_request(request, error);
  if (!api) {
    return done(error_response(http::status::bad_request, error, raw_path, request.version(),
                               request.keep_alive()));
  }
  Admission admission = admit_api(policy, request, api->path, app);
  if (admission.refusal) return done(std::move(*admission.refusal));
  if (api->path == kStatusPath) {
    return done(finish_head(json_response(http::status::ok, status_text(app, *admission.caller), request), request));
  }
  if (api->path == kHealthPath || api->path == kHealthzPath) {
    auto [status, body] = health_answer(app);
    return done(finish_head(json_response(status, std::move(body), request), request));
  }
  if (api->path == kMetricsPath) return done(finish_head(metrics_response(app, counters, request), request));
  if (api->path == kLivePath) {
    return done(error_response(http::status::bad_request,
                               "this path is a WebSocket: connect with ws://<host>/api/v1/live",
                               raw_path, request.version(), request.keep_alive()));
  }
  api->caller = std::move(admission.caller);
  api->client_address = std::string(client_address);
  // The answer may come after `request` is gone: keep its header (version, keep-alive, HEAD).
  auto head = std::make_shared<Request>();
  head->base() = request.base();
  auto answered = std::make_shared<bool>(false);
  try {
    app.handle_api_async(*api, [head, answered, done, policy](ApiResponse answer) {
      *answered = true;
      Response response = api_response(answer, *head);
      if (answer.session_cookie) response.set(http::field::set_cookie, session_cookie_header(policy, *answer.session_cookie));
      done(std::move(response));
    });
  } catch (const std::exception& e) {
    if (!*answered) done(api_failure(e, *api, *head));
  }
}

}  // namespace orderly::web

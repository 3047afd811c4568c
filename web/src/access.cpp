#include "access.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <boost/asio/ip/address.hpp>

#include "routes.hpp"

namespace orderly::web {

namespace http = boost::beast::http;

std::string_view to_string(Role role) {
  switch (role) {
    case Role::resident: return "resident";
    case Role::site_operator: return "operator";
    case Role::admin: return "admin";
    case Role::platform: return "platform";
  }
  return "resident";
}

std::optional<Role> role_from_string(std::string_view text) {
  for (Role r : {Role::resident, Role::site_operator, Role::admin, Role::platform}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

namespace {

constexpr Roles roles(std::initializer_list<Role> list) {
  Roles r;
  for (Role role : list) r.mask |= 1u << static_cast<unsigned>(role);
  return r;
}
constexpr Roles kPublic{0, true};
constexpr Roles kAnyAccount = roles({Role::resident, Role::site_operator, Role::admin, Role::platform});
constexpr Roles kPeople = roles({Role::resident, Role::site_operator, Role::admin});
constexpr Roles kStaff = roles({Role::site_operator, Role::admin});
constexpr Roles kStaffAndPlatform = roles({Role::site_operator, Role::admin, Role::platform});

bool segments_match(std::string_view pattern, std::string_view path) {
  while (true) {
    const auto p_end = pattern.find('/');
    const auto s_end = path.find('/');
    const std::string_view p = pattern.substr(0, p_end);
    const std::string_view s = path.substr(0, s_end);
    if (p == "*" ? s.empty() : p != s) return false;
    if (p_end == std::string_view::npos || s_end == std::string_view::npos) {
      return p_end == std::string_view::npos && s_end == std::string_view::npos;
    }
    pattern.remove_prefix(p_end + 1);
    path.remove_prefix(s_end + 1);
  }
}

bool is_write(const Request& request) {
  return request.method() != http::verb::get && request.method() != http::verb::head &&
         request.method() != http::verb::options;
}

Response refuse(http::status status, std::string message, std::string_view path, const Request& request) {
  return error_response(status, message, path, request.version(), request.keep_alive());
}

// The named cookie's value from a Cookie header ("a=1; orderly_session=xyz").
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return {};
}

Credentials credentials_of(const Request& request) {
  Credentials c;
  c.session_id = cookie_value(request[http::field::cookie], kSessionCookie);
  const std::string_view auth = request[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer) {
    c.bearer_token = std::string(auth.substr(kBearer.size()));
  }
  return c;
}

// "https://box.local:8443" -> "box.local:8443": the part of an Origin that must equal Host.
std::string_view origin_authority(std::string_view origin) {
  const auto scheme_end = origin.find("://");
  return scheme_end == std::string_view::npos ? std::string_view{} : origin.substr(scheme_end + 3);
}

bool same_text_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const std::vector<Route>& route_table() {
  static const std::vector<Route> table = {
      {"POST", "/api/v1/login", kPublic},
      {"POST", "/api/v1/invites/redeem", kPublic},
      {"GET", "/api/v1/health", kPublic},
      // Monitoring: health is public and names no household or person; the metrics count
      // residents' use of the API, so only staff and a platform (scraper) token read them.
      {"GET", "/healthz", kPublic},
      {"GET", "/metrics", kStaffAndPlatform},
      {"POST", "/api/v1/logout", kPeople},
      {"GET", "/api/v1/me", kAnyAccount},
      {"GET", "/api/v1/status", kAnyAccount},
      {"GET", "/api/v1/live", kAnyAccount},
      {"GET", "/api/v1/chargers/*/session", kPeople},
      {"PUT", "/api/v1/chargers/*/request", kPeople},
      {"GET", "/api/v1/sessions", kAnyAccount},
      {"GET", "/api/v1/statements/*", kAnyAccount},
      {"GET", "/api/v1/kpi", kStaffAndPlatform},
      {"GET", "/api/v1/dr-events", kStaffAndPlatform},
      {"POST", "/api/v1/dr-events", kStaffAndPlatform},
      {"DELETE", "/api/v1/dr-events/*", kStaffAndPlatform},
      // The city platform's plain JSON API (docs/platform-api.md, "REST API"): the T/CEC data
      // without the envelope, for platforms that speak JSON over HTTPS with a token.
      {"GET", "/api/v1/platform/*", kStaffAndPlatform},
      {"POST", "/api/v1/invites", kStaff},
      {"GET", "/api/v1/audit", roles({Role::admin})},
      // T/CEC 102 authenticates each call itself: query_token, then its Bearer token and the
      // envelope's HMAC (docs/platform-api.md); the gate only keeps Host and JSON rules for it.
      {"POST", "/api/v1/tcec/*", kPublic},
  };
  return table;
}

std::optional<Route> find_route(std::string_view method, std::string_view path, std::string& allow) {
  allow.clear();
  const std::string_view wanted = method == "HEAD" ? "GET" : method;
  for (const Route& route : route_table()) {
    if (!segments_match(route.pattern, path)) continue;
    if (route.method == wanted) return route;
    if (allow.find(route.method) == std::string::npos) {
      if (!allow.empty()) allow += ", ";
      allow += route.method;
      if (route.method == "GET") allow += ", HEAD";
    }
  }
  return std::nullopt;
}

std::string_view route_label(std::string_view path) {
  if (!path.starts_with("/api/") && path != "/healthz" && path != "/metrics") return "static";
  for (const Route& route : route_table()) {
    if (segments_match(route.pattern, path)) return route.pattern;
  }
  return "unmatched";
}

std::string host_name(std::string_view host_header) {
  std::string_view name = host_header;
  if (name.starts_with('[')) {
    const auto close = name.find(']');
    name = close == std::string_view::npos ? std::string_view{} : name.substr(1, close - 1);
  } else if (const auto colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool host_allowed(const AccessPolicy& policy, std::string_view host_header) {
  const std::string name = host_name(host_header);
  if (name.empty()) return false;
  // A rebinding attack needs a DNS name of the attacker's; an IP literal cannot be rebound.
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  if (!ec || name == "localhost") return true;
  return std::any_of(policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
                     [&](const std::string& allowed) { return same_text_ignoring_case(allowed, name); });
}

std::optional<Response> admit_static(const AccessPolicy& policy, const Request& request) {
  if (host_allowed(policy, request[http::field::host])) return std::nullopt;
  return refuse(http::status::misdirected_request,
                "Host '" + std::string(request[http::field::host]) +
                    "' is not a name of this gateway; use its IP address or add the name to [web] allowed_hosts",
                target_path(request.target()), request);
}

Admission admit_api(const AccessPolicy& policy, const Request& request, std::string_view decoded_path,
                    Application& app) {
  Admission out;
  if (auto refused = admit_static(policy, request)) {
    out.refusal = std::move(refused);
    return out;
  }
  std::string allow;
  const auto route = find_route(request.method_string(), decoded_path, allow);
  if (!route) {
    if (allow.empty()) {
      out.refusal = refuse(http::status::not_found, "no such API; see docs/web-api.md", decoded_path, request);
    } else {
      out.refusal = refuse(http::status::method_not_allowed,
                           "method " + std::string(request.method_string()) + " not allowed here; use " + allow,
                           decoded_path, request);
      out.refusal->set(http::field::allow, allow);
    }
    return out;
  }
  const bool write = is_write(request);
  // A WebSocket is not bound by the same-origin policy: any page may open one to us, and the
  // browser attaches our cookie (cross-site WebSocket hijacking). Its Origin header tells.
  const bool upgrade = !request[http::field::upgrade].empty();
  // A cross-site page can POST text/plain or a form without a preflight; it cannot send
  // application/json. Demanding it makes every write a CORS-preflighted request we never allow
  // (PUT and DELETE are preflighted anyway; a DELETE without a body needs no type).
  if (write && (request.method() == http::verb::post || !request.body().empty())) {
    const std::string_view type = request[http::field::content_type];
    if (!type.starts_with("application/json")) {
      out.refusal = refuse(http::status::unsupported_media_type,
                           "send the body as JSON with Content-Type: application/json (got '" +
                               std::string(type) + "')",
                           decoded_path, request);
      return out;
    }
  }
  const std::string_view origin = request[http::field::origin];
  if ((write || upgrade) && !origin.empty() &&
      !same_text_ignoring_case(origin_authority(origin), request[http::field::host])) {
    out.refusal = refuse(http::status::forbidden,
                         "Origin '" + std::string(origin) + "' is not this gateway's page; only it may write or connect",
                         decoded_path, request);
    return out;
  }
  const Credentials credentials = credentials_of(request);
  if (!credentials.session_id.empty() || !credentials.bearer_token.empty()) {
    out.caller = app.authenticate(credentials);
  }
  if (route->roles.open) return out;
  if (!out.caller) {
    out.refusal = refuse(http::status::unauthorized,
                         credentials.session_id.empty() && credentials.bearer_token.empty()
                             ? "log in first (POST /api/v1/login) or send Authorization: Bearer <platform token>"
                             : "the session has expired or the token is unknown; log in again",
                         decoded_path, request);
    return out;
  }
  if (!route->roles.allows(out.caller->role)) {
    out.refusal = refuse(http::status::forbidden,
                         "the " + std::string(to_string(out.caller->role)) + " role may not " +
                             std::string(route->method) + " " + std::string(route->pattern),
                         decoded_path, request);
    return out;
  }
  // A browser attaches the cookie to any site's request; only our page can read the token.
  if (write && !out.caller->bearer &&
      (out.caller->csrf_token.empty() || request[kCsrfHeader] != out.caller->csrf_token)) {
    out.refusal = refuse(http::status::forbidden,
                         std::string(kCsrfHeader) + " header missing or wrong; the page sends the token it got at login",
                         decoded_path, request);
  }
  return out;
}

std::string session_cookie_header(const AccessPolicy& policy, std::string_view session_id) {
  std::string cookie = std::string(kSessionCookie) + "=" + std::string(session_id) +
                       "; Path=/; HttpOnly; SameSite=Strict";
  if (session_id.empty()) cookie += "; Max-Age=0";
  if (policy.tls) cookie += "; Secure";
  return cookie;
}

}  // namespace orderly::web

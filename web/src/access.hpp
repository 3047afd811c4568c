#pragma once
// Who may call what, decided in one place before any request reaches the application: the Host
// allow-list (DNS rebinding), the route table with each route's roles, and for state-changing
// requests the JSON-only, Origin and CSRF-token checks. docs/web-api.md "Roles" and
// docs/security.md "Web" describe the same rules; tests/auth checks them over real HTTP.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>

#include "orderly/web/application.hpp"

namespace orderly::web {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view kSessionCookie = "orderly_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// A set of roles; kPublic is the empty set with `open` true (no account needed).
struct Roles {
  unsigned mask = 0;
  bool open = false;
  bool allows(Role role) const { return (mask & (1u << static_cast<unsigned>(role))) != 0; }
};

struct Route {
  std::string_view method;   // "GET" also answers HEAD
  std::string_view pattern;  // "/api/v1/chargers/*/request": '*' is exactly one path segment
  Roles roles;
};

// Every /api/v1 route with its roles (docs/web-api.md lists the same table).
const std::vector<Route>& route_table();

// The route for (method, decoded path); nullopt and `allow` filled with the methods the path
// does take (empty: no such path).
std::optional<Route> find_route(std::string_view method, std::string_view path, std::string& allow);

// What a response is counted under in GET /metrics: the route's pattern, "static" for the
// page's files, "unmatched" for an API path no route takes. Few and fixed, so a client cannot
// make up new series by inventing paths.
std::string_view route_label(std::string_view path);

// What the access checks need from the server's options.
struct AccessPolicy {
  std::vector<std::string> allowed_hosts;  // besides IP literals and localhost
  bool tls = false;                        // cookies get Secure
};

// Host header without its port, lower-cased ("box.local:8080" -> "box.local", "[::1]:80" -> "::1").
std::string host_name(std::string_view host_header);
// Whether `host_header` names this box: an IP literal, localhost, or an allowed name.
bool host_allowed(const AccessPolicy& policy, std::string_view host_header);

// The outcome of the checks: either a refusal to send as is, or who is calling (empty for a
// public route called without credentials).
struct Admission {
  std::optional<Response> refusal;
  std::optional<Principal> caller;
};

// Host, route, roles, and for writes Content-Type, Origin and CSRF. `authenticate` is only
// asked once the cheap checks passed. For "/api/v1/..." paths and the live WebSocket.
Admission admit_api(const AccessPolicy& policy, const Request& request, std::string_view decoded_path,
                    Application& app);
// Static files: only the Host check (the page itself is public; its data is not).
std::optional<Response> admit_static(const AccessPolicy& policy, const Request& request);

// The Set-Cookie value for a new session id, or for "" one that clears the cookie.
std::string session_cookie_header(const AccessPolicy& policy, std::string_view session_id);

}  // namespace orderly::web

#pragma once
// The narrow interface through which the web server reaches the gateway. web/ holds no state:
// every page and API answer is built from what this returns. gateway implements it; web never
// includes gateway or drivers headers. Called on the core io_context thread only.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace orderly::web {

// Who may do what (docs/web-api.md "Roles"). The web server enforces each route's roles from
// its route table (web/src/access.cpp); the application narrows a resident to their household.
enum class Role { resident, site_operator, admin, platform };
std::string_view to_string(Role role);  // "resident", "operator", "admin", "platform"
std::optional<Role> role_from_string(std::string_view text);

// The account behind a request, as Application::authenticate found it.
struct Principal {
  std::string user;
  Role role = Role::resident;
  std::string household;    // residents: the household they belong to
  std::string csrf_token;   // browser sessions: what X-CSRF-Token must carry on writes
  bool bearer = false;      // a platform token, not a browser session: no cookie, no CSRF
};

// What a request presents: the session cookie's value and/or an Authorization: Bearer token.
struct Credentials {
  std::string session_id;
  std::string bearer_token;
};

// One API call as the application sees it: already parsed, size-limited and percent-decoded.
struct ApiRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // "/api/v1/chargers/p-101/request"
  std::map<std::string, std::string> query;    // decoded ?key=value pairs
  std::string body;                            // raw body (JSON for POST/PUT)
  // Set by the web server after its route table allowed the call; empty for the public routes
  // (login, invite redemption) and for in-process callers (tests, tools), which are trusted.
  std::optional<Principal> caller{};
  std::string client_address{};                // the peer's IP (login rate limiting)
  std::string authorization{};                 // the Authorization header as sent ("Bearer ...")
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::string download_name;                   // non-empty: sent as an attachment (CSV)
  std::string allow;                           // with 405: the methods the path accepts ("GET, PUT")
  // Login sets the new session id, logout sets ""; the web server turns it into the cookie
  // (HttpOnly, SameSite=Strict, Secure under TLS). Empty optional: no cookie change.
  std::optional<std::string> session_cookie{};
};

// A WebSocket upgrade the live status socket does not take (e.g. an OCPP charge point at
// /ocpp/<id>), as the application is asked to accept or refuse it.
struct ChannelRequest {
  std::string path;                          // still percent-encoded, no query
  std::vector<std::string> subprotocols;     // Sec-WebSocket-Protocol, in the client's order
  std::string authorization;                 // the Authorization header as sent; empty if none
};

// One accepted channel as the application sees it; called on the core thread.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual void on_text(std::string_view text) = 0;
  virtual void on_closed() = 0;              // once, whoever closed it
};

// How the application writes to a channel: text frames, sent in order, and a close. Both do
// nothing once the channel is closed.
struct ChannelOutlet {
  std::function<void(std::string)> send;
  std::function<void()> close;
};

struct ChannelAnswer {
  int status = 404;                          // 101 = accept; anything else refuses the upgrade
  std::string message;                       // a refusal's reason, sent as {"error": ...}
  std::string subprotocol;                   // accepted: the one chosen, echoed to the client
  std::shared_ptr<Channel> channel;          // accepted: receives the channel's frames
};

// One check behind GET /healthz (docs/web-api.md): what it looked at, in words that name no
// household or person, because the route is public.
struct HealthCheck {
  std::string name;    // "core_loop", "transformer_meter", "store", "platform_outbox"
  bool ok = true;
  std::string detail;  // "last control step 0.3 s ago", "3 failed attempts: disk I/O error"
};

class Application {
 public:
  virtual ~Application() = default;

  // What the live page shows: site load against the limit, recent history and every charger.
  // Schema in docs/web-api.md ("GET /api/v1/status").
  virtual nlohmann::json status() const = 0;

  // The status as `who` may see it: a resident sees only their household's piles. Default: all.
  virtual nlohmann::json status_for(const Principal& who) const {
    (void)who;
    return status();
  }

  // The checks GET /healthz answers with: 200 when all pass, 503 naming the failing ones. The
  // default has none (the web server being up is all it knows).
  virtual std::vector<HealthCheck> health() const { return {}; }

  // The application's part of GET /metrics in the Prometheus text format (the web server adds
  // its own families: HTTP requests, WebSocket clients). The default has none.
  virtual std::string metrics_text() const { return {}; }

  // The account a request's credentials name, or nullopt (unknown, expired, logged out). The
  // default knows no accounts, so every route but the public ones answers 401.
  virtual std::optional<Principal> authenticate(const Credentials& credentials) {
    (void)credentials;
    return std::nullopt;
  }

  // The web server asks to be told when status() changed, to push it to open WebSockets.
  // The callback runs on the core thread; the server throttles pushes itself.
  virtual void on_status_changed(std::function<void()> callback) = 0;

  // Every /api/v1/ path other than status, health and live: requests, sessions, KPIs,
  // statements. Errors are answered as {"error": ..., "path": ...} with a 4xx status naming the
  // field at fault. The default knows no API.
  virtual ApiResponse handle_api(const ApiRequest& request) {
    return {404, "application/json; charset=utf-8",
            nlohmann::json{{"error", "no such API; see docs/web-api.md"}, {"path", request.path}}.dump(), "", "", {}};
  }

  // What the web server calls: the answer may come later, so a slow read (KPIs over a year)
  // can run beside the core loop instead of holding it. `reply` must be called exactly once, on
  // the core thread. The default answers at once with handle_api().
  virtual void handle_api_async(const ApiRequest& request, std::function<void(ApiResponse)> reply) {
    reply(handle_api(request));
  }

  // A WebSocket upgrade at any path but the live status. A 401 refusal carries a
  // "WWW-Authenticate: Basic" challenge. The outlet may be used at once: what is sent before the
  // handshake completes goes out right after it. The default serves no channel.
  virtual ChannelAnswer open_channel(const ChannelRequest& /*request*/, ChannelOutlet /*outlet*/) {
    return {404, "no WebSocket at this path", "", nullptr};
  }
};

}  // namespace orderly::web

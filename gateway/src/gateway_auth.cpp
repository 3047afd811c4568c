// The gateway's side of web access (docs/web-api.md "Accounts and roles"): who a cookie or
// token is, login with its throttle, logout, household invites, the audit log, and what a
// resident may see. The web server has already checked the route's role, Host, Origin and CSRF
// token (web/src/access.cpp); here a resident is narrowed to their household.
#include <chrono>
#include <string>

#include <spdlog/spdlog.h>

#include "api_common.hpp"
#include "orderly/base/bounded_json.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/gateway/report.hpp"

namespace orderly::gateway {

using json = nlohmann::json;
using api::ApiError;
using api::json_answer;

namespace {

// Invites are read off a printed note or a WhatsApp/WeChat message days later.
constexpr std::chrono::hours kInviteLifetime{7 * 24};
// A fixed hash to verify unknown names against, so a wrong name costs as long as a wrong password
// and the timing does not tell which names exist.
const std::string& decoy_hash() {
  static const std::string hash = hash_password(new_secret());
  return hash;
}

json body_object(const web::ApiRequest& request, const char* example) {
  // Bounded like every API body (gateway_api.cpp parse_body): login is open to anyone on the LAN.
  auto parsed = bounded_json::parse(request.body, {64 * 1024});
  json body = parsed.ok() ? std::move(parsed.value) : json();
  if (!body.is_object()) {
    throw ApiError{400, "", std::string("the body must be a JSON object such as ") + example};
  }
  return body;
}

std::string string_field(const json& body, const char* field, const char* what) {
  const auto it = body.find(field);
  if (it == body.end()) throw ApiError{400, field, std::string(field) + " is missing; give " + what};
  if (!it->is_string() || it->get<std::string>().empty()) {
    throw ApiError{400, field, std::string(field) + ": " + it->dump() + " is not " + what};
  }
  return it->get<std::string>();
}

void only_fields(const json& body, std::initializer_list<const char*> accepted) {
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    std::string list;
    for (const char* a : accepted) {
      known = known || key == a;
      list += list.empty() ? a : std::string(", ") + a;
    }
    if (!known) throw ApiError{400, key, "unknown field '" + key + "'; accepted: " + list};
  }
}

json principal_json(const web::Principal& p) {
  return {{"user", p.user}, {"role", web::to_string(p.role)},
          {"household", p.household.empty() ? json(nullptr) : json(p.household)}, {"csrf_token", p.csrf_token}};
}

}  // namespace

std::optional<web::Principal> Gateway::authenticate(const web::Credentials& credentials) {
  if (!credentials.session_id.empty()) {
    if (auto who = web_sessions_.find(credentials.session_id)) return who;
  }
  if (!credentials.bearer_token.empty() && accounts_) {
    if (const auto account = accounts_->by_token(credentials.bearer_token)) {
      return web::Principal{account->name, account->role, "", "", true};
    }
  }
  return std::nullopt;
}

nlohmann::json Gateway::status_for(const web::Principal& who) const {
  json s = status();
  if (who.role != web::Role::resident) return s;
  json mine = json::array();
  for (auto& c : s["chargers"]) {
    const bool own = c.value("household", "") == who.household;
    const bool their_session = c["session"].is_object() && c["session"].value("household", "") == who.household;
    if (own || their_session) mine.push_back(std::move(c));
  }
  s["chargers"] = std::move(mine);
  // Which piles alarm and how the failsafe budget stands is the operator's business.
  s.erase("alarms");
  s.erase("failsafe_budget");
  s.erase("transformer_outlook");
  return s;
}

bool Gateway::may_use_charger(const std::optional<web::Principal>& who, const std::string& charger_id) const {
  if (!who || who->role != web::Role::resident) return true;
  const ChargerConfig* c = config_.find_charger(charger_id);
  if (c == nullptr) return false;
  if (c->kind == ChargerKind::private_pile) return c->household == who->household;
  // An unclaimed session on a shared pile is open to any resident: scanning the pile's QR code
  // (the page's #pile= link) is how the one standing at it claims the car for their household.
  const auto open = sessions().open_session(charger_id);
  return open && (open->household == who->household || open->household.empty());
}

void Gateway::audit(const web::ApiRequest& request, const std::string& action, const std::string& target) {
  if (!request.caller || (request.caller->role != web::Role::site_operator && request.caller->role != web::Role::admin)) {
    return;
  }
  try {
    accounts_->audit({clock_.now(), request.caller->user, std::string(web::to_string(request.caller->role)), action,
                      target, request.body});
  } catch (const StoreError& e) {
    spdlog::error("audit: could not record {} {} by {}: {}", action, target, request.caller->user, e.what());
  }
}

bool Gateway::answer_accounts(const web::ApiRequest& request, const Reply& reply) {
  const std::string& path = request.path;
  if (path == "/api/v1/me") {
    if (!request.caller) throw ApiError{401, "", "not logged in"};
    reply(json_answer(200, principal_json(*request.caller)));
    return true;
  }
  if (path == "/api/v1/logout") {
    if (request.caller) web_sessions_.end_by_csrf(request.caller->csrf_token);
    auto answer = json_answer(200, {{"logged_out", true}});
    answer.session_cookie = "";
    reply(answer);
    return true;
  }
  if (path == "/api/v1/login") {
    const json body = body_object(request, R"({"user": "wang-3-2-502", "password": "..."} or {"link": "..."})");
    auto logged_in = [this, reply](const Account& account) {
      const auto started = web_sessions_.start(account);
      if (account.role == web::Role::site_operator || account.role == web::Role::admin) {
        accounts_->audit({clock_.now(), account.name, std::string(web::to_string(account.role)), "login", "", ""});
      }
      auto answer = json_answer(200, principal_json(started.principal));
      answer.session_cookie = started.id;
      reply(answer);
    };
    if (body.contains("link")) {
      only_fields(body, {"link"});
      const auto grant = accounts_->use_link(string_field(body, "link", "the token from a login link"), session_clock().now());
      const auto account = grant && grant->kind == "login" ? accounts_->find(grant->user) : std::nullopt;
      if (!account) throw ApiError{401, "link", "this login link is unknown, used already or expired; ask for a new one"};
      logged_in(*account);
      return true;
    }
    only_fields(body, {"user", "password"});
    const std::string user = string_field(body, "user", "your user name");
    const std::string password = string_field(body, "password", "your password");
    const std::string refusal = web_sessions_.refusal(user, request.client_address);
    if (!refusal.empty()) throw ApiError{429, "", refusal};
    const auto account = accounts_->find(user);
    const auto hash = account ? accounts_->password_hash(user) : std::nullopt;
    const bool started = beside_core([this, hash, password, user, account, logged_in, reply, path] {
      const bool ok = password_matches(hash.value_or(decoy_hash()), password) && hash.has_value();
      return std::function<void()>([this, ok, user, account, logged_in, reply, path] {
        if (!ok) {
          web_sessions_.failed(user);
          return reply(json_answer(401, {{"error", "wrong user name or password"}, {"field", "password"}, {"path", path}}));
        }
        web_sessions_.succeeded(user);
        logged_in(*account);
      });
    });
    if (!started) throw ApiError{503, "", "the gateway is busy; try again in a few seconds"};
    return true;
  }
  if (path == "/api/v1/invites") {
    const json body = body_object(request, R"({"household": "3-2-502"})");
    only_fields(body, {"household"});
    const std::string household = string_field(body, "household", "a household such as \"3-2-502\"");
    bool known = false;
    for (const auto& c : config_.chargers) known = known || c.household == household;
    if (!known) throw ApiError{400, "household", "no pile in the configuration belongs to household '" + household + "'"};
    const TimePoint expires = session_clock().now() + kInviteLifetime;
    const std::string token = accounts_->create_link({"invite", "", household}, request.caller ? request.caller->user : "", expires);
    audit(request, "invite.create", household);
    reply(json_answer(201, {{"household", household}, {"link", "/#invite=" + token},
                            {"expires_at", format_local_time(expires, config_.site.utc_offset)}}));
    return true;
  }
  if (path == "/api/v1/invites/redeem") {
    const json body = body_object(request, R"({"invite": "...", "user": "wang-3-2-502", "password": "..."})");
    only_fields(body, {"invite", "user", "password"});
    const std::string token = string_field(body, "invite", "the token from the invite link");
    const std::string user = string_field(body, "user", "the user name you want");
    const std::string password = string_field(body, "password", "a password of at least 8 characters");
    if (password.size() < 8) throw ApiError{400, "password", "the password must have at least 8 characters"};
    if (accounts_->find(user)) throw ApiError{409, "user", "user '" + user + "' exists already; choose another name"};
    const auto grant = accounts_->use_link(token, session_clock().now());
    if (!grant || grant->kind != "invite") {
      throw ApiError{404, "invite", "this invite is unknown, used already or expired; ask the operator for a new one"};
    }
    const bool started = beside_core([this, grant, user, password, reply, path] {
      const std::string hash = hash_password(password);
      return std::function<void()>([this, grant, user, hash, reply, path] {
        try {
          accounts_->add_hashed(user, web::Role::resident, grant->household, clock_.now(), hash);
        } catch (const AccountError& e) {
          return reply(json_answer(400, {{"error", e.what()}, {"field", "user"}, {"path", path}}));
        }
        reply(json_answer(201, {{"user", user}, {"role", "resident"}, {"household", grant->household}}));
      });
    });
    if (!started) throw ApiError{503, "", "the gateway is busy; try again in a few seconds"};
    return true;
  }
  if (path == "/api/v1/audit") {
    json list = json::array();
    for (const auto& e : accounts_->audit_log(500)) {
      list.push_back({{"time", format_local_time(e.at, config_.site.utc_offset)}, {"user", e.user}, {"role", e.role},
                      {"action", e.action}, {"target", e.target}, {"detail", e.detail}});
    }
    reply(json_answer(200, {{"entries", list}}));
    return true;
  }
  return false;
}

}  // namespace orderly::gateway

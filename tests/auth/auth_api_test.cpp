// Issue 14's API checks over real HTTP against a whole Gateway (real SQLite store, real Beast
// server, libcurl as the phone or the platform): every route refuses without a session or
// token; a resident stays inside their household; cross-site text/plain, a wrong Origin, a
// foreign Host and a missing CSRF token are refused; lock-out after failed logins; bad JSON is
// a 400 naming the field; invites are one-time; the audit log records staff actions.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "access.hpp"
#include "config_text.hpp"
#include "orderly/gateway/accounts.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/http_call.hpp"

namespace orderly {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

struct Reply {
  long status = 0;
  json body;
  std::string set_cookie;  // "orderly_session=..." when the answer set one
};

// One request. `headers` are sent as given ("Content-Type: ..." included); nothing is implied.
Reply call(const std::string& method, const std::string& url, const std::string& body = {},
           const std::vector<std::string>& headers = {}) {
  const test::HttpReply answer = test::http_call(method, url, body, headers);
  return {answer.status, json::parse(answer.body, nullptr, false), answer.set_cookie};
}

const std::string kJson = "Content-Type: application/json";

// A browser session: the cookie the login set and the CSRF token it answered.
struct Browser {
  std::string cookie;
  std::string csrf;
  std::vector<std::string> headers(bool with_csrf = true) const {
    std::vector<std::string> h = {"Cookie: " + cookie, kJson};
    if (with_csrf) h.push_back("X-CSRF-Token: " + csrf);
    return h;
  }
};

std::string site_config(const std::filesystem::path& db) {
  return gateway::testing::kMinimal + R"(
[web]
listen = "127.0.0.1"
allowed_hosts = ["orderly.local"]

[store]
path = ")" + db.string() + R"("

)" + gateway::testing::kMeterAndTwoHomePiles;
}

gateway::SessionRecord past_session(const std::string& charger, const std::string& household) {
  gateway::SessionRecord s;
  s.id = charger + "-jan";
  s.charger_id = charger;
  s.household = household;
  s.started_at = gateway::testing::january_2026(5, 19, 0);
  s.ended_at = gateway::testing::january_2026(6, 7, 0);
  s.energy_wh = 20000;
  s.energy_wh_by_period = {0, 0, 0, 20000};
  s.cost_yuan = 6;
  return s;
}

class AuthApi : public ::testing::Test {
 protected:
  AuthApi() {
    const auto db = dir_ / "orderly.db";
    {
      gateway::Store store(db);
      store.write({past_session("p1", "1-1-101"), past_session("p2", "1-1-102")});
    }
    gateway::Accounts accounts(db);
    accounts.add("admin", web::Role::admin, "", {}, std::string(kPassword));
    accounts.add("op", web::Role::site_operator, "", {}, std::string(kPassword));
    accounts.add("wang", web::Role::resident, "1-1-101", {}, std::string(kPassword));
    accounts.add("li", web::Role::resident, "1-1-102", {}, std::string(kPassword));
    platform_token_ = accounts.add("city", web::Role::platform, "", {});

    auto config = gateway::parse_config(site_config(db), "auth.toml");
    config.web.port = 0;
    gateway::GatewayOptions options;
    options.session_clock = &session_clock_;
    options.devices = [](const drivers::DeviceEvents&) {
      return std::map<std::string, std::shared_ptr<drivers::ChargerDriver>>{};
    };
    site_ = std::make_unique<test::RunningGateway>(clock_, config, std::move(options));
    base_ = site_->web_url();
  }

  Reply login(const std::string& user, const std::string& password) {
    return call("POST", base_ + "/api/v1/login", json{{"user", user}, {"password", password}}.dump(), {kJson});
  }
  Browser browser(const std::string& user) {
    const Reply r = login(user, kPassword);
    EXPECT_EQ(r.status, 200) << r.body;
    return {r.set_cookie.substr(0, r.set_cookie.find(';')), r.body.value("csrf_token", "")};
  }
  std::vector<std::string> bearer() const { return {"Authorization: Bearer " + platform_token_, kJson}; }

  static constexpr const char* kPassword = "correct horse battery";
  test::TempDir dir_;
  ManualClock clock_{gateway::testing::january_2026(20, 12, 0)};
  ManualClock session_clock_{gateway::testing::january_2026(20, 12, 0)};
  std::string platform_token_;
  std::unique_ptr<test::RunningGateway> site_;
  std::string base_;
};

// Each route of the table with its '*' segments filled in.
std::string example_path(std::string_view pattern) {
  std::string path(pattern);
  for (auto star = path.find('*'); star != std::string::npos; star = path.find('*')) path.replace(star, 1, "p1");
  return path;
}

TEST_F(AuthApi, EveryRouteButThePublicOnesRefusesWithoutASessionOrToken) {
  int checked = 0;
  for (const auto& route : web::route_table()) {
    if (route.roles.open) continue;
    const std::string path = example_path(route.pattern);
    const Reply r = call(std::string(route.method), base_ + path, route.method == "GET" ? "" : "{}", {kJson});
    EXPECT_EQ(r.status, 401) << route.method << " " << path << ": " << r.body;
    const Reply forged = call(std::string(route.method), base_ + path, route.method == "GET" ? "" : "{}",
                              {kJson, "Cookie: orderly_session=made-up", "Authorization: Bearer made-up"});
    EXPECT_EQ(forged.status, 401) << route.method << " " << path;
    ++checked;
  }
  EXPECT_GE(checked, 12);
  // The page itself is public (it shows the login form); its data is not.
  EXPECT_EQ(call("GET", base_ + "/").status, 200);
}

TEST_F(AuthApi, ARoleOutsideTheRouteIsForbidden) {
  const Browser wang = browser("wang");
  EXPECT_EQ(call("GET", base_ + "/api/v1/kpi", "", wang.headers()).status, 403);
  EXPECT_EQ(call("POST", base_ + "/api/v1/dr-events", R"({"start":"2026-01-20T18:00","end":"2026-01-20T19:00","limit_kw":1})",
                 wang.headers()).status, 403);
  EXPECT_EQ(call("GET", base_ + "/api/v1/audit", "", browser("op").headers()).status, 403);
  // The platform reads and sends DR events by token, but does not act for a resident.
  EXPECT_EQ(call("GET", base_ + "/api/v1/dr-events", "", bearer()).status, 200);
  EXPECT_EQ(call("PUT", base_ + "/api/v1/chargers/p1/request", R"({"energy_kwh": 5})", bearer()).status, 403);
}

TEST_F(AuthApi, AResidentSeesAndChangesOnlyTheirHousehold) {
  const Browser wang = browser("wang");
  const Reply status = call("GET", base_ + "/api/v1/status", "", wang.headers());
  ASSERT_EQ(status.status, 200);
  ASSERT_EQ(status.body["chargers"].size(), 1u) << status.body["chargers"];
  EXPECT_EQ(status.body["chargers"][0]["id"], "p1");
  EXPECT_FALSE(status.body.contains("alarms"));

  EXPECT_EQ(call("GET", base_ + "/api/v1/chargers/p1/session", "", wang.headers()).status, 200);
  EXPECT_EQ(call("GET", base_ + "/api/v1/chargers/p2/session", "", wang.headers()).status, 403);
  EXPECT_EQ(call("PUT", base_ + "/api/v1/chargers/p2/request", R"({"energy_kwh": 5})", wang.headers()).status, 403);

  const Reply mine = call("GET", base_ + "/api/v1/sessions?from=2026-01-01&to=2026-02-01", "", wang.headers());
  ASSERT_EQ(mine.status, 200) << mine.body;
  ASSERT_EQ(mine.body["sessions"].size(), 1u);
  EXPECT_EQ(mine.body["sessions"][0]["household"], "1-1-101");
  const Reply theirs =
      call("GET", base_ + "/api/v1/sessions?from=2026-01-01&to=2026-02-01&household=1-1-102", "", wang.headers());
  EXPECT_EQ(theirs.status, 403);
  EXPECT_EQ(theirs.body["field"], "household");

  const Reply statement = call("GET", base_ + "/api/v1/statements/2026-01.json", "", wang.headers());
  ASSERT_EQ(statement.status, 200) << statement.body;
  ASSERT_EQ(statement.body["rows"].size(), 1u);
  EXPECT_EQ(statement.body["rows"][0]["household"], "1-1-101");

  // The operator sees both households.
  const Reply all = call("GET", base_ + "/api/v1/sessions?from=2026-01-01&to=2026-02-01", "", browser("op").headers());
  EXPECT_EQ(all.body["sessions"].size(), 2u);
}

TEST_F(AuthApi, CrossSiteWritesAreRefused) {
  const Browser op = browser("op");
  const std::string dr = R"({"id":"x","start":"2026-01-20T18:00","end":"2026-01-20T19:00","limit_kw":0.01})";
  const std::string url = base_ + "/api/v1/dr-events";
  // A form or text/plain POST needs no preflight, so any page could send it with the cookie.
  auto plain = op.headers();
  plain[1] = "Content-Type: text/plain";
  EXPECT_EQ(call("POST", url, dr, plain).status, 415);
  auto origin = op.headers();
  origin.push_back("Origin: http://evil.example");
  const Reply wrong_origin = call("POST", url, dr, origin);
  EXPECT_EQ(wrong_origin.status, 403);
  EXPECT_NE(wrong_origin.body["error"].get<std::string>().find("Origin"), std::string::npos);
  auto host = op.headers();
  host.push_back("Host: rebind.evil.example");
  EXPECT_EQ(call("POST", url, dr, host).status, 421);
  EXPECT_EQ(call("GET", base_ + "/api/v1/status", "", {"Host: rebind.evil.example", "Cookie: " + op.cookie}).status, 421);
  const Reply no_csrf = call("POST", url, dr, op.headers(false));
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_NE(no_csrf.body["error"].get<std::string>().find("X-CSRF-Token"), std::string::npos);
  auto wrong_csrf = op.headers(false);
  wrong_csrf.push_back("X-CSRF-Token: guessed");
  EXPECT_EQ(call("POST", url, dr, wrong_csrf).status, 403);
  EXPECT_TRUE(call("GET", url, "", op.headers()).body["events"].empty()) << "nothing refused may have taken effect";

  // The same write from the page itself: its Origin, an allowed name, the token.
  auto page = op.headers();
  page.push_back("Origin: http://orderly.local:8080");
  page.push_back("Host: orderly.local:8080");
  EXPECT_EQ(call("POST", url, dr, page).status, 201);
}

TEST_F(AuthApi, RepeatedFailedLoginsLockTheAccount) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("wang", "wrong password").status, 401) << i;
  const Reply locked = login("wang", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body["error"].get<std::string>().find("locked"), std::string::npos) << locked.body;
  EXPECT_EQ(login("li", kPassword).status, 200) << "another account is not locked";
  session_clock_.advance(minutes(16));
  EXPECT_EQ(login("wang", kPassword).status, 200) << "the lock-out ends";
  EXPECT_EQ(login("nobody", kPassword).status, 401);
}

TEST_F(AuthApi, SessionsExpireAndLogoutEndsThem) {
  const Browser op = browser("op");
  EXPECT_EQ(call("GET", base_ + "/api/v1/me", "", op.headers()).body["role"], "operator");
  const Reply out = call("POST", base_ + "/api/v1/logout", "{}", op.headers());
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.set_cookie.find("Max-Age=0"), std::string::npos) << out.set_cookie;
  EXPECT_EQ(call("GET", base_ + "/api/v1/me", "", op.headers()).status, 401);

  const Browser again = browser("op");
  EXPECT_NE(again.cookie, op.cookie);
  session_clock_.advance(hours(13));
  EXPECT_EQ(call("GET", base_ + "/api/v1/status", "", again.headers()).status, 401);
}

TEST_F(AuthApi, TheSessionCookieIsHttpOnlyAndSameSiteStrict) {
  const Reply r = login("op", kPassword);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.set_cookie.find("HttpOnly"), std::string::npos) << r.set_cookie;
  EXPECT_NE(r.set_cookie.find("SameSite=Strict"), std::string::npos) << r.set_cookie;
  EXPECT_EQ(r.set_cookie.find("Secure"), std::string::npos) << "no TLS here, so no Secure";
  EXPECT_EQ(r.body.value("csrf_token", "").size(), 43u);
}

TEST_F(AuthApi, BadJsonIsA400NamingTheField) {
  const Reply not_json = call("POST", base_ + "/api/v1/login", "{user", {kJson});
  EXPECT_EQ(not_json.status, 400);
  const Reply wrong_type = call("POST", base_ + "/api/v1/login", R"({"user": 5, "password": "x"})", {kJson});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.body["field"], "user");
  const Browser wang = browser("wang");
  const Reply departure = call("PUT", base_ + "/api/v1/chargers/p1/request", R"({"departure": "25:00"})", wang.headers());
  EXPECT_EQ(departure.status, 400);
  EXPECT_EQ(departure.body["field"], "departure") << departure.body;
  const Reply invite = call("POST", base_ + "/api/v1/invites", R"({"household": 3})", browser("op").headers());
  EXPECT_EQ(invite.status, 400);
  EXPECT_EQ(invite.body["field"], "household");
}

TEST_F(AuthApi, AnInviteMakesOneResidentOnce) {
  const Browser op = browser("op");
  const Reply invite = call("POST", base_ + "/api/v1/invites", R"({"household": "1-1-102"})", op.headers());
  ASSERT_EQ(invite.status, 201) << invite.body;
  const std::string link = invite.body["link"];
  const std::string token = link.substr(link.find('=') + 1);
  const json redeem = {{"invite", token}, {"user", "zhao"}, {"password", "a long password"}};
  const Reply made = call("POST", base_ + "/api/v1/invites/redeem", redeem.dump(), {kJson});
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(made.body["household"], "1-1-102");
  const json again = {{"invite", token}, {"user", "zhao2"}, {"password", "a long password"}};
  EXPECT_EQ(call("POST", base_ + "/api/v1/invites/redeem", again.dump(), {kJson}).status, 404);
  const Reply in = login("zhao", "a long password");
  ASSERT_EQ(in.status, 200);
  EXPECT_EQ(in.body["household"], "1-1-102");
  // The link is kept hashed, never as given.
  EXPECT_EQ(test::on_core(site_->io(), [&] { return site_->gateway().accounts().use_link(token, session_clock_.now()); }),
            std::nullopt);
}

TEST_F(AuthApi, StaffActionsAreAudited) {
  const Browser op = browser("op");
  const std::string dr = R"({"id":"evening","start":"2026-01-20T18:00","end":"2026-01-20T19:00","limit_kw":20})";
  ASSERT_EQ(call("POST", base_ + "/api/v1/dr-events", dr, op.headers()).status, 201);
  ASSERT_EQ(call("DELETE", base_ + "/api/v1/dr-events/evening", "", op.headers()).status, 200);
  const Reply log = call("GET", base_ + "/api/v1/audit", "", browser("admin").headers());
  ASSERT_EQ(log.status, 200) << log.body;
  std::vector<std::string> actions;
  for (const auto& e : log.body["entries"]) {
    if (e["user"] == "op") actions.push_back(e["action"].get<std::string>() + " " + e["target"].get<std::string>());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"dr-event.cancel evening", "dr-event.add evening", "login "}));
}

TEST_F(AuthApi, TheLiveSocketNeedsASessionAndOurOrigin) {
  namespace beast = boost::beast;
  const Browser wang = browser("wang");
  auto handshake = [&](const std::vector<std::pair<beast::http::field, std::string>>& headers) {
    boost::asio::io_context io;
    beast::websocket::stream<beast::tcp_stream> ws(io);
    beast::get_lowest_layer(ws).expires_after(seconds(10));
    beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), site_->gateway().web_port()});
    ws.set_option(beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& r) {
      for (const auto& [field, value] : headers) r.set(field, value);
    }));
    beast::websocket::response_type response;
    beast::error_code ec;
    ws.handshake(response, "127.0.0.1", "/api/v1/live", ec);
    std::string first;
    if (!ec) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      first = beast::buffers_to_string(buffer.data());
    }
    return std::make_pair(response.result_int(), first);
  };
  EXPECT_EQ(handshake({}).first, 401u);
  EXPECT_EQ(handshake({{beast::http::field::cookie, wang.cookie}, {beast::http::field::origin, "http://evil.example"}}).first,
            403u);
  const auto [status, first] = handshake({{beast::http::field::cookie, wang.cookie}});
  EXPECT_EQ(status, 101u);
  const json pushed = json::parse(first, nullptr, false);
  ASSERT_TRUE(pushed.is_object()) << first;
  ASSERT_EQ(pushed["chargers"].size(), 1u) << "a resident's pushes carry only their piles";
  EXPECT_EQ(pushed["chargers"][0]["id"], "p1");
}

TEST(WebConfig, AllowedHostsAndTlsFilesAreReadAndTlsNeedsBoth) {
  const auto config = gateway::parse_config(gateway::testing::kMinimal + R"(
[web]
allowed_hosts = ["orderly.local", "box.lan"]
tls_certificate = "/etc/orderly/web.pem"
tls_key = "/etc/orderly/web.key"
)", "web.toml");
  EXPECT_EQ(config.web.allowed_hosts, (std::vector<std::string>{"orderly.local", "box.lan"}));
  EXPECT_EQ(config.web.tls_key, "/etc/orderly/web.key");
  const auto errors = gateway::testing::errors_of(gateway::testing::kMinimal + "[web]\ntls_certificate = \"/x.pem\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("tls_key"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find(":"), std::string::npos) << "file:line";
}

// The route table is the one truth; docs/openapi.yaml must describe each of its routes.
TEST(RouteDocs, EveryRouteIsInTheOpenApiDocument) {
  const std::string doc = test::read_file(test::source_dir() / "docs" / "openapi.yaml");
  for (const auto& route : web::route_table()) {
    const std::string_view pattern = route.pattern;
    const std::string prefix(pattern.substr(0, pattern.find('*')));
    const auto at = doc.find("\n  " + prefix);
    ASSERT_NE(at, std::string::npos) << route.pattern << " is not in docs/openapi.yaml";
    std::string method(route.method);
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_NE(doc.find("    " + method + ":", at), std::string::npos) << route.method << " " << route.pattern;
  }
}

}  // namespace
}  // namespace orderly

// Routing rules without sockets: which request gets which answer.
#include "routes.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "fake_application.hpp"
#include "orderly/test/support.hpp"

namespace orderly::web {
namespace {

namespace http = boost::beast::http;

Request make_request(http::verb method, std::string target) {
  Request request{method, target, 11};
  request.set(http::field::host, "localhost");
  request.set(http::field::authorization, "Bearer " + std::string(test::kTestToken));
  if (method != http::verb::get && method != http::verb::head) request.set(http::field::content_type, "application/json");
  return request;
}

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest() {
    orderly::test::write_file(dir_ / "index.html", "<h1>ok</h1>");
    orderly::test::write_file(dir_ / "app.js", "1;");
  }
  Response get(std::string target, http::verb method = http::verb::get) {
    return handle_request(app_, dir_.path(), make_request(method, std::move(target)));
  }
  orderly::test::TempDir dir_;
  test::FakeApplication app_{test::example_status()};
};

TEST_F(RoutesTest, RootServesIndexAsHtml) {
  const auto response = get("/");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(response.body(), "<h1>ok</h1>");
}

TEST_F(RoutesTest, QueryStringIsIgnoredForFiles) {
  const auto response = get("/app.js?v=3");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "text/javascript; charset=utf-8");
}

TEST_F(RoutesTest, StatusIsTheApplicationsJson) {
  const auto response = get("/api/v1/status");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::cache_control], "no-store");
  EXPECT_EQ(nlohmann::json::parse(response.body()), test::example_status());
}

TEST_F(RoutesTest, HeadHasLengthButNoBody) {
  const auto response = get("/api/v1/health", http::verb::head);
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_TRUE(response.body().empty());
  EXPECT_EQ(response[http::field::content_length], std::to_string(std::string(R"({"ok":true,"failing":[],"checks":[]})").size()));
}

TEST_F(RoutesTest, TraversalIsRejectedInEveryDisguise) {
  for (const char* target : {"/../x", "/a/../../x", "/%2e%2e/x", "/%2E%2E%2Fsecret", "/..%5c..%5cx",
                             "/./index.html", "/%00", "/%zz", "relative"}) {
    const auto response = get(target);
    EXPECT_EQ(response.result(), http::status::bad_request) << target;
    EXPECT_EQ(nlohmann::json::parse(response.body())["path"], target);
  }
}

TEST_F(RoutesTest, MissingFileAndUnknownApiAre404Json) {
  for (const char* target : {"/nope.html", "/api/v1/nope", "/api/v2/status"}) {
    const auto response = get(target);
    EXPECT_EQ(response.result(), http::status::not_found) << target;
    const auto body = nlohmann::json::parse(response.body());
    EXPECT_EQ(body["path"], target);
    EXPECT_FALSE(body["error"].get<std::string>().empty());
  }
}

TEST_F(RoutesTest, WrongMethodIs405WithAllow) {
  for (const char* target : {"/", "/api/v1/status"}) {
    const auto response = get(target, http::verb::post);
    EXPECT_EQ(response.result(), http::status::method_not_allowed) << target;
    EXPECT_EQ(response[http::field::allow], "GET, HEAD");
  }
}

TEST_F(RoutesTest, LiveWithoutUpgradeSaysItIsAWebSocket) {
  const auto response = get("/api/v1/live");
  EXPECT_EQ(response.result(), http::status::bad_request);
  EXPECT_NE(response.body().find("WebSocket"), std::string::npos);
}

TEST_F(RoutesTest, ApiCallReachesTheApplicationDecoded) {
  const auto response =
      get("/api/v1/sessions?from=2026-01-01&household=3-1-101%20b&to=2026-01-05T00%3A00%2B08%3A00&x=a+b");
  EXPECT_EQ(response.result(), http::status::not_found);  // the fake knows no sessions
  ASSERT_EQ(app_.api_requests.size(), 1u);
  const ApiRequest& call = app_.api_requests.back();
  EXPECT_EQ(call.method, "GET");
  EXPECT_EQ(call.path, "/api/v1/sessions");
  const std::map<std::string, std::string> expected = {{"from", "2026-01-01"},
                                                       {"household", "3-1-101 b"},
                                                       {"to", "2026-01-05T00:00+08:00"},
                                                       {"x", "a b"}};
  EXPECT_EQ(call.query, expected);
}

TEST_F(RoutesTest, ApiPathIsDecodedAndBodyPassedOn) {
  auto request = make_request(http::verb::put, "/api/v1/chargers/%E5%85%AC-1/request");
  request.body() = R"({"energy_kwh": 20})";
  request.prepare_payload();
  const auto response = handle_request(app_, dir_.path(), request);
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::cache_control], "no-store");
  ASSERT_EQ(app_.api_requests.size(), 1u);
  EXPECT_EQ(app_.api_requests[0].method, "PUT");
  EXPECT_EQ(app_.api_requests[0].path, "/api/v1/chargers/公-1/request");
  EXPECT_EQ(app_.api_requests[0].body, R"({"energy_kwh": 20})");
  EXPECT_EQ(nlohmann::json::parse(response.body())["request"]["energy_kwh"], 20);
}

TEST_F(RoutesTest, MalformedQueryIs400AndNeverReachesTheApplication) {
  for (const char* target : {"/api/v1/kpi?from=1&from=2", "/api/v1/kpi?from=%zz", "/api/v1/kpi?=3",
                             "/api/v1/k%zzpi"}) {
    const auto response = get(target);
    EXPECT_EQ(response.result(), http::status::bad_request) << target;
    EXPECT_FALSE(nlohmann::json::parse(response.body())["error"].get<std::string>().empty()) << target;
  }
  EXPECT_TRUE(app_.api_requests.empty());
}

TEST_F(RoutesTest, DownloadIsAnAttachmentWithTheApplicationsContentType) {
  const auto response = get("/api/v1/statements/2026-01.csv");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "text/csv; charset=utf-8");
  EXPECT_EQ(response[http::field::content_disposition],
            R"(attachment; filename="orderly-statement-2026-01.csv")");
}

TEST_F(RoutesTest, HeadOnTheApiIsAGetWithoutBody) {
  const auto response = get("/api/v1/kpi", http::verb::head);
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_TRUE(response.body().empty());
  EXPECT_NE(response[http::field::content_length], "0");
  ASSERT_EQ(app_.api_requests.size(), 1u);
  EXPECT_EQ(app_.api_requests[0].method, "GET");
}

TEST_F(RoutesTest, ApplicationsMethodRefusalCarriesAllow) {
  const auto response = get("/api/v1/chargers/c01/request", http::verb::post);
  EXPECT_EQ(response.result(), http::status::method_not_allowed);
  EXPECT_EQ(response[http::field::allow], "PUT");
}

TEST_F(RoutesTest, UnsafeDownloadNameAndBadStatusAreNeutralised) {
  app_.api = [](const ApiRequest&) {
    return ApiResponse{1000, "", "x", "a\"b;c/../d.csv", "", {}};
  };
  const auto response = get("/api/v1/statements/2026-01.csv");
  EXPECT_EQ(response.result(), http::status::internal_server_error);
  EXPECT_EQ(response[http::field::content_disposition], R"(attachment; filename="a_b_c_.._d.csv")");
  EXPECT_EQ(response[http::field::content_type], "application/octet-stream");
}

TEST_F(RoutesTest, ApplicationThrowingIs500Json) {
  app_.api = [](const ApiRequest&) -> ApiResponse { throw std::runtime_error("store locked"); };
  const auto response = get("/api/v1/kpi");
  EXPECT_EQ(response.result(), http::status::internal_server_error);
  const auto body = nlohmann::json::parse(response.body());
  EXPECT_NE(body["error"].get<std::string>().find("store locked"), std::string::npos);
  EXPECT_EQ(body["path"], "/api/v1/kpi");
}

TEST_F(RoutesTest, StatusHealthAndLiveStayWithTheServer) {
  get("/api/v1/status");
  get("/api/v1/health");
  get("/api/v1/live");
  EXPECT_TRUE(app_.api_requests.empty());
}

TEST_F(RoutesTest, AsyncApiAnswerArrivesWhenTheApplicationReplies) {
  app_.defer_api = true;
  std::optional<Response> answer;
  {
    auto request = make_request(http::verb::head, "/api/v1/kpi?from=2026-01-01");
    handle_request_async(app_, dir_.path(), request, [&](Response r) { answer = std::move(r); });
  }  // the request is gone before the answer: the route kept what it needs
  EXPECT_FALSE(answer);
  ASSERT_EQ(app_.deferred.size(), 1u);
  app_.answer_deferred();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result(), http::status::ok);
  EXPECT_TRUE(answer->body().empty());  // HEAD
  EXPECT_EQ(app_.api_requests.at(0).query.at("from"), "2026-01-01");
}

TEST_F(RoutesTest, AsyncFilesStatusAndBadQueriesAreAnsweredAtOnce) {
  app_.defer_api = true;
  for (const char* target : {"/", "/api/v1/status", "/api/v1/kpi?a=1&a=2", "/api/v2/x"}) {
    std::optional<Response> answer;
    handle_request_async(app_, dir_.path(), make_request(http::verb::get, target),
                         [&](Response r) { answer = std::move(r); });
    EXPECT_TRUE(answer) << target;
  }
  EXPECT_TRUE(app_.deferred.empty());
}

TEST_F(RoutesTest, AsyncApplicationThrowingIs500) {
  class Throwing : public test::FakeApplication {
   public:
    Throwing() : FakeApplication(test::example_status()) {}
    void handle_api_async(const ApiRequest&, std::function<void(ApiResponse)>) override {
      throw std::runtime_error("worker pool gone");
    }
  } app;
  std::optional<Response> answer;
  handle_request_async(app, dir_.path(), make_request(http::verb::get, "/api/v1/kpi"),
                       [&](Response r) { answer = std::move(r); });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->result(), http::status::internal_server_error);
  EXPECT_NE(answer->body().find("worker pool gone"), std::string::npos);
}

TEST(ParseQuery, EmptyPartsAreSkippedAndValuesMayBeEmpty) {
  std::map<std::string, std::string> out;
  EXPECT_EQ(parse_query("a=1&&b=&c", out), "");
  const std::map<std::string, std::string> expected = {{"a", "1"}, {"b", ""}, {"c", ""}};
  EXPECT_EQ(out, expected);
  EXPECT_NE(parse_query("a=%00", out), "");
}

TEST(StaticFileFor, MapsDirectoriesToIndex) {
  EXPECT_EQ(static_file_for("/s", "/"), std::filesystem::path("/s/index.html"));
  EXPECT_EQ(static_file_for("/s", "/a/"), std::filesystem::path("/s/a/index.html"));
  EXPECT_EQ(static_file_for("/s", "//a//b.css"), std::filesystem::path("/s/a/b.css"));
  EXPECT_TRUE(static_file_for("/s", "/a/..").empty());
}

TEST(StatusText, ApplicationFailureBecomesAnErrorObject) {
  class Failing : public Application {
   public:
    nlohmann::json status() const override { throw std::runtime_error("store locked"); }
    void on_status_changed(std::function<void()>) override {}
  } failing;
  const auto body = nlohmann::json::parse(status_text(failing, Principal{}));
  EXPECT_NE(body["error"].get<std::string>().find("store locked"), std::string::npos);
}

TEST(StatusText, InvalidUtf8IsReplacedNotThrown) {
  test::FakeApplication app{{{"site", {{"name", std::string("bad \xff name")}}}}};
  EXPECT_NO_THROW(nlohmann::json::parse(status_text(app, Principal{})));
}

}  // namespace
}  // namespace orderly::web

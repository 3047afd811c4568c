// Routing rules without sockets: which request gets which answer.
#include "routes.hpp"

#include <gtest/gtest.h>

#include "fake_application.hpp"
#include "orderly/test/support.hpp"

namespace orderly::web {
namespace {

namespace http = boost::beast::http;

Request make_request(http::verb method, std::string target) {
  Request request{method, target, 11};
  request.set(http::field::host, "localhost");
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
  EXPECT_EQ(response[http::field::content_length], "11");
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
  const auto body = nlohmann::json::parse(status_text(failing));
  EXPECT_NE(body["error"].get<std::string>().find("store locked"), std::string::npos);
}

TEST(StatusText, InvalidUtf8IsReplacedNotThrown) {
  test::FakeApplication app{{{"site", {{"name", std::string("bad \xff name")}}}}};
  EXPECT_NO_THROW(nlohmann::json::parse(status_text(app)));
}

}  // namespace
}  // namespace orderly::web

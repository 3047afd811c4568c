// The real server on loopback: libcurl for HTTP, a Beast client for the live WebSocket.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "fake_application.hpp"
#include "orderly/test/support.hpp"

namespace orderly::web {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using orderly::test::wait_until;

struct HttpResult {
  long status = 0;
  std::string content_type;
  std::string body;
};

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One request with libcurl. `as_is` keeps "../" in the URL (curl would otherwise squash it,
// hiding exactly what a traversal test needs to send).
HttpResult http_request(const std::string& url, const std::string& method = "GET",
                        const std::string& body = {}) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  EXPECT_NE(curl, nullptr);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  // These tests are about serving, not access (tests/auth is): they call as the fake's admin.
  curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + std::string(test::kTestToken)).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode code = curl_easy_perform(curl);
  EXPECT_EQ(code, CURLE_OK) << url << ": " << curl_easy_strerror(code);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type) result.content_type = type;
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return result;
}

// Writes raw bytes on a fresh connection, half-closes it, and returns everything the server sends until it
// closes the connection (or `timeout` passes).
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  if (!bytes.empty()) {
    // Errors are tolerated: a server that refuses the connection may already have closed it.
    beast::error_code ec;
    net::write(stream.socket(), net::buffer(bytes), ec);
    // Half-close as a client that has nothing more to say: the server sees end-of-stream at once
    // instead of waiting for its idle timeout.
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  std::string received;
  beast::flat_buffer buffer;
  stream.expires_after(timeout);
  std::function<void()> read_more;
  read_more = [&] {
    stream.async_read_some(buffer.prepare(4096), [&](beast::error_code ec, std::size_t n) {
      buffer.commit(n);
      received += beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (!ec) read_more();
    });
  };
  read_more();
  io.run();
  return received;
}

// A Beast WebSocket client driven by its own io_context, so every wait has a deadline.
class LiveClient {
 public:
  explicit LiveClient(std::uint16_t port) : ws_(io_) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& request) {
      request.set(beast::http::field::authorization, "Bearer " + std::string(test::kTestToken));
    }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/api/v1/live");
  }

  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::optional<nlohmann::json> message;
    bool done = false;
    buffer_.consume(buffer_.size());
    ws_.async_read(buffer_, [&](beast::error_code ec, std::size_t) {
      done = true;
      if (!ec) message = nlohmann::json::parse(beast::buffers_to_string(buffer_.data()));
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      beast::get_lowest_layer(ws_).close();
      io_.restart();
      io_.run();
    }
    return message;
  }

 private:
  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
};

TEST(WebServer, ServesStatusJson) {
  test::RunningServer server(test::test_options());
  const auto response = http_request(server.url("/api/v1/status"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json; charset=utf-8");
  const auto status = nlohmann::json::parse(response.body);
  EXPECT_EQ(status["site"]["name"], "幸福里小区 1# 台区");
  EXPECT_EQ(status["chargers"][0]["id"], "c01");
}

TEST(WebServer, ServesHealth) {
  test::RunningServer server(test::test_options());
  const auto response = http_request(server.url("/api/v1/health"));
  EXPECT_EQ(response.status, 200);
  // The application here has no checks of its own: the web server answering is all it knows.
  EXPECT_EQ(nlohmann::json::parse(response.body),
            nlohmann::json({{"ok", true}, {"failing", nlohmann::json::array()}, {"checks", nlohmann::json::array()}}));
}

TEST(WebServer, ServesTheShippedPage) {
  test::RunningServer server(test::test_options());
  const auto index = http_request(server.url("/"));
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("app.js"), std::string::npos);
  EXPECT_EQ(http_request(server.url("/app.js")).content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(http_request(server.url("/style.css")).content_type, "text/css; charset=utf-8");
}

TEST(WebServer, MissingIs404Json) {
  test::RunningServer server(test::test_options());
  const auto response = http_request(server.url("/missing.html"));
  EXPECT_EQ(response.status, 404);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["path"], "/missing.html");
}

TEST(WebServer, WrongMethodIs405) {
  test::RunningServer server(test::test_options());
  EXPECT_EQ(http_request(server.url("/api/v1/status"), "POST", "{}").status, 405);
  EXPECT_EQ(http_request(server.url("/index.html"), "DELETE").status, 405);
}

TEST(WebServer, PathTraversalIsRejected) {
  test::RunningServer server(test::test_options());
  for (const char* path : {"/../CMakeLists.txt", "/../../web/CMakeLists.txt", "/%2e%2e/CMakeLists.txt"}) {
    const auto response = http_request(server.url(path));
    EXPECT_EQ(response.status, 400) << path;
    EXPECT_EQ(response.body.find("cmake_minimum_required"), std::string::npos) << path;
  }
}

TEST(WebServer, MalformedRequestGets400AndServerKeepsServing) {
  test::RunningServer server(test::test_options());
  const std::string answer = raw_exchange(server.port(), "GARBAGE\x01\x02 nonsense\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"error\""), std::string::npos) << answer;
  // A connection that closes mid-headers must not hurt either.
  raw_exchange(server.port(), "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\nX-Half");
  EXPECT_EQ(http_request(server.url("/api/v1/health")).status, 200);
}

TEST(WebServer, OversizedBodyIs413) {
  auto options = test::test_options();
  options.max_body_bytes = 1024;
  test::RunningServer server(options);
  const std::string request = "POST /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\nContent-Length: 100000\r\n\r\n" +
                              std::string(4096, 'x');
  const std::string answer = raw_exchange(server.port(), request);
  EXPECT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"("path":"/api/v1/status")"), std::string::npos) << answer;
  EXPECT_EQ(http_request(server.url("/api/v1/health")).status, 200);
}

TEST(WebServer, ApiPutWithBodyReachesTheApplicationAndOversizedIs413) {
  test::RunningServer server(test::test_options());
  const auto ok = http_request(server.url("/api/v1/chargers/c02/request"), "PUT",
                               R"({"departure": "07:30", "energy_kwh": 25})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(nlohmann::json::parse(ok.body)["request"]["departure"], "07:30");

  // The 413 is decided on Content-Length (70 KiB > the 64 KiB default); sending all of it would
  // race the server's close against the client's write.
  const std::string request =
      "PUT /api/v1/chargers/c02/request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\nContent-Length: " +
      std::to_string(70 * 1024) + "\r\n\r\n{\"note\": \"" + std::string(4096, 'x');
  const std::string answer = raw_exchange(server.port(), request);
  EXPECT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << answer.substr(0, 300);
  EXPECT_NE(answer.find("larger than 65536 bytes"), std::string::npos) << answer.substr(0, 300);
  std::size_t calls = 0;
  server.on_server_thread([&] { calls = server.app.api_requests.size(); });
  EXPECT_EQ(calls, 1u);  // the oversized one never reached the application
}

TEST(WebServer, SlowApiAnswerDoesNotHoldOtherClients) {
  test::RunningServer server(test::test_options());
  server.on_server_thread([&] { server.app.defer_api = true; });
  HttpResult slow;
  std::thread client([&] { slow = http_request(server.url("/api/v1/kpi")); });
  ASSERT_TRUE(wait_until(
      [&] {
        std::size_t waiting = 0;
        server.on_server_thread([&] { waiting = server.app.deferred.size(); });
        return waiting == 1;
      },
      std::chrono::seconds(10)));
  // While the KPI answer is pending, the core thread serves everyone else.
  EXPECT_EQ(http_request(server.url("/api/v1/status")).status, 200);
  server.on_server_thread([&] { server.app.answer_deferred(); });
  client.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(nlohmann::json::parse(slow.body)["valley_share"]["target_private"], 0.8);
}

TEST(WebServer, IdleConnectionIsClosed) {
  auto options = test::test_options();
  options.idle_timeout = std::chrono::milliseconds(200);
  test::RunningServer server(options);
  const auto started = std::chrono::steady_clock::now();
  // Sends nothing: the server must hang up by itself well before our own 10 s guard.
  EXPECT_EQ(raw_exchange(server.port(), ""), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(WebServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  test::RunningServer server(test::test_options());
  const std::string two = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\n\r\n"
                          "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\nConnection: close\r\n\r\n";
  const std::string answer = raw_exchange(server.port(), two);
  const auto first = answer.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 200", first + 1), std::string::npos) << answer;
}

TEST(WebServer, HeadSendsHeadersOnly) {
  test::RunningServer server(test::test_options());
  const std::string answer =
      raw_exchange(server.port(), "HEAD /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  const auto end_of_headers = answer.find("\r\n\r\n");
  ASSERT_NE(end_of_headers, std::string::npos) << answer;
  EXPECT_EQ(answer.size(), end_of_headers + 4) << answer;
  EXPECT_EQ(answer.find("Content-Length: 0"), std::string::npos) << answer;
}

TEST(WebServer, ConnectionsBeyondTheLimitAreRefusedAndServiceResumes) {
  auto options = test::test_options();
  options.max_connections = 2;
  test::RunningServer server(options);
  auto first = std::make_unique<LiveClient>(server.port());
  auto second = std::make_unique<LiveClient>(server.port());
  ASSERT_TRUE(first->next().has_value());
  ASSERT_TRUE(second->next().has_value());
  EXPECT_EQ(raw_exchange(server.port(), "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\n\r\n"), "");
  first.reset();
  EXPECT_TRUE(wait_until([&] {
    return raw_exchange(server.port(), "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-admin-token\r\n\r\n")
               .find("HTTP/1.1 200") != std::string::npos;
  })) << "a slot should free up once a client leaves";
}

TEST(WebServer, PortInUseNamesThePortAndWhatToDo) {
  test::RunningServer first(test::test_options());
  net::io_context io;
  test::FakeApplication app{test::example_status()};
  auto options = test::test_options();
  options.port = first.port();
  Server second(io, app, options);
  try {
    second.start();
    FAIL() << "second server bound a port already in use";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << message;
    EXPECT_NE(message.find("in use: set [web] port"), std::string::npos) << message;
  }
}

TEST(WebServer, InvalidAddressIsAConfigError) {
  net::io_context io;
  test::FakeApplication app{test::example_status()};
  auto options = test::test_options();
  options.address = "not-an-ip";
  Server server(io, app, options);
  EXPECT_THROW(server.start(), std::runtime_error);
}

TEST(WebServerLive, SendsStatusOnConnectAndPushesChanges) {
  test::RunningServer server(test::test_options());
  LiveClient client(server.port());
  const auto first = client.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["site"]["load_kw"], 320.5);

  auto changed = test::example_status();
  changed["site"]["load_kw"] = 333.25;
  server.set_status(changed);
  const auto pushed = client.next();
  ASSERT_TRUE(pushed.has_value());
  EXPECT_EQ((*pushed)["site"]["load_kw"], 333.25);
}

TEST(WebServerLive, BurstOfChangesIsCoalescedToTheNewest) {
  auto options = test::test_options();
  options.push_interval = std::chrono::milliseconds(200);
  test::RunningServer server(options);
  LiveClient client(server.port());
  ASSERT_TRUE(client.next().has_value());
  // All changes land in one turn of the server's loop, so a throttled server sends one push
  // carrying the last value; an unthrottled one would send 1.0 first.
  server.on_server_thread([&] {
    for (int i = 1; i <= 20; ++i) {
      auto changed = test::example_status();
      changed["site"]["load_kw"] = static_cast<double>(i);
      server.app.set_status(changed);
    }
  });
  const auto pushed = client.next();
  ASSERT_TRUE(pushed.has_value());
  EXPECT_EQ((*pushed)["site"]["load_kw"], 20.0);
}

TEST(WebServerLive, EverySessionGetsThePush) {
  test::RunningServer server(test::test_options());
  std::vector<std::unique_ptr<LiveClient>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<LiveClient>(server.port()));
    ASSERT_TRUE(clients.back()->next().has_value());
  }
  auto changed = test::example_status();
  changed["devices_offline"] = 3;
  server.set_status(changed);
  for (auto& client : clients) {
    const auto pushed = client->next();
    ASSERT_TRUE(pushed.has_value());
    EXPECT_EQ((*pushed)["devices_offline"], 3);
  }
}

TEST(WebServerLive, WebSocketOnOtherPathIs404) {
  test::RunningServer server(test::test_options());
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
  websocket::response_type response;
  beast::error_code ec;
  ws.handshake(response, "127.0.0.1", "/api/v1/status", ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(response.result(), beast::http::status::not_found);
}

TEST(WebServerLive, StopClosesOpenSessions) {
  auto server = std::make_unique<test::RunningServer>(test::test_options());
  LiveClient client(server->port());
  ASSERT_TRUE(client.next().has_value());
  server.reset();  // joins the server thread: only returns if stop() released the session
  EXPECT_FALSE(client.next(std::chrono::seconds(5)).has_value());
}

}  // namespace
}  // namespace orderly::web

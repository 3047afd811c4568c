// The server under TLS ([web] tls_certificate, tls_key) on loopback: libcurl verifying against a
// throwaway CA, keep-alive over one TLS connection, the Secure cookie, plain HTTP refused, a
// Beast wss client on the live socket, and start() naming a file it cannot use.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

#include "fake_application.hpp"
#include "orderly/test/test_pki.hpp"

namespace orderly::web {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class WebTls : public ::testing::Test {
 protected:
  WebTls() {
    ca_ = pki_.make_ca("web-ca");
    cert_ = pki_.server(ca_, "orderly-box", "IP:127.0.0.1,DNS:localhost");
  }
  ServerOptions tls_options() const {
    auto o = test::test_options();
    o.tls_certificate_file = cert_.cert_file;
    o.tls_key_file = cert_.key_file;
    return o;
  }
  orderly::test::TestPki pki_;
  orderly::test::TestPki::Issued ca_, cert_;
};

TEST_F(WebTls, ServesHttpsWithKeepAliveAndASecureCookie) {
  test::RunningServer server(tls_options());
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port());
  CURL* curl = curl_easy_init();
  std::string body, cookie_line;
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_.cert_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_URL, (base + "/api/v1/health").c_str());
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, R"({"checks":[],"failing":[],"ok":true})");

  // The same handle again: HTTP/1.1 keep-alive reuses the TLS connection.
  body.clear();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_URL, (base + "/api/v1/login").c_str());
  const std::string login = R"({"link": "test-login-link"})";
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, login.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, +[](char* data, std::size_t size, std::size_t n, void* out) {
    const std::string line(data, size * n);
    if (line.rfind("Set-Cookie:", 0) == 0) *static_cast<std::string*>(out) = line;
    return size * n;
  });
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &cookie_line);
  ASSERT_EQ(curl_easy_perform(curl), CURLE_OK);
  long new_connections = -1;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
  EXPECT_EQ(new_connections, 0) << "the second request must reuse the first connection";
  EXPECT_NE(cookie_line.find("; Secure"), std::string::npos) << cookie_line;
  EXPECT_NE(cookie_line.find("HttpOnly"), std::string::npos) << cookie_line;
  curl_slist_free_all(headers);

  // Plain HTTP to the TLS port gets no HTTP answer.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, ("http://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/health").c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  status = 0;
  curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 0);
  curl_easy_cleanup(curl);
}

TEST_F(WebTls, TheLiveSocketRunsOverWss) {
  test::RunningServer server(tls_options());
  net::io_context io;
  net::ssl::context context(net::ssl::context::tls_client);
  context.load_verify_file(ca_.cert_file.string());
  context.set_verify_mode(net::ssl::verify_peer);
  beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, context);
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(ws).connect({net::ip::make_address("127.0.0.1"), server.port()});
  ws.next_layer().handshake(net::ssl::stream_base::client);
  ws.set_option(beast::websocket::stream_base::decorator([](beast::websocket::request_type& r) {
    r.set(beast::http::field::authorization, "Bearer " + std::string(test::kTestToken));
  }));
  ws.handshake("127.0.0.1", "/api/v1/live");
  beast::flat_buffer buffer;
  ws.read(buffer);
  const auto pushed = nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
  EXPECT_EQ(pushed["site"]["name"], "幸福里小区 1# 台区");
}

TEST_F(WebTls, StartNamesAFileItCannotUse) {
  net::io_context io;
  test::FakeApplication app(test::example_status());
  auto options = tls_options();
  options.tls_key_file = options.static_dir / "index.html";  // not a key
  Server server(io, app, options);
  try {
    server.start();
    FAIL() << "a server with a bad key must not start";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tls_key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("index.html"), std::string::npos) << e.what();
  }
  options = tls_options();
  options.tls_key_file.clear();
  Server half(io, app, options);
  EXPECT_THROW(half.start(), std::runtime_error);
}

}  // namespace
}  // namespace orderly::web

// Application::open_channel over a real WebSocket on loopback: what the application accepts
// exchanges text frames both ways (including what it sends before the handshake is done), what
// it refuses gets its HTTP status, and every end of a channel is reported to it exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "orderly/web/application.hpp"
#include "orderly/test/support.hpp"
#include "orderly/web/server.hpp"

namespace orderly::web {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// Accepts /echo/<anything> with subprotocol "echo.v1": says "welcome" at once and answers every
// frame with "echo:<frame>"; the frame "bye" makes it close the channel. Refuses /secret with 401.
class ChannelApp : public Application {
 public:
  nlohmann::json status() const override { return nlohmann::json::object(); }
  void on_status_changed(std::function<void()>) override {}

  ChannelAnswer open_channel(const ChannelRequest& request, ChannelOutlet outlet) override {
    if (request.path == "/secret") return {401, "who are you", "", nullptr};
    if (request.path.rfind("/echo/", 0) != 0) return Application::open_channel(request, std::move(outlet));
    last_request = request;
    outlet.send("welcome");
    return {101, "", "echo.v1", std::make_shared<Echo>(*this, std::move(outlet))};
  }

  struct Echo : Channel {
    Echo(ChannelApp& a, ChannelOutlet o) : app(a), outlet(std::move(o)) {}
    void on_text(std::string_view text) override {
      if (text == "bye") return outlet.close();
      outlet.send("echo:" + std::string(text));
    }
    void on_closed() override { ++app.closed; }
    ChannelApp& app;
    ChannelOutlet outlet;
  };

  ChannelRequest last_request;
  std::atomic<int> closed{0};
};

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.port = 0;
    o.static_dir = ".";
    server_.emplace(io_, app_, o);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    stop_server();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void stop_server() {
    std::promise<void> done;
    net::post(io_, [&] {
      if (server_) server_->stop();
      done.set_value();
    });
    done.get_future().wait();
  }

  ChannelApp app_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  std::optional<Server> server_;
  std::thread thread_;
};

struct Client {
  net::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  websocket::response_type response;
  beast::error_code ec;

  Client(std::uint16_t port, const std::string& target, const std::string& protocols) {
    beast::get_lowest_layer(ws).expires_after(5s);
    beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws.set_option(websocket::stream_base::decorator([protocols](websocket::request_type& r) {
      r.set(beast::http::field::sec_websocket_protocol, protocols);
      r.set(beast::http::field::authorization, "Basic dTpw");
    }));
    ws.handshake(response, "127.0.0.1", target, ec);
  }
  std::string read() {
    beast::flat_buffer buffer;
    beast::error_code rec;
    ws.read(buffer, rec);
    return rec ? "<" + rec.message() + ">" : beast::buffers_to_string(buffer.data());
  }
};

TEST_F(ChannelTest, AnAcceptedChannelCarriesTextBothWays) {
  Client c(server_->port(), "/echo/CP-1?x=1", "other, echo.v1");
  ASSERT_FALSE(c.ec) << c.ec.message();
  EXPECT_EQ(c.response[beast::http::field::sec_websocket_protocol], "echo.v1");
  EXPECT_EQ(app_.last_request.path, "/echo/CP-1");
  EXPECT_EQ(app_.last_request.subprotocols, (std::vector<std::string>{"other", "echo.v1"}));
  EXPECT_EQ(app_.last_request.authorization, "Basic dTpw");
  EXPECT_EQ(c.read(), "welcome");  // sent before the handshake completed
  c.ws.write(net::buffer(std::string("[2,\"1\",\"Heartbeat\",{}]")));
  EXPECT_EQ(c.read(), "echo:[2,\"1\",\"Heartbeat\",{}]");
  c.ws.close(websocket::close_code::normal);
  EXPECT_TRUE(orderly::test::wait_until([&] { return app_.closed == 1; }));
}

TEST_F(ChannelTest, TheApplicationCanCloseAChannel) {
  Client c(server_->port(), "/echo/a", "echo.v1");
  ASSERT_FALSE(c.ec);
  EXPECT_EQ(c.read(), "welcome");
  c.ws.write(net::buffer(std::string("bye")));
  EXPECT_EQ(c.read().front(), '<');  // the connection ends
  EXPECT_TRUE(orderly::test::wait_until([&] { return app_.closed == 1; }));
}

TEST_F(ChannelTest, StoppingTheServerEndsEveryChannel) {
  Client a(server_->port(), "/echo/a", "echo.v1");
  Client b(server_->port(), "/echo/b", "echo.v1");
  ASSERT_FALSE(a.ec);
  ASSERT_FALSE(b.ec);
  EXPECT_EQ(a.read(), "welcome");
  EXPECT_EQ(b.read(), "welcome");
  stop_server();
  EXPECT_TRUE(orderly::test::wait_until([&] { return app_.closed == 2; }));
  EXPECT_EQ(a.read().front(), '<');
}

TEST_F(ChannelTest, RefusalsKeepTheirStatus) {
  Client secret(server_->port(), "/secret", "echo.v1");
  EXPECT_EQ(secret.ec, websocket::error::upgrade_declined);
  EXPECT_EQ(secret.response.result_int(), 401u);
  EXPECT_EQ(secret.response[beast::http::field::www_authenticate], "Basic realm=\"orderly\"");
  EXPECT_NE(secret.response.body().find("who are you"), std::string::npos);
  Client nowhere(server_->port(), "/nowhere", "echo.v1");
  EXPECT_EQ(nowhere.response.result_int(), 404u);  // the default: no channel
  EXPECT_EQ(app_.closed, 0);
}

}  // namespace
}  // namespace orderly::web

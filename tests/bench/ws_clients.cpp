// Holds N live status WebSockets open on a gateway for the web load run (web_load.sh), as N
// phones with the page open would: each reads every push until the time is up, then closes.
// Prints how many connected, how many were still open at the end and the pushes received, so
// a run where the sockets were dropped under load shows it.
//   ws_clients <host> <port> <cookie "orderly_session=..."> <clients> <seconds>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

struct Totals {
  int connected = 0;
  int open = 0;
  long pushes = 0;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(boost::asio::io_context& io, Totals& totals) : ws_(io), totals_(totals) {}

  void start(const tcp::endpoint& at, const std::string& host, const std::string& cookie) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws_).async_connect(at, [self = shared_from_this(), host, cookie](beast::error_code ec) {
      if (ec) return std::fprintf(stderr, "connect: %s\n", ec.message().c_str()), void();
      beast::get_lowest_layer(self->ws_).expires_never();
      self->ws_.set_option(websocket::stream_base::decorator(
          [cookie](websocket::request_type& r) { r.set(beast::http::field::cookie, cookie); }));
      self->ws_.async_handshake(host, "/api/v1/live", [self](beast::error_code ec2) {
        if (ec2) return std::fprintf(stderr, "handshake: %s\n", ec2.message().c_str()), void();
        ++self->totals_.connected;
        ++self->totals_.open;
        self->read();
      });
    });
  }

  void close() {
    if (!open_) return;
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (self->open_) --self->totals_.open;
        self->open_ = false;
        return;
      }
      ++self->totals_.pushes;
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  Totals& totals_;
  bool open_ = true;
};

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: ws_clients <host> <port> <cookie> <clients> <seconds>\n");
    return 2;
  }
  const std::string host = argv[1];
  const tcp::endpoint at(boost::asio::ip::make_address(host), static_cast<unsigned short>(std::atoi(argv[2])));
  const int n = std::atoi(argv[4]);
  boost::asio::io_context io;
  Totals totals;
  std::vector<std::shared_ptr<Client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_shared<Client>(io, totals));
    clients.back()->start(at, host, argv[3]);
  }
  boost::asio::steady_timer done(io, std::chrono::seconds(std::atoi(argv[5])));
  int open_at_end = 0;
  done.async_wait([&](beast::error_code) {
    open_at_end = totals.open;
    for (auto& c : clients) c->close();
  });
  io.run();
  std::printf("ws_clients: connected=%d open_at_end=%d pushes=%ld\n", totals.connected, open_at_end, totals.pushes);
  return totals.connected == n && open_at_end == n ? 0 : 1;
}

#include "channel_session.hpp"

#include <deque>
#include <string>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include "routes.hpp"

namespace orderly::web {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// OCPP MeterValues with every measurand on three phases stay well below this.
constexpr std::size_t kChannelMessageLimitBytes = 64 * 1024;
// Idle channels are pinged, so a pile that vanished without a close frame is noticed. OCPP
// piles send a Heartbeat (60 s by default) and answer pings.
constexpr auto kChannelIdleTimeout = std::chrono::seconds(120);

std::vector<std::string> split_protocols(std::string_view header) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= header.size()) {
    const std::size_t comma = std::min(header.find(',', at), header.size());
    std::string_view item = header.substr(at, comma - at);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    at = comma + 1;
  }
  return out;
}

// Over `Stream`: beast::tcp_stream, or the TLS stream of a [web] with a certificate (OCPP
// security profile 2: basic auth inside TLS).
template <typename Stream>
class ChannelSession : public Closable, public std::enable_shared_from_this<ChannelSession<Stream>> {
 public:
  ChannelSession(Stream&& stream, SessionRegistry registry)
      : ws_(std::move(stream)), registry_(std::move(registry)) {}

  ~ChannelSession() override {
    if (registry_.remove) registry_.remove(id_);
  }

  void run(http::request<http::string_body> request, Application& app) {
    id_ = registry_.add(this->weak_from_this());
    ChannelRequest cr;
    cr.path = std::string(target_path(request.target()));
    cr.subprotocols = split_protocols(request[http::field::sec_websocket_protocol]);
    cr.authorization = std::string(request[http::field::authorization]);
    std::weak_ptr<ChannelSession> weak = this->weak_from_this();
    ChannelOutlet outlet{[weak](std::string text) {
                           if (auto self = weak.lock()) self->send(std::move(text));
                         },
                         [weak] {
                           if (auto self = weak.lock()) self->close();
                         }};
    ChannelAnswer answer = app.open_channel(cr, std::move(outlet));
    if (answer.status != 101 || !answer.channel) {
      refuse(answer, request);
      return;
    }
    channel_ = std::move(answer.channel);
    beast::get_lowest_layer(ws_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = kChannelIdleTimeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([protocol = answer.subprotocol](websocket::response_type& r) {
      r.set(http::field::server, kServerName);
      if (!protocol.empty()) r.set(http::field::sec_websocket_protocol, protocol);
    }));
    ws_.read_message_max(kChannelMessageLimitBytes);
    ws_.text(true);
    ws_.async_accept(request, beast::bind_front_handler(&ChannelSession::on_accept, this->shared_from_this()));
  }

  void close() override {
    if (closed_) return;
    open_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
    ended();
  }

 private:
  void refuse(const ChannelAnswer& answer, const http::request<http::string_body>& request) {
    const auto status = answer.status == 101 ? http::status::internal_server_error
                                             : static_cast<http::status>(answer.status);
    auto response = std::make_shared<http::response<http::string_body>>(
        error_response(status, answer.message.empty() ? "WebSocket refused" : answer.message,
                       std::string(target_path(request.target())), request.version(), false));
    if (status == http::status::unauthorized) response->set(http::field::www_authenticate, "Basic realm=\"orderly\"");
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(10));
    http::async_write(ws_.next_layer(), *response,
                      [self = this->shared_from_this(), response](beast::error_code, std::size_t) {
                        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                          beast::error_code ignored;
                          beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
                        } else {
                          // close_notify, so the pile tells the end of the refusal from a truncation.
                          self->ws_.next_layer().async_shutdown([self](beast::error_code) {});
                        }
                      });
  }

  void on_accept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("web: channel handshake failed: {}", ec.message());
      return ended();
    }
    open_ = true;
    write_next();
    do_read();
  }

  void send(std::string text) {
    if (closed_) return;
    queue_.push_back(std::move(text));
    write_next();
  }

  void write_next() {
    if (!open_ || writing_ || queue_.empty()) return;
    writing_ = true;
    ws_.async_write(net::buffer(queue_.front()), beast::bind_front_handler(&ChannelSession::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    queue_.pop_front();
    if (ec) return close();
    write_next();
  }

  void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&ChannelSession::on_read, this->shared_from_this())); }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return close();
    if (ws_.got_text() && channel_) {
      const auto data = buffer_.cdata();
      channel_->on_text(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer_.consume(buffer_.size());
    if (!closed_) do_read();
  }

  // Tells the application once, whoever ended the channel.
  void ended() {
    if (closed_) return;
    closed_ = true;
    open_ = false;
    if (auto channel = std::exchange(channel_, nullptr)) channel->on_closed();
  }

  websocket::stream<Stream> ws_;
  SessionRegistry registry_;
  std::uint64_t id_ = 0;
  std::shared_ptr<Channel> channel_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool open_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

void start_channel_session(beast::tcp_stream&& stream, http::request<http::string_body> request, Application& app,
                           SessionRegistry registry) {
  std::make_shared<ChannelSession<beast::tcp_stream>>(std::move(stream), std::move(registry))
      ->run(std::move(request), app);
}

void start_channel_session(beast::ssl_stream<beast::tcp_stream>&& stream, http::request<http::string_body> request,
                           Application& app, SessionRegistry registry) {
  std::make_shared<ChannelSession<beast::ssl_stream<beast::tcp_stream>>>(std::move(stream), std::move(registry))
      ->run(std::move(request), app);
}

}  // namespace orderly::web

// Beast HTTP + WebSocket server on the gateway's core io_context. One session object per
// connection, kept alive by the shared_ptr its pending handler holds (the Beast examples'
// idiom); everything runs on the one thread that runs the io_context, so nothing is locked.
#include "orderly/web/server.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include "channel_session.hpp"
#include "routes.hpp"
#include "session_registry.hpp"

namespace orderly::web {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

// Browsers send a few KiB of headers (cookies); anything far beyond that is not a browser.
constexpr std::uint32_t kHeaderLimitBytes = 16 * 1024;
// Clients only ever send close frames or small pings on the live socket.
constexpr std::size_t kWebSocketMessageLimitBytes = 4 * 1024;

// An open live socket, plain or TLS, as the push loop sees it.
class LiveTarget : public Closable {
 public:
  virtual const Principal& who() const = 0;
  virtual void send(std::shared_ptr<const std::string> text) = 0;
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct Server::State : std::enable_shared_from_this<Server::State> {
  State(net::io_context& io_context, Application& application, ServerOptions server_options)
      : io(io_context),
        app(application),
        options(std::move(server_options)),
        acceptor(io_context),
        push_timer(io_context) {
    policy.allowed_hosts = options.allowed_hosts;
  }

  net::io_context& io;
  Application& app;
  ServerOptions options;
  AccessPolicy policy;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;
  bool running = false;
  bool callback_registered = false;
  bool at_connection_limit = false;  // logged once per episode, not once per refused client
  ServerCounters counters;            // GET /metrics; gauges filled in when it is asked

  std::uint64_t next_session_id = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Closable>> sessions;
  std::unordered_map<std::uint64_t, std::weak_ptr<LiveTarget>> live_sessions;
  std::optional<net::ssl::context> tls;  // set when [web] has a certificate and key

  // Pushes go through a steady timer (monotonic, not the domain Clock): the throttle is about
  // network load, not about simulated time, and must not speed up in the demo.
  net::steady_timer push_timer;
  bool push_scheduled = false;
  std::chrono::steady_clock::time_point last_push{};

  void do_accept();
  void status_changed();
  void push_now();
};

namespace {

// The live socket over `Stream`: beast::tcp_stream, or TlsStream under TLS.
template <typename Stream>
class LiveSession : public LiveTarget, public std::enable_shared_from_this<LiveSession<Stream>> {
 public:
  LiveSession(Stream&& stream, std::shared_ptr<Server::State> state, Principal who)
      : ws_(std::move(stream)), state_(std::move(state)), id_(state_->next_session_id++), who_(std::move(who)) {}

  const Principal& who() const override { return who_; }

  ~LiveSession() override {
    state_->sessions.erase(id_);
    state_->live_sessions.erase(id_);
  }

  void run(http::request<http::string_body> request) {
    state_->sessions[id_] = this->weak_from_this();
    state_->live_sessions[id_] = this->weak_from_this();
    // The handshake and idle pings use Beast's suggested server timeouts, so a phone that drops
    // off the Wi-Fi without a close frame is noticed and its session freed.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, kServerName); }));
    ws_.read_message_max(kWebSocketMessageLimitBytes);
    ws_.text(true);
    ws_.async_accept(request, beast::bind_front_handler(&LiveSession::on_accept, this->shared_from_this()));
  }

  // Status snapshots supersede each other, so at most one waits behind the one being written:
  // a slow client gets the newest state, never a growing backlog.
  void send(std::shared_ptr<const std::string> text) override {
    if (!open_) return;
    if (writing_) {
      pending_ = std::move(text);
      return;
    }
    writing_ = std::move(text);
    ws_.async_write(net::buffer(*writing_),
                    beast::bind_front_handler(&LiveSession::on_write, this->shared_from_this()));
  }

  void close() override {
    open_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("web: WebSocket handshake failed: {}", ec.message());
      return;
    }
    open_ = true;
    send(std::make_shared<const std::string>(status_text(state_->app, who_)));
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&LiveSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      open_ = false;
      return;  // closed by the client, timed out or stopped; the session ends with its handlers
    }
    buffer_.consume(buffer_.size());  // the live socket is push-only; client messages are ignored
    do_read();
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_.reset();
    if (ec) {
      open_ = false;
      return;
    }
    if (pending_) send(std::exchange(pending_, nullptr));
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Server::State> state_;
  std::uint64_t id_;
  Principal who_;
  bool open_ = false;
  std::shared_ptr<const std::string> writing_;
  std::shared_ptr<const std::string> pending_;
};

SessionRegistry channel_registry(const std::shared_ptr<Server::State>& state) {
  return {[state](std::weak_ptr<Closable> session) {
            const auto id = state->next_session_id++;
            state->sessions[id] = std::move(session);
            return id;
          },
          [state](std::uint64_t id) { state->sessions.erase(id); }};
}

// One HTTP connection over `Stream` (beast::tcp_stream, or TlsStream after its handshake).
template <typename Stream>
class HttpSession : public Closable, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, std::shared_ptr<Server::State> state)
      : stream_(std::move(stream)), state_(std::move(state)), id_(state_->next_session_id++) {}

  ~HttpSession() override { state_->sessions.erase(id_); }

  void run() {
    state_->sessions[id_] = this->weak_from_this();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return spdlog::debug("web: TLS handshake failed: {}", ec.message());
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void close() override {
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

 private:
  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->options.max_body_bytes);
    parser_->header_limit(kHeaderLimitBytes);
    beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return shutdown();
    if (ec == http::error::body_limit) {
      return send(error_response(http::status::payload_too_large,
                                 "request body larger than " +
                                     std::to_string(state_->options.max_body_bytes) + " bytes",
                                 target_path(parser_->get().target()), 11, false));
    }
    if (ec == http::error::header_limit) {
      return send(error_response(http::status::request_header_fields_too_large,
                                 "request headers too large", "", 11, false));
    }
    if (ec && &ec.category() == &http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::partial_message) {
      // The bytes arrived but are not HTTP/1.x: answer once, then drop the connection, so the
      // next client is served as usual.
      return send(error_response(http::status::bad_request, "malformed HTTP request: " + ec.message(),
                                 "", 11, false));
    }
    if (ec) return;  // timeout, reset or stop(): nothing to answer

    http::request<http::string_body> request = parser_->release();
    method_ = request.method() == http::verb::unknown ? "other" : std::string(request.method_string());
    route_ = std::string(route_label(target_path(request.target())));
    if (websocket::is_upgrade(request)) {
      if (target_path(request.target()) == kLivePath) {
        Admission admission = admit_api(state_->policy, request, kLivePath, state_->app);
        if (admission.refusal) {
          admission.refusal->keep_alive(false);
          return send(std::move(*admission.refusal));
        }
        beast::get_lowest_layer(stream_).expires_never();
        std::make_shared<LiveSession<Stream>>(std::move(stream_), state_, std::move(*admission.caller))
            ->run(std::move(request));
        return;
      }
      // Any other path: the application's channels (OCPP charge points), 404 by default.
      beast::get_lowest_layer(stream_).expires_never();
      return start_channel_session(std::move(stream_), std::move(request), state_->app, channel_registry(state_));
    }
    // API answers may come later (a long KPI query runs beside the core loop); the connection
    // reads its next request only after this one is answered.
    beast::error_code ignored;
    const auto peer = socket().remote_endpoint(ignored);
    state_->counters.connections = state_->sessions.size();
    state_->counters.live_clients = state_->live_sessions.size();
    handle_request_async(state_->app, state_->options.static_dir, request,
                         [self = this->shared_from_this()](http::response<http::string_body> response) {
                           self->send(std::move(response));
                         },
                         state_->policy, ignored ? std::string() : peer.address().to_string(), &state_->counters);
  }

  void send(http::response<http::string_body> response) {
    ++state_->counters.responses[{std::exchange(method_, "other"), std::exchange(route_, "unparsed"),
                                  static_cast<int>(response.result_int())}];
    response_ = std::make_shared<http::response<http::string_body>>(std::move(response));
    beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this(),
                                                response_->keep_alive()));
  }

  void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec) return;
    if (!keep_alive) return shutdown();
    do_read();
  }

  void shutdown() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // close_notify, so the client can tell the end of the answer from a truncation attack.
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Server::State> state_;
  std::uint64_t id_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  // What the response to the request being answered is counted under; a refusal before the
  // request was parsed (413, 431, 400) counts as unparsed.
  std::string method_ = "other";
  std::string route_ = "unparsed";
};

}  // namespace

void Server::State::do_accept() {
  acceptor.async_accept(
      [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        if (!self->running) return;
        if (ec) {
          spdlog::warn("web: accept failed: {}", ec.message());
        } else if (self->sessions.size() >= self->options.max_connections) {
          if (!self->at_connection_limit) {
            spdlog::warn("web: {} connections open, refusing more until some close; raise [web] "
                         "max_connections if this is legitimate", self->sessions.size());
          }
          self->at_connection_limit = true;
          ++self->counters.connections_refused;
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          self->at_connection_limit = false;
          // Small pushes and responses should leave at once; Nagle's algorithm may hold one
          // behind an earlier unacknowledged write until the client's delayed ACK.
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          if (self->tls) {
            std::make_shared<HttpSession<TlsStream>>(TlsStream(std::move(socket), *self->tls), self)->run();
          } else {
            std::make_shared<HttpSession<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), self)->run();
          }
        }
        self->do_accept();
      });
}

void Server::State::status_changed() {
  if (!running || push_scheduled) return;
  push_scheduled = true;
  const auto due = last_push + options.push_interval;
  push_timer.expires_at(std::max(due, std::chrono::steady_clock::now()));
  push_timer.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->push_scheduled = false;
    if (ec || !self->running) return;
    self->push_now();
  });
}

void Server::State::push_now() {
  last_push = std::chrono::steady_clock::now();
  if (live_sessions.empty()) return;  // nobody listening: do not build the status at all
  // Staff and the platform share one full snapshot; residents one per household, so a resident
  // never receives another household's piles.
  std::shared_ptr<const std::string> full;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> by_household;
  std::vector<std::shared_ptr<LiveTarget>> targets;
  for (auto& [id, weak] : live_sessions) {
    if (auto session = weak.lock()) targets.push_back(std::move(session));
  }
  for (auto& session : targets) {
    const Principal& who = session->who();
    auto& text = who.role == Role::resident ? by_household[who.household] : full;
    if (!text) text = std::make_shared<const std::string>(status_text(app, who));
    session->send(text);
  }
}

namespace {

// The certificate chain and key from [web]; throws naming the file and what to do.
void load_tls(Server::State& s) {
  const auto& o = s.options;
  if (o.tls_certificate_file.empty() || o.tls_key_file.empty()) {
    throw std::runtime_error("web server: TLS needs both [web] tls_certificate and tls_key (got only " +
                             std::string(o.tls_certificate_file.empty() ? "tls_key" : "tls_certificate") + ")");
  }
  net::ssl::context context(net::ssl::context::tls_server);
  // TLS 1.2 is the oldest any phone browser of the last years needs; older versions are broken.
  context.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  context.use_certificate_chain_file(o.tls_certificate_file.string(), ec);
  if (ec) {
    throw std::runtime_error("web server: cannot use [web] tls_certificate '" + o.tls_certificate_file.string() +
                             "' (" + ec.message() + "): give a PEM certificate chain readable by the orderly user");
  }
  context.use_private_key_file(o.tls_key_file.string(), net::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("web server: cannot use [web] tls_key '" + o.tls_key_file.string() + "' (" +
                             ec.message() + "): give the PEM private key of that certificate, readable by the orderly user");
  }
  s.tls.emplace(std::move(context));
  s.policy.tls = true;
}

}  // namespace

Server::Server(net::io_context& io, Application& app, ServerOptions options)
    : state_(std::make_shared<State>(io, app, std::move(options))) {}

Server::~Server() { stop(); }

void Server::start() {
  State& s = *state_;
  if (s.running) return;
  const std::string where = s.options.address + ":" + std::to_string(s.options.port);
  beast::error_code ec;
  const auto address = net::ip::make_address(s.options.address, ec);
  if (ec) {
    throw std::runtime_error("web server: invalid address '" + s.options.address + "' (" +
                             ec.message() + "): set [web] address to an IP such as 127.0.0.1 or 0.0.0.0");
  }
  const tcp::endpoint endpoint{address, s.options.port};
  if (!s.options.tls_certificate_file.empty() || !s.options.tls_key_file.empty()) load_tls(s);
  auto fail = [&](const char* step) {
    std::string hint;
    if (ec == net::error::address_in_use) {
      hint = ": port " + std::to_string(s.options.port) +
             " in use: set [web] port or stop the other process";
    } else if (ec == net::error::access_denied) {
      hint = ": ports below 1024 need privileges: set [web] port to 1024 or above";
    } else if (ec == boost::system::errc::address_not_available) {
      hint = ": this machine has no such address: set [web] address";
    }
    beast::error_code ignored;
    s.acceptor.close(ignored);
    throw std::runtime_error("web server cannot listen on " + where + " (" + step + ": " +
                             ec.message() + ")" + hint);
  };
  s.acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  // Lets the gateway restart at once while old connections sit in TIME_WAIT; a live listener on
  // the port still makes bind fail.
  s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set_option");
  s.acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  s.bound_port = s.acceptor.local_endpoint().port();
  s.running = true;

  if (!s.callback_registered) {
    s.callback_registered = true;
    s.app.on_status_changed([weak = std::weak_ptr<State>(state_)] {
      if (auto self = weak.lock()) self->status_changed();
    });
  }
  spdlog::info("web: serving {} on {}://{}:{}", s.options.static_dir.string(), s.tls ? "https" : "http",
               s.options.address, s.bound_port);
  std::error_code missing;
  if (!std::filesystem::is_regular_file(s.options.static_dir / "index.html", missing)) {
    spdlog::warn("web: no index.html in '{}': the page will answer 404 (the API still works); "
                 "set [web] static_dir to the folder holding index.html",
                 s.options.static_dir.string());
  }
  s.do_accept();
}

std::uint16_t Server::port() const { return state_->bound_port; }

void Server::stop() {
  State& s = *state_;
  if (!s.running) return;
  s.running = false;
  beast::error_code ignored;
  s.acceptor.close(ignored);
  s.push_timer.cancel();
  std::vector<std::shared_ptr<Closable>> open;
  for (auto& [id, weak] : s.sessions) {
    if (auto session = weak.lock()) open.push_back(std::move(session));
  }
  for (auto& session : open) session->close();
}

}  // namespace orderly::web

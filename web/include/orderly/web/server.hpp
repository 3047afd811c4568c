#pragma once
// The local web server: static UI, a small JSON API and a WebSocket that pushes live status.
// Runs on the gateway's single core io_context (no threads of its own, no locks) and holds no
// state: every answer is built from orderly::web::Application. Routes in docs/web-api.md.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "orderly/web/application.hpp"

namespace orderly::web {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 = let the OS pick (tests); read the result from Server::port()
  // <build>/web/static (bundled from web/ui by web/build.mjs), /usr/share/orderly/web when installed.
  std::filesystem::path static_dir;
  // Pushes to WebSocket clients are coalesced to at most one per interval, so a burst of status
  // changes (every meter reading) does not flood a phone on community Wi-Fi.
  std::chrono::milliseconds push_interval{1000};
  // An HTTP connection that sends no complete request for this long is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  // Requests with larger bodies are refused (413); the API takes no uploads.
  std::size_t max_body_bytes = 64 * 1024;
  // Open HTTP + WebSocket connections beyond this are closed on accept, so a misbehaving client
  // cannot exhaust the box's file descriptors and memory. A community is a few hundred phones.
  std::size_t max_connections = 512;
  // Host names (besides IP literals and localhost) requests may name: a page on a rebinding DNS
  // name carries that name in Host and is refused (421). E.g. {"orderly.local"}.
  std::vector<std::string> allowed_hosts;
  // Both set: HTTPS and wss only, and the session cookie is Secure. PEM files; start() throws
  // naming the file when one cannot be used.
  std::filesystem::path tls_certificate_file;
  std::filesystem::path tls_key_file;
};

// Not thread-safe by design: construct, start() and stop() on the io_context's thread (or before
// it runs), like everything else on the gateway's core loop.
class Server {
 public:
  // `io` is the gateway's core io_context; `app` must outlive the server.
  Server(boost::asio::io_context& io, Application& app, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming address:port and the OS error
  // (e.g. "port 8080 in use: set [web] port or stop the other process").
  void start();
  // The port actually bound (useful with port 0); 0 before start().
  std::uint16_t port() const;
  // Closes the acceptor and every open HTTP and WebSocket session. Idempotent.
  void stop();

  struct State;  // shared with sessions; defined in server.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace orderly::web

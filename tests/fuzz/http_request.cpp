// HTTP requests as a browser, a script on the residents' LAN or an attacker sends them, parsed
// by Beast with the server's limits and routed without sockets (web/src/routes.hpp) into a
// started gateway: static files, path traversal, queries, API routes and bodies.
#include <cstdint>
#include <optional>

#include <boost/beast/http.hpp>

#include "fuzz_site.hpp"
#include "routes.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& site = orderly::fuzz::site();
  http::request_parser<http::string_body> parser;
  // The server's limits (web/src/server.cpp, web::ServerOptions).
  parser.body_limit(64 * 1024);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  std::optional<orderly::web::Response> response;
  orderly::web::handle_request_async(site.gateway(), orderly::test::source_dir() / "web" / "static", parser.get(),
                                     [&](orderly::web::Response r) { response = std::move(r); });
  site.run_until([&] { return response.has_value(); });
  return 0;
}

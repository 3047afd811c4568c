// Web server figures: status serialisation, status requests over loopback (keep-alive) and one
// push fanned out to many WebSocket clients. Sizes: the example site (3 chargers, 24 history
// points) and a large one (200 chargers, 1440 points = one a minute for 24 h).
#include <benchmark/benchmark.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "fake_application.hpp"
#include "routes.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using orderly::web::test::large_status;

void BM_StatusText(benchmark::State& state) {
  orderly::web::test::FakeApplication app{large_status(static_cast<int>(state.range(0)),
                                                       static_cast<int>(state.range(1)))};
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = orderly::web::status_text(app, orderly::web::Principal{});
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_StatusText)->Args({3, 24})->Args({200, 1440})->Unit(benchmark::kMicrosecond);

void BM_StatusRequestLoopback(benchmark::State& state) {
  orderly::web::test::RunningServer server(
      orderly::web::test::test_options(),
      large_status(static_cast<int>(state.range(0)), static_cast<int>(state.range(1))));
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
  http::request<http::empty_body> request{http::verb::get, "/api/v1/status", 11};
  request.set(http::field::host, "127.0.0.1");
  // With the access checks (and the token lookup they cost) in the measured path.
  request.set(http::field::authorization, "Bearer " + std::string(orderly::web::test::kTestToken));
  beast::flat_buffer buffer;
  std::size_t bytes = 0;
  for (auto _ : state) {
    http::write(stream, request);
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    if (response.result() != http::status::ok) state.SkipWithError("status request failed");
    bytes = response.body().size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["requests/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StatusRequestLoopback)->Args({3, 24})->Args({200, 1440})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Time from a status change on the server to every client having read the push.
void BM_PushFanOut(benchmark::State& state) {
  auto options = orderly::web::test::test_options();
  options.push_interval = std::chrono::milliseconds(0);
  orderly::web::test::RunningServer server(options, large_status(200, 1440));
  net::io_context io;
  std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> clients;
  beast::flat_buffer buffer;
  for (int i = 0; i < state.range(0); ++i) {
    auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io);
    beast::get_lowest_layer(*ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
    ws->set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
      r.set(http::field::authorization, "Bearer " + std::string(orderly::web::test::kTestToken));
    }));
    ws->handshake("127.0.0.1", "/api/v1/live");
    ws->read(buffer);
    buffer.consume(buffer.size());
    clients.push_back(std::move(ws));
  }
  auto status = large_status(200, 1440);
  int change = 0;
  for (auto _ : state) {
    status["site"]["load_kw"] = ++change;
    server.set_status(status);
    for (auto& ws : clients) {
      ws->read(buffer);
      buffer.consume(buffer.size());
    }
  }
  state.counters["clients"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_PushFanOut)->Arg(1)->Arg(50)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

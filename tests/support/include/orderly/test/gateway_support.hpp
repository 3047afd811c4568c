#pragma once
// Helpers for tests that run a whole Gateway on its own core thread (header-only: only the
// tests that link orderly::gateway include it, so the support library stays free of it).
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "orderly/gateway/gateway.hpp"
#include "orderly/test/support.hpp"

namespace orderly::test {

// Runs `f` on the gateway's core thread and returns its result (the gateway's state is only
// ever touched there).
template <typename F>
auto on_core(boost::asio::io_context& io, F f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto result = task.get_future();
  boost::asio::post(io, [&task] { task(); });
  return result.get();
}

// A Gateway started on a core thread of its own, as `orderly run` runs it, serving the
// repository's web page; stopped on that thread and joined when destroyed (or by stop()).
class RunningGateway {
 public:
  RunningGateway(const Clock& clock, const gateway::Config& config, gateway::GatewayOptions options = {})
      : gateway_(io_, clock, config, with_static_dir(std::move(options))) {
    gateway_.start();
    core_ = std::thread([this] { io_.run(); });
  }
  ~RunningGateway() { stop(); }
  RunningGateway(const RunningGateway&) = delete;
  RunningGateway& operator=(const RunningGateway&) = delete;

  // Stops the gateway on its core thread (the store writer commits what was queued) and joins.
  void stop() {
    if (!core_.joinable()) return;
    boost::asio::post(io_, [this] { gateway_.stop(); });
    work_.reset();
    core_.join();
  }
  boost::asio::io_context& io() { return io_; }
  // Only on the core thread (on_core) once started, except for the thread-safe calls.
  gateway::Gateway& gateway() { return gateway_; }
  std::string web_url() const { return "http://127.0.0.1:" + std::to_string(gateway_.web_port()); }

 private:
  static gateway::GatewayOptions with_static_dir(gateway::GatewayOptions o) {
    if (o.static_dir.empty()) o.static_dir = source_dir() / "web" / "static";
    return o;
  }
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  gateway::Gateway gateway_;
  std::thread core_;
};

// "Charge now" for the car on `charger_id`, once its session is open. With the planner in the
// loop a car otherwise charges when its plan says (the valley, most likely), so a test about
// the limiter would depend on the time of day it runs at. Returns the last refusal, or "".
inline std::string boost_when_plugged(boost::asio::io_context& io, gateway::Gateway& gw,
                                      const std::string& charger_id,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::string error = "no answer";
  wait_until([&] {
    error = on_core(io, [&]() -> std::string {
      try {
        gateway::ChargeRequest r;
        r.boost = true;
        gw.set_request(charger_id, r);
        return "";
      } catch (const std::exception& e) {
        return e.what();
      }
    });
    return error.empty();
  }, timeout);
  return error;
}

}  // namespace orderly::test

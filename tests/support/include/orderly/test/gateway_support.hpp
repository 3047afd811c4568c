#pragma once
// Helpers for tests that run a whole Gateway, on the test thread or on a core thread of its own
// (header-only: only the tests that link orderly::gateway include it, so the support library
// stays free of it).
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "orderly/gateway/gateway.hpp"
#include "orderly/test/support.hpp"

namespace orderly::test {

// A 7 kW pile that takes whatever limit it is sent, for tests that report its snapshots
// themselves (GatewayOptions::devices).
class IdleCharger final : public drivers::ChargerDriver {
 public:
  explicit IdleCharger(std::string id) : id_(std::move(id)) { caps_.max_power_w = 7000; }
  const std::string& id() const override { return id_; }
  drivers::Capabilities capabilities() const override { return caps_; }
  void apply_limit(const drivers::PowerLimit&) override {}

 private:
  std::string id_;
  drivers::Capabilities caps_;
};

// Runs the handlers the gateway posted to `io` on the test thread, for a gateway driven there
// (device reports mark the state dirty and post one control step; the store writer's commit
// reports arrive as posted handlers too).
inline void pump(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

// Pumps until `condition` holds or `timeout` passes; returns whether it held.
inline bool pump_until(boost::asio::io_context& io, const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return wait_until([&] {
    pump(io);
    return condition();
  }, timeout);
}

// A write the gateway answers once it is committed (set_request, add_dr_event, cancel_dr_event,
// given the OnDurable to call), pumped until the store writer has reported on it.
template <typename Write>
gateway::Durability pump_until_durable(boost::asio::io_context& io, Write write) {
  std::optional<gateway::Durability> outcome;
  write([&outcome](const gateway::Durability& d) { outcome = d; });
  if (!pump_until(io, [&] { return outcome.has_value(); })) return {false, "no commit report within 10 s"};
  return *outcome;
}

// An API call as the web server makes it, pumped until it is answered (a write only once its
// record is committed).
inline web::ApiResponse pump_api(boost::asio::io_context& io, gateway::Gateway& gw, const web::ApiRequest& request) {
  std::optional<web::ApiResponse> answer;
  gw.handle_api_async(request, [&answer](web::ApiResponse r) { answer = std::move(r); });
  if (!pump_until(io, [&] { return answer.has_value(); })) return {0, "", "no answer within 10 s", "", "", {}};
  return *answer;
}

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
    if (o.static_dir.empty()) o.static_dir = web_assets_dir();
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

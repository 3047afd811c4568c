#pragma once
// Helpers for tests that run a whole Gateway on its own core thread (header-only: only the
// tests that link orderly::gateway include it, so the support library stays free of it).
#include <chrono>
#include <future>
#include <string>

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

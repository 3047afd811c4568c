#pragma once
// Shared by the MQTT driver's integration tests: what a DeviceEvents sink saw (the latest
// snapshot and health of every device, every acknowledgement, and whether all of it arrived on
// the core thread, the thread that constructed the recorder), the pile they register, and the
// fixture whose test thread is the core thread.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/drivers/device.hpp"
#include "orderly/test/support.hpp"

namespace orderly::drivers {

struct Recorder {
  std::thread::id core_thread = std::this_thread::get_id();
  bool all_on_core = true;
  std::map<std::string, ChargerSnapshot> charger;
  std::map<std::string, MeterSnapshot> meter;
  std::map<std::string, int> snapshots;
  std::vector<std::pair<std::string, LimitAck>> acks;
  std::map<std::string, Health> health;

  void note_thread() { all_on_core = all_on_core && std::this_thread::get_id() == core_thread; }

  DeviceEvents events() {
    DeviceEvents e;
    e.charger_snapshot = [this](const std::string& id, const ChargerSnapshot& s) {
      note_thread();
      charger[id] = s;
      ++snapshots[id];
    };
    e.meter_snapshot = [this](const std::string& id, const MeterSnapshot& s) {
      note_thread();
      meter[id] = s;
      ++snapshots[id];
    };
    e.limit_ack = [this](const std::string& id, const LimitAck& a) {
      note_thread();
      acks.emplace_back(id, a);
    };
    e.health = [this](const std::string& id, const Health& h) {
      note_thread();
      health[id] = h;
    };
    return e;
  }

  std::optional<LimitAck> ack_for(std::uint64_t seq) const {
    for (auto& [id, a] : acks)
      if (a.seq == seq) return a;
    return std::nullopt;
  }
};

// A 7 kW pile with a failsafe, as the simulated chargers are by default.
inline Capabilities caps_7kw() {
  Capabilities c;
  c.max_power_w = 7000;
  c.failsafe = true;
  return c;
}

// The test thread is the core thread: it polls the io_context while it waits, so every
// DeviceEvents call must arrive here, and the driver is called from here as the gateway would.
class CoreThreadTest : public ::testing::Test {
 protected:
  // Runs the core io_context on this thread until `condition` holds or the deadline passes.
  bool pump_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return test::wait_until(
        [&] {
          io_.poll();
          return condition();
        },
        timeout);
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(io_);
  RealClock clock_;
  Recorder rec_;
};

}  // namespace orderly::drivers

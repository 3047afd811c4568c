#pragma once
// A core event loop on its own thread plus a recorder of everything the drivers report, so
// tests can wait for conditions on what the gateway core would see.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cmath>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "orderly/drivers/device.hpp"
#include "orderly/test/support.hpp"

namespace orderly::drivers::testing {

class Core {
 public:
  Core() : thread_([this] { io_.run(); }) {}
  ~Core() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread thread_;
};

class Recorder {
 public:
  DeviceEvents events() {
    DeviceEvents e;
    e.charger_snapshot = [this](const std::string&, const ChargerSnapshot& s) {
      std::lock_guard lk(m_);
      chargers_.push_back(s);
    };
    e.meter_snapshot = [this](const std::string&, const MeterSnapshot& s) {
      std::lock_guard lk(m_);
      meters_.push_back(s);
    };
    e.limit_ack = [this](const std::string&, const LimitAck& a) {
      std::lock_guard lk(m_);
      acks_.push_back(a);
    };
    e.health = [this](const std::string&, const Health& h) {
      std::lock_guard lk(m_);
      health_ = h;
      ++health_reports_;
    };
    return e;
  }

  bool wait_charger(const std::function<bool(const ChargerSnapshot&)>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return orderly::test::wait_until([&] {
      std::lock_guard lk(m_);
      return !chargers_.empty() && pred(chargers_.back());
    }, timeout);
  }
  bool wait_meter(const std::function<bool(const MeterSnapshot&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return orderly::test::wait_until([&] {
      std::lock_guard lk(m_);
      return !meters_.empty() && pred(meters_.back());
    }, timeout);
  }
  bool wait_health(const std::function<bool(const Health&)>& pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return orderly::test::wait_until([&] {
      std::lock_guard lk(m_);
      return health_reports_ > 0 && pred(health_);
    }, timeout);
  }
  std::optional<LimitAck> wait_ack(std::uint64_t seq, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::optional<LimitAck> found;
    orderly::test::wait_until([&] {
      std::lock_guard lk(m_);
      for (const auto& a : acks_)
        if (a.seq == seq) found = a;
      return found.has_value();
    }, timeout);
    return found;
  }
  Health health() {
    std::lock_guard lk(m_);
    return health_;
  }
  std::size_t meter_count() {
    std::lock_guard lk(m_);
    return meters_.size();
  }
  std::vector<MeterSnapshot> meters() {
    std::lock_guard lk(m_);
    return meters_;
  }
  ChargerSnapshot last_charger() {
    std::lock_guard lk(m_);
    return chargers_.empty() ? ChargerSnapshot{} : chargers_.back();
  }

 private:
  std::mutex m_;
  std::vector<ChargerSnapshot> chargers_;
  std::vector<MeterSnapshot> meters_;
  std::vector<LimitAck> acks_;
  Health health_;
  std::size_t health_reports_ = 0;
};

inline bool near(double a, double b, double tol) { return std::isfinite(a) && std::abs(a - b) <= tol; }

}  // namespace orderly::drivers::testing

#pragma once
// A thread that calls `tick` at once and then every `period` (real time) until stop(): the
// simulated devices' own clocks. Private to the simulators (orderly::sim).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace orderly::sim {

class Ticker {
 public:
  Ticker() = default;
  ~Ticker() { stop(); }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  void start(std::chrono::milliseconds period, std::function<void()> tick) {
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this, period, tick = std::move(tick)] {
      std::unique_lock lock(mutex_);
      while (!stopping_) {
        lock.unlock();
        tick();
        lock.lock();
        cv_.wait_for(lock, period, [this] { return stopping_; });
      }
    });
  }

  // Returns once the last tick has finished.
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  bool running() const { return thread_.joinable(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orderly::sim

#pragma once
// The outside world on a simulated clock: actions (a car plugs in, leaves, a resident taps
// "save") played at their simulated times from a thread of their own, as the community does
// it to the gateway. Used by `orderly demo` and the system tests.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "orderly/base/clock.hpp"

namespace orderly::sim {

class Timeline {
 public:
  struct Event {
    TimePoint at;
    std::function<void()> action;
  };

  // Plays `events` in order of time (stable: equal times keep the order given), each once the
  // clock reaches it; starts at once. Actions run on the timeline's thread.
  Timeline(const Clock& clock, std::vector<Event> events);
  // Stops at the next wait; an action under way finishes first.
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // How far behind its time the latest-played event ran, at worst (a busy box shows here).
  Duration worst_lag() const { return worst_lag_.load(); }

 private:
  void run();

  const Clock& clock_;
  std::vector<Event> events_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<Duration> worst_lag_{Duration::zero()};
  std::thread thread_;
};

}  // namespace orderly::sim

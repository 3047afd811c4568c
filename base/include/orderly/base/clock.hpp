#pragma once
// Time as a dependency. Nothing in Orderly reads the system clock except RealClock, so the demo
// and the tests can run a simulated day in seconds and every time rule is testable.
//
// The interface lives in the base library, below everything that reads time: drivers (health
// ages, keep-alives), the simulators and the gateway (slots, sessions) share it; web receives
// times as data through its Application interface; scheduler has no notion of "now" at all.
#include <chrono>
#include <mutex>

namespace orderly {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;
using Duration = SysClock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time in the clock's world (simulated in the demo and tests).
  virtual TimePoint now() const = 0;
  // Simulated seconds per real second: 1 for the real clock, 60 for a demo day in 24 minutes.
  virtual double speed() const { return 1.0; }
  // How long an Asio timer (real, steady time) must wait for `span` of this clock's time to pass.
  std::chrono::steady_clock::duration real_wait(Duration span) const;
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return SysClock::now(); }
};

// Simulated time that runs `speed` times faster than real time from `start`. Thread-safe: now()
// is a pure function of the steady clock, so simulator threads may share one instance.
class AcceleratedClock final : public Clock {
 public:
  AcceleratedClock(TimePoint start, double speed);
  TimePoint now() const override;
  double speed() const override { return speed_; }

 private:
  TimePoint start_;
  std::chrono::steady_clock::time_point real_start_;
  double speed_;
};

// Time that moves only when a test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start) {}
  TimePoint now() const override;
  void set(TimePoint t);
  void advance(Duration d);

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
};

}  // namespace orderly

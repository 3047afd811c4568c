#pragma once
// Time as a dependency. Nothing in Orderly reads the system clock except RealClock, so the demo
// and the tests can run a simulated day in seconds and every time rule is testable.
//
// The interface lives in the base library, below everything that reads time: drivers (health
// ages, keep-alives), the simulators and the gateway (slots, sessions) share it; web receives
// times as data through its Application interface; scheduler has no notion of "now" at all.
#include <atomic>
#include <chrono>
#include <mutex>

namespace orderly {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;
using Duration = SysClock::duration;

// TimePoint counts nanoseconds in 64 bits, so it holds only the years 1678-2262; a date beyond
// them overflows (undefined behaviour) when converted. Every date read from outside (MQTT,
// OCPP, API queries) is refused unless its year is in this range, which no real reading leaves.
inline constexpr bool year_representable(int year) { return year >= 1970 && year <= 2200; }

// Time that only moves forward at the clock's rate: ages, timeouts and keep-alives are measured
// on it, because the wall clock can step (an NTP correction after boot, an RTC that lost its
// battery, an operator setting the date) and an age measured across a step is wrong by the step.
using MonoClock = std::chrono::steady_clock;
using MonoPoint = MonoClock::time_point;

// Both times read together: wall for tariffs, slots, plans, sessions and records; mono for
// "how long since". Passed by value through the control step.
struct Instant {
  TimePoint wall{};
  MonoPoint mono{};
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time in the clock's world (simulated in the demo and tests). May step.
  virtual TimePoint now() const = 0;
  // Monotonic time in the clock's world: runs at speed() like now(), never steps.
  virtual MonoPoint monotonic() const = 0;
  Instant instant() const { return {now(), monotonic()}; }
  // Simulated seconds per real second: 1 for the real clock, 60 for a demo day in 24 minutes.
  virtual double speed() const { return 1.0; }
  // How long an Asio timer (real, steady time) must wait for `span` of this clock's time to pass.
  std::chrono::steady_clock::duration real_wait(Duration span) const;
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override { return SysClock::now(); }
  MonoPoint monotonic() const override { return MonoClock::now(); }
};

// Simulated time that runs `speed` times faster than real time from `start`. Thread-safe: both
// times are pure functions of the steady clock (plus the wall steps), so simulator threads may
// share one instance. The simulated monotonic time starts at the real one and runs `speed` times
// faster.
class AcceleratedClock final : public Clock {
 public:
  AcceleratedClock(TimePoint start, double speed);
  TimePoint now() const override;
  MonoPoint monotonic() const override;
  double speed() const override { return speed_; }
  // Moves the wall clock by `d` (either way) and leaves the monotonic time alone: a clock step
  // while everything runs, as tests of the step handling need.
  void step(Duration d);

 private:
  Duration simulated_elapsed() const;

  TimePoint start_;
  MonoPoint real_start_;
  double speed_;
  std::atomic<Duration::rep> wall_step_{0};  // the sum of step() calls
};

// Time that moves only when a test says so.
class ManualClock final : public Clock {
 public:
  // The monotonic time starts at an arbitrary point a day past the epoch, so no age computed
  // from it is confused with an unset MonoPoint{}.
  explicit ManualClock(TimePoint start) : now_(start), mono_(MonoPoint{} + std::chrono::hours(24)) {}
  TimePoint now() const override;
  MonoPoint monotonic() const override;
  // Wall time jumps to `t`; the monotonic time stays (as step(t - now())).
  void set(TimePoint t);
  // Time passes: both clocks move by `d` (>= 0).
  void advance(Duration d);
  // The wall clock alone moves by `d`, either way: an NTP correction or an RTC fault.
  void step(Duration d);

 private:
  mutable std::mutex mutex_;
  TimePoint now_;
  MonoPoint mono_;
};

}  // namespace orderly

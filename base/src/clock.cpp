#include "orderly/base/clock.hpp"

#include <stdexcept>

namespace orderly {

std::chrono::steady_clock::duration Clock::real_wait(Duration span) const {
  const double s = speed();
  if (s <= 0) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::nano>(std::chrono::duration<double, std::nano>(span).count() / s));
}

AcceleratedClock::AcceleratedClock(TimePoint start, double speed)
    : start_(start), real_start_(std::chrono::steady_clock::now()), speed_(speed) {}

Duration AcceleratedClock::simulated_elapsed() const {
  const auto real = MonoClock::now() - real_start_;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::nano>(real) * speed_);
}

TimePoint AcceleratedClock::now() const { return start_ + Duration(wall_step_.load()) + simulated_elapsed(); }

MonoPoint AcceleratedClock::monotonic() const {
  return real_start_ + std::chrono::duration_cast<MonoClock::duration>(simulated_elapsed());
}

void AcceleratedClock::step(Duration d) { wall_step_ += d.count(); }

TimePoint ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

MonoPoint ManualClock::monotonic() const {
  std::lock_guard lock(mutex_);
  return mono_;
}

void ManualClock::set(TimePoint t) {
  std::lock_guard lock(mutex_);
  now_ = t;
}

void ManualClock::advance(Duration d) {
  if (d < Duration::zero()) throw std::invalid_argument("ManualClock::advance: time does not run backwards; use step()");
  std::lock_guard lock(mutex_);
  now_ += d;
  mono_ += std::chrono::duration_cast<MonoClock::duration>(d);
}

void ManualClock::step(Duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
}

}  // namespace orderly

#include "orderly/base/clock.hpp"

namespace orderly {

std::chrono::steady_clock::duration Clock::real_wait(Duration span) const {
  const double s = speed();
  if (s <= 0) return std::chrono::steady_clock::duration::zero();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::nano>(std::chrono::duration<double, std::nano>(span).count() / s));
}

AcceleratedClock::AcceleratedClock(TimePoint start, double speed)
    : start_(start), real_start_(std::chrono::steady_clock::now()), speed_(speed) {}

TimePoint AcceleratedClock::now() const {
  const auto real = std::chrono::steady_clock::now() - real_start_;
  const auto sim = std::chrono::duration<double, std::nano>(real) * speed_;
  return start_ + std::chrono::duration_cast<Duration>(sim);
}

TimePoint ManualClock::now() const {
  std::lock_guard lock(mutex_);
  return now_;
}

void ManualClock::set(TimePoint t) {
  std::lock_guard lock(mutex_);
  now_ = t;
}

void ManualClock::advance(Duration d) {
  std::lock_guard lock(mutex_);
  now_ += d;
}

}  // namespace orderly

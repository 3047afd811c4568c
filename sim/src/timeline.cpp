#include "orderly/sim/timeline.hpp"

#include <algorithm>

namespace orderly::sim {

Timeline::Timeline(const Clock& clock, std::vector<Event> events) : clock_(clock), events_(std::move(events)) {
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
  thread_ = std::thread([this] { run(); });
}

Timeline::~Timeline() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Timeline::run() {
  for (const auto& e : events_) {
    {
      std::unique_lock lock(mutex_);
      const auto now = clock_.now();
      const auto wait = e.at > now ? clock_.real_wait(e.at - now) : std::chrono::steady_clock::duration::zero();
      if (wake_.wait_for(lock, wait, [this] { return stop_; })) return;
    }
    const auto lag = clock_.now() - e.at;
    if (lag > worst_lag_.load()) worst_lag_ = lag;
    e.action();
  }
}

}  // namespace orderly::sim

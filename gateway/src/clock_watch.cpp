#include "orderly/gateway/clock_watch.hpp"

#include <cstdlib>

namespace orderly::gateway {

using namespace std::chrono;

std::optional<Duration> ClockWatch::observe(Instant now) {
  const auto previous = last_;
  last_ = now;
  if (!previous) return std::nullopt;
  const Duration step = (now.wall - previous->wall) - duration_cast<Duration>(now.mono - previous->mono);
  if (abs(step) <= kStepThreshold) return std::nullopt;
  return step;
}

std::string describe_step(Duration step) {
  const auto size = round<seconds>(abs(step));  // the two clocks are read microseconds apart
  const auto d = duration_cast<days>(size);
  const auto h = duration_cast<hours>(size - d);
  const auto m = duration_cast<minutes>(size - d - h);
  const auto s = size - d - h - m;
  std::string text = step < Duration::zero() ? "back by " : "forward by ";
  if (d.count() > 0) text += std::to_string(d.count()) + " d ";
  if (d.count() > 0 || h.count() > 0) text += std::to_string(h.count()) + " h ";
  text += std::to_string(m.count()) + " min " + std::to_string(s.count()) + " s";
  text += " (" + std::string(step < Duration::zero() ? "-" : "") + std::to_string(size.count()) + " s)";
  return text;
}

RetentionGuard::RetentionGuard(std::optional<TimePoint> last_prune, std::optional<TimePoint> newest_record, Instant now)
    : reference_{now.wall, now.mono} {
  const auto stored = last_prune ? std::optional<TimePoint>(*last_prune + days(1)) : newest_record;
  if (stored) reference_.wall = std::min(*stored, now.wall);
}

RetentionGuard::Decision RetentionGuard::check(Instant now) {
  Decision out;
  const Duration ahead = (now.wall - reference_.wall) - duration_cast<Duration>(now.mono - reference_.mono);
  if (ahead > kSuspectAhead) {
    // The wall time ran ahead of everything the monotonic clock saw pass: hold, and take the new
    // time as the reference, so only a further jump restarts the wait.
    out.note = "retention held: the wall clock moved " + describe_step(ahead) +
               " more than the time that passed since the last prune (or, at start, since the next one was due); "
               "nothing is deleted until the new time has held for 24 h";
    held_since_ = now.mono;
    reference_ = now;
    return out;
  }
  if (held_since_) {
    if (now.mono - *held_since_ < kConfirmFor) return out;
    held_since_.reset();
    out.note = "retention resumes: the wall clock has held for 24 h since it jumped";
  }
  reference_ = now;
  out.prune = true;
  return out;
}

}  // namespace orderly::gateway

#pragma once
// Wall clock steps, seen from the monotonic clock. The box's wall clock can jump: an NTP
// correction minutes after boot, an RTC whose battery died (1970, or a default date years
// ahead), an operator setting the date by hand. Ages and timeouts run on the monotonic clock and
// do not care; what reads the wall clock does: the slots and tariff periods (re-plan from the new
// time) and retention (a prune years ahead would delete every aggregate). Rules: docs/control.md.
#include <chrono>
#include <optional>
#include <string>

#include "orderly/base/clock.hpp"

namespace orderly::gateway {

// Compares wall and monotonic progress between two observations (the control steps).
class ClockWatch {
 public:
  // Smaller differences are jitter or a slewing NTP daemon, not a step.
  static constexpr auto kStepThreshold = std::chrono::seconds(5);

  // The wall clock's step since the previous call (positive: forward), when it exceeds the
  // threshold; the first call only takes its reference.
  std::optional<Duration> observe(Instant now);

 private:
  std::optional<Instant> last_;
};

// "forward by 1095 d 0 h 0 min 0 s (94608000 s)": a step's size and direction for people.
std::string describe_step(Duration step);

// Decides whether the daily prune may run. The wall clock is trusted for retention only while it
// moves with the monotonic clock: when it gets more than kSuspectAhead further than the monotonic
// time since the reference, the prune is held until the new wall time has run kConfirmFor on the
// monotonic clock without such a jump again. The reference is the last prune; at start, a day
// after the last prune stored (the next one was due then), or the newest stored record when no
// prune was ever made, since a jump followed by a restart must still be seen. Steps back only
// make a prune delete less, so they are never held.
class RetentionGuard {
 public:
  static constexpr auto kSuspectAhead = std::chrono::hours(24);
  static constexpr auto kConfirmFor = std::chrono::hours(24);

  // From the store at start: Store::last_prune_at() and Store::newest_record_at().
  RetentionGuard(std::optional<TimePoint> last_prune, std::optional<TimePoint> newest_record, Instant now);

  struct Decision {
    bool prune = false;
    std::string note;  // set once when a hold starts, and when it ends: for the journal and the store
  };
  // Asked before every daily prune; on `prune`, the caller prunes with `now.wall`.
  Decision check(Instant now);
  bool holding() const { return held_since_.has_value(); }

 private:
  Instant reference_;
  std::optional<MonoPoint> held_since_;
};

}  // namespace orderly::gateway

// Wall clock steps as the gateway core sees them: the step detector between control steps, the
// retention guard that keeps a prune from deleting years of data on a clock that jumped, and the
// store's part in it (the last prune's time, kept across restarts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/clock_watch.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

const TimePoint kStart = sys_days{2026y / January / 5} + 12h;
constexpr auto kThreeYears = days(3 * 365);

TEST(ClockWatch, SeesStepsBothWaysAndIgnoresTimePassingAndJitter) {
  ManualClock clock(kStart);
  ClockWatch watch;
  EXPECT_FALSE(watch.observe(clock.instant())) << "the first observation is the reference";
  clock.advance(hours(6));
  EXPECT_FALSE(watch.observe(clock.instant())) << "time passing is no step, however long";
  clock.step(4s);  // an NTP nudge
  EXPECT_FALSE(watch.observe(clock.instant()));
  clock.advance(1s);
  clock.step(-hours(1));
  const auto back = watch.observe(clock.instant());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, -hours(1));
  EXPECT_FALSE(watch.observe(clock.instant())) << "one step is reported once";
  clock.step(kThreeYears);
  const auto forward = watch.observe(clock.instant());
  ASSERT_TRUE(forward);
  EXPECT_EQ(*forward, kThreeYears);
}

TEST(ClockWatch, DescribesSizeAndDirection) {
  EXPECT_EQ(describe_step(-hours(1)), "back by 1 h 0 min 0 s (-3600 s)");
  EXPECT_EQ(describe_step(kThreeYears + 5s), "forward by 1095 d 0 h 0 min 5 s (94608005 s)");
  EXPECT_EQ(describe_step(seconds(90)), "forward by 1 min 30 s (90 s)");
}

TEST(RetentionGuard, PrunesWhileTheWallClockMovesWithTheMonotonicOne) {
  ManualClock clock(kStart);
  RetentionGuard guard(kStart - days(1), kStart - 10s, clock.instant());
  EXPECT_TRUE(guard.check(clock.instant()).prune);
  clock.advance(days(1));
  const auto next = guard.check(clock.instant());
  EXPECT_TRUE(next.prune);
  EXPECT_TRUE(next.note.empty());
  clock.step(-hours(1));  // back: a prune deletes less, nothing to hold
  EXPECT_TRUE(guard.check(clock.instant()).prune);
}

TEST(RetentionGuard, AJumpOfYearsHoldsThePruneUntilTheNewTimeHeldADay) {
  ManualClock clock(kStart);
  RetentionGuard guard(std::nullopt, std::nullopt, clock.instant());
  ASSERT_TRUE(guard.check(clock.instant()).prune);
  clock.advance(5min);
  clock.step(kThreeYears);
  const auto held = guard.check(clock.instant());
  EXPECT_FALSE(held.prune);
  EXPECT_THAT(held.note, HasSubstr("retention held"));
  EXPECT_THAT(held.note, HasSubstr("forward by 1095 d"));
  EXPECT_TRUE(guard.holding());

  clock.advance(hours(23) + minutes(59));
  const auto still = guard.check(clock.instant());
  EXPECT_FALSE(still.prune);
  EXPECT_TRUE(still.note.empty()) << "the hold is said once";

  clock.advance(minutes(1));
  const auto resumed = guard.check(clock.instant());
  EXPECT_TRUE(resumed.prune) << "the new time held for 24 h on the monotonic clock";
  EXPECT_THAT(resumed.note, HasSubstr("resumes"));
  EXPECT_FALSE(guard.holding());
}

TEST(RetentionGuard, AnotherJumpDuringTheHoldRestartsIt) {
  ManualClock clock(kStart);
  RetentionGuard guard(std::nullopt, std::nullopt, clock.instant());
  clock.step(days(30));
  EXPECT_FALSE(guard.check(clock.instant()).prune);
  clock.advance(hours(20));
  clock.step(days(2));
  EXPECT_FALSE(guard.check(clock.instant()).prune);
  clock.advance(hours(20));
  EXPECT_FALSE(guard.check(clock.instant()).prune) << "20 h since the second jump";
  clock.advance(hours(4));
  EXPECT_TRUE(guard.check(clock.instant()).prune);
}

TEST(RetentionGuard, AJumpIsStillSeenAfterARestart) {
  // Pruned on the old time, then the clock jumped three years and the gateway restarted before
  // the hold was over: records are now stamped three years ahead, the last prune is not.
  const TimePoint pruned = kStart - hours(3);
  ManualClock clock(kStart + kThreeYears);
  RetentionGuard guard(pruned, kStart + kThreeYears - 1min, clock.instant());
  EXPECT_FALSE(guard.check(clock.instant()).prune);
  clock.advance(hours(24));
  EXPECT_TRUE(guard.check(clock.instant()).prune);
}

TEST(RetentionGuard, ARestartWithinADayOfTheLastPruneIsNotHeld) {
  ManualClock clock(kStart);
  RetentionGuard guard(kStart - hours(23), kStart - 1min, clock.instant());
  EXPECT_TRUE(guard.check(clock.instant()).prune);
  // A store that was never pruned: the newest record is the reference.
  RetentionGuard fresh(std::nullopt, kStart - hours(2), clock.instant());
  EXPECT_TRUE(fresh.check(clock.instant()).prune);
  RetentionGuard stale(std::nullopt, kStart - days(3), clock.instant());
  EXPECT_FALSE(stale.check(clock.instant()).prune) << "off for 3 days, or a jump: a day's wait costs nothing";
}

TEST(StoreRetention, KeepsTheLastPruneTimeAndTheNewestRecord) {
  test::TempDir dir;
  Store store(dir / "orderly.db");
  EXPECT_FALSE(store.newest_record_at());
  EXPECT_FALSE(store.last_prune_at());
  MeterSample m;
  m.meter_id = "tm";
  m.power_w = 1000;
  m.at = kStart - hours(2);
  store.write(m);
  ChargerSample c;
  c.charger_id = "p1";
  c.state = "charging";
  c.at = kStart - hours(1);
  store.write(c);
  EXPECT_EQ(store.newest_record_at(), kStart - hours(1));
  store.write(EventRecord{kStart, "info", "gateway", "stopped"});
  EXPECT_EQ(store.newest_record_at(), kStart);

  store.prune(PruneRequest{kStart - days(90), kStart - days(1095), kStart});
  EXPECT_EQ(store.last_prune_at(), kStart);
  store.prune(PruneRequest{kStart - days(90), kStart - days(1095)});  // no `at`: not kept
  EXPECT_EQ(store.last_prune_at(), kStart);
}

}  // namespace
}  // namespace orderly::gateway

// The injected clocks: the manual one tests drive, the accelerated one the demo runs on, and the
// conversion Asio timers use to wait for simulated time.
#include <gtest/gtest.h>

#include <thread>

#include "orderly/base/clock.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

const TimePoint kStart = sys_days{2026y / January / 5} + 12h;

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(kStart);
  EXPECT_EQ(clock.now(), kStart);
  std::this_thread::sleep_for(2ms);
  EXPECT_EQ(clock.now(), kStart) << "real time passing must not move a manual clock";
  clock.advance(15min);
  EXPECT_EQ(clock.now(), kStart + 15min);
  clock.set(kStart + 24h);
  EXPECT_EQ(clock.now(), kStart + 24h);
  EXPECT_EQ(clock.speed(), 1.0);
}

TEST(ManualClock, AdvanceMovesBothClocksStepOnlyTheWallClock) {
  ManualClock clock(kStart);
  const MonoPoint mono0 = clock.monotonic();
  EXPECT_NE(mono0, MonoPoint{}) << "an unset MonoPoint{} must not be a time the clock can show";
  clock.advance(10s);
  EXPECT_EQ(clock.now(), kStart + 10s);
  EXPECT_EQ(clock.monotonic(), mono0 + 10s);

  clock.step(-1h);  // an NTP correction back
  EXPECT_EQ(clock.now(), kStart + 10s - 1h);
  EXPECT_EQ(clock.monotonic(), mono0 + 10s) << "a wall step is no time passing";
  clock.step(days(3 * 365));  // an RTC fault forward
  EXPECT_EQ(clock.now(), kStart + 10s - 1h + days(3 * 365));
  EXPECT_EQ(clock.monotonic(), mono0 + 10s);

  clock.set(kStart);
  EXPECT_EQ(clock.monotonic(), mono0 + 10s) << "set() is a step too";
  const Instant both = clock.instant();
  EXPECT_EQ(both.wall, kStart);
  EXPECT_EQ(both.mono, mono0 + 10s);
  EXPECT_THROW(clock.advance(-1s), std::invalid_argument);
}

TEST(AcceleratedClock, StartsAtItsStartAndRunsSpeedTimesFaster) {
  const auto real_start = steady_clock::now();
  AcceleratedClock clock(kStart, 60);
  const TimePoint first = clock.now();
  EXPECT_GE(first, kStart);
  EXPECT_LT(first, kStart + 60 * (steady_clock::now() - real_start) + 1ms);

  // After at least 50 ms of real time, at least 3 simulated seconds have passed, and no more
  // than 60 x the real time that has elapsed in total.
  ASSERT_TRUE(test::wait_until([&] { return steady_clock::now() - real_start >= 50ms; }, 5s));
  const TimePoint later = clock.now();
  const auto real_elapsed = steady_clock::now() - real_start;
  EXPECT_GE(later - kStart, 3s);
  EXPECT_LE(later - kStart, duration_cast<Duration>(60 * real_elapsed) + 1ms);
  EXPECT_EQ(clock.speed(), 60);
}

TEST(AcceleratedClock, NeverGoesBackwards) {
  AcceleratedClock clock(kStart, 3600);
  TimePoint previous = clock.now();
  MonoPoint previous_mono = clock.monotonic();
  for (int i = 0; i < 10000; ++i) {
    const TimePoint t = clock.now();
    const MonoPoint m = clock.monotonic();
    ASSERT_GE(t, previous);
    ASSERT_GE(m, previous_mono);
    previous = t;
    previous_mono = m;
  }
}

TEST(AcceleratedClock, MonotonicRunsAtItsSpeedAndIgnoresWallSteps) {
  AcceleratedClock clock(kStart, 60);
  const auto real0 = steady_clock::now();
  const MonoPoint mono0 = clock.monotonic();
  const TimePoint wall0 = clock.now();
  clock.step(-1h);
  clock.step(days(3 * 365));
  ASSERT_TRUE(test::wait_until([&] { return steady_clock::now() - real0 >= 50ms; }, 5s));
  const MonoPoint mono1 = clock.monotonic();
  const TimePoint wall1 = clock.now();
  const auto real_elapsed = steady_clock::now() - real0;
  // Both ran 60 times faster than real time; only the wall clock carries the steps.
  EXPECT_GE(mono1 - mono0, 3s);
  EXPECT_LE(mono1 - mono0, 60 * real_elapsed + 1ms);
  const auto wall_run = (wall1 - wall0) - (days(3 * 365) - 1h);
  EXPECT_GE(wall_run, 3s);
  EXPECT_LE(wall_run, duration_cast<Duration>(60 * real_elapsed) + 1ms);
  // The two read within a millisecond of real time of each other, however far the wall stepped.
  const auto drift = wall_run - duration_cast<Duration>(mono1 - mono0);
  EXPECT_LT(std::chrono::abs(drift), duration_cast<Duration>(60ms));
}

TEST(RealClock, MonotonicIsTheSteadyClock) {
  RealClock clock;
  const auto before = steady_clock::now();
  const auto t = clock.monotonic();
  const auto after = steady_clock::now();
  EXPECT_LE(before, t);
  EXPECT_LE(t, after);
}

TEST(Clock, RealWaitConvertsClockTimeToTimerTime) {
  AcceleratedClock fast(kStart, 60);
  EXPECT_EQ(fast.real_wait(60s), duration_cast<steady_clock::duration>(1s));
  EXPECT_EQ(fast.real_wait(15min), duration_cast<steady_clock::duration>(15s));
  RealClock real;
  EXPECT_EQ(real.real_wait(250ms), duration_cast<steady_clock::duration>(250ms));
  EXPECT_EQ(real.real_wait(Duration::zero()), steady_clock::duration::zero());
}

TEST(RealClock, IsTheSystemClock) {
  RealClock clock;
  const auto before = SysClock::now();
  const auto t = clock.now();
  const auto after = SysClock::now();
  EXPECT_LE(before, t);
  EXPECT_LE(t, after);
}

}  // namespace
}  // namespace orderly

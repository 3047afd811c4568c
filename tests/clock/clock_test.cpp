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
  for (int i = 0; i < 10000; ++i) {
    const TimePoint t = clock.now();
    ASSERT_GE(t, previous);
    previous = t;
  }
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

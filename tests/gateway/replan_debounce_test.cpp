// The per-device re-plan debounce on its own, in simulated monotonic time.
#include <gtest/gtest.h>

#include "orderly/gateway/replan_debounce.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono_literals;
using Released = std::vector<std::pair<std::string, ReplanReason>>;

class ReplanDebounceTest : public ::testing::Test {
 protected:
  ReplanDebounce d{5s};
  const MonoPoint t0 = MonoPoint{} + 24h;
};

TEST_F(ReplanDebounceTest, FirstEventAtOnceThenOnePerIntervalWithTheLatestReason) {
  EXPECT_TRUE(d.admit("c1", ReplanReason::plug_in, t0));
  EXPECT_FALSE(d.admit("c1", ReplanReason::unplug, t0 + 10ms));
  EXPECT_FALSE(d.admit("c1", ReplanReason::plug_in, t0 + 20ms));
  EXPECT_FALSE(d.admit("c1", ReplanReason::unplug, t0 + 30ms));
  EXPECT_TRUE(d.due(t0 + 4s).empty());
  EXPECT_EQ(d.due(t0 + 5s), (Released{{"c1", ReplanReason::unplug}}));
  EXPECT_TRUE(d.due(t0 + 6s).empty()) << "released once";
  // Still flapping: the release restarted the interval.
  EXPECT_FALSE(d.admit("c1", ReplanReason::plug_in, t0 + 6s));
  EXPECT_TRUE(d.due(t0 + 9s).empty());
  EXPECT_EQ(d.due(t0 + 10s), (Released{{"c1", ReplanReason::plug_in}}));
  // Quiet for an interval: the next event acts at once again.
  EXPECT_TRUE(d.admit("c1", ReplanReason::unplug, t0 + 16s));
  EXPECT_TRUE(d.due(t0 + 30s).empty());
}

TEST_F(ReplanDebounceTest, DevicesAreIndependent) {
  EXPECT_TRUE(d.admit("c1", ReplanReason::plug_in, t0));
  EXPECT_TRUE(d.admit("c2", ReplanReason::plug_in, t0 + 1s));
  EXPECT_FALSE(d.admit("c1", ReplanReason::unplug, t0 + 2s));
  EXPECT_EQ(d.due(t0 + 5s), (Released{{"c1", ReplanReason::unplug}}));
}

}  // namespace
}  // namespace orderly::gateway

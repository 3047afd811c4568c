#include "orderly/scheduler/fair_share.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace orderly::scheduler {
namespace {

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

TEST(FairShare, EqualSharesCappedByEachMaximum) {
  const auto s = share_headroom(20.0, {{3.0, 0, 0}, {11.0, 0, 0}, {11.0, 0, 0}});
  EXPECT_DOUBLE_EQ(s[0], 3.0);
  EXPECT_DOUBLE_EQ(s[1], 8.5);
  EXPECT_DOUBLE_EQ(s[2], 8.5);
}

TEST(FairShare, EveryoneAtMaximumWhenHeadroomSuffices) {
  const auto s = share_headroom(100.0, {{7.0, 1.4, 0}, {3.5, 1.4, 0}});
  EXPECT_EQ(s, (std::vector<double>{7.0, 3.5}));
}

TEST(FairShare, BelowMinimumTheLowestPriorityIsSwitchedOffNotTrickled) {
  // 3 kW for three 1.4 kW-minimum piles: 1 kW each is useless; two run at 1.5 kW.
  const auto s = share_headroom(3.0, {{7.0, 1.4, 2}, {7.0, 1.4, 0}, {7.0, 1.4, 1}});
  EXPECT_DOUBLE_EQ(s[0], 1.5);
  EXPECT_DOUBLE_EQ(s[1], 0.0);
  EXPECT_DOUBLE_EQ(s[2], 1.5);
}

TEST(FairShare, AmongEqualPrioritiesTheLargestPauseOrderPausesFirst) {
  // 3 kW for three equal piles: one pauses. Not the last listed: the one whose turn it is.
  const auto s = share_headroom(3.0, {{7.0, 1.4, 0, 5}, {7.0, 1.4, 0, 9}, {7.0, 1.4, 0, 1}});
  EXPECT_DOUBLE_EQ(s[0], 1.5);
  EXPECT_DOUBLE_EQ(s[1], 0.0);
  EXPECT_DOUBLE_EQ(s[2], 1.5);
  // Priority still comes first: a higher-priority car keeps its minimum whatever its order.
  const auto p = share_headroom(3.0, {{7.0, 1.4, 1, 9}, {7.0, 1.4, 0, 0}, {7.0, 1.4, 1, 1}});
  EXPECT_DOUBLE_EQ(p[1], 0.0);
  // Equal orders: the latest listed, as before.
  const auto e = share_headroom(3.0, {{7.0, 1.4, 0, 2}, {7.0, 1.4, 0, 2}, {7.0, 1.4, 0, 2}});
  EXPECT_DOUBLE_EQ(e[2], 0.0);
}

TEST(FairShare, NegativeHeadroomGivesNothing) {
  const auto s = share_headroom(-5.0, {{7.0, 0, 0}, {7.0, 1.4, 0}});
  EXPECT_EQ(s, (std::vector<double>{0.0, 0.0}));
}

TEST(FairShare, PropertiesOnRandomRequests) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<ShareRequest> req(1 + rng() % 12);
    for (auto& r : req) {
      r.max_kw = u(rng) < 0.1 ? 0.0 : 1 + 21 * u(rng);
      r.min_kw = u(rng) < 0.5 ? std::min(r.max_kw, 4.2 * u(rng)) : 0.0;
      r.priority = static_cast<int>(rng() % 3);
    }
    const double headroom = 60 * u(rng) - 10;
    const auto s = share_headroom(headroom, req);
    ASSERT_EQ(s.size(), req.size());
    EXPECT_LE(sum(s), std::max(headroom, 0.0) + 1e-9) << "round " << round;
    for (std::size_t i = 0; i < req.size(); ++i) {
      EXPECT_GE(s[i], 0.0);
      EXPECT_LE(s[i], req[i].max_kw + 1e-12);
      EXPECT_TRUE(s[i] == 0.0 || s[i] + 1e-9 >= req[i].min_kw) << "round " << round << " request " << i;
    }
  }
}

}  // namespace
}  // namespace orderly::scheduler

#include "orderly/scheduler/limiter.hpp"

#include <gtest/gtest.h>

#include <random>

#include "test_problems.hpp"

namespace orderly::scheduler {
namespace {

ChargerSetpoint charger(int node, double setpoint_kw, std::optional<double> measured_kw, double min_kw = 0,
                        double max_kw = 7.0, bool responsive = true, int priority = 0) {
  ChargerSetpoint c;
  c.node = node;
  c.setpoint_kw = setpoint_kw;
  c.measured_kw = measured_kw;
  c.min_kw = min_kw;
  c.max_kw = max_kw;
  c.priority = priority;
  c.responsive = responsive;
  return c;
}

LimitNode node(int parent, double limit_kw, std::optional<double> measured_kw = std::nullopt, double base_kw = 0) {
  LimitNode n;
  n.parent = parent;
  n.limit_kw = limit_kw;
  n.measured_kw = measured_kw;
  n.base_load_kw = base_kw;
  return n;
}

TEST(Limiter, NoOverloadLeavesSetpointsAlone) {
  const auto r = limit_setpoints({node(-1, 100, 50)}, {charger(0, 7, 7), charger(0, 3.5, 3.5)});
  EXPECT_EQ(r.setpoint_kw, (std::vector<double>{7, 3.5}));
  EXPECT_TRUE(r.limits_hold);
}

TEST(Limiter, CutsEquallyToRestoreTheRootLimit) {
  // 40 kW measured, 21 kW of it three chargers: non-EV 19 kW; limit 31 leaves 12 kW -> 4 each.
  const auto r = limit_setpoints({node(-1, 31, 40)}, {charger(0, 7, 7), charger(0, 7, 7), charger(0, 7, 7)});
  for (double kw : r.setpoint_kw) EXPECT_DOUBLE_EQ(kw, 4.0);
  EXPECT_TRUE(r.limits_hold);
  EXPECT_DOUBLE_EQ(r.expected_node_load_kw[0], 31.0);
}

TEST(Limiter, UnresponsiveChargerIsFixedAndTheOthersCompensate) {
  // The stuck charger draws 7 kW against its 2 kW setpoint; only the responsive one can give.
  const auto r = limit_setpoints({node(-1, 20, 24)}, {charger(0, 2, 7, 0, 7, false), charger(0, 7, 7)});
  EXPECT_DOUBLE_EQ(r.setpoint_kw[1], 3.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[0], 2.0) << "unresponsive setpoints are passed through";
}

TEST(Limiter, UnknownUnresponsiveChargerCountsAtItsMaximum) {
  const auto r = limit_setpoints({node(-1, 20, 10)}, {charger(0, 7, std::nullopt, 0, 11, false), charger(0, 7, 0)});
  // Non-EV = 10 (the unknown charger's draw is inside it) + 11 kW assumed for it: no headroom.
  EXPECT_DOUBLE_EQ(r.setpoint_kw[1], 0.0);
  EXPECT_FALSE(r.limits_hold);
}

TEST(Limiter, FeederCutDoesNotTouchChargersElsewhere) {
  // Root 100 with room; feeder-1 (limit 10) carries 2 kW non-EV and two 7 kW chargers.
  const auto r = limit_setpoints({node(-1, 100, 40), node(0, 10, 16)},
                                 {charger(1, 7, 7), charger(1, 7, 7), charger(0, 7, 7)});
  EXPECT_DOUBLE_EQ(r.setpoint_kw[0], 4.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[1], 4.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[2], 7.0);
}

TEST(Limiter, MinimumPowerSwitchesChargersOffLowestPriorityFirst) {
  // 2 kW of headroom for two 1.4 kW-minimum chargers: 1 kW each is useless; priority 1 keeps 2.
  const auto r = limit_setpoints({node(-1, 12, 24)}, {charger(0, 7, 7, 1.4, 7, true, 0), charger(0, 7, 7, 1.4, 7, true, 1)});
  EXPECT_DOUBLE_EQ(r.setpoint_kw[0], 0.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[1], 2.0);
}

TEST(Limiter, NeverRaisesAPlannedSetpoint) {
  const auto r = limit_setpoints({node(-1, 100, 10)}, {charger(0, 2, 0.5), charger(0, 0, 0)});
  EXPECT_EQ(r.setpoint_kw, (std::vector<double>{2, 0}));
}

TEST(Limiter, BaseLoadAloneOverTheLimitTurnsEveryResponsiveChargerOff) {
  const auto r = limit_setpoints({node(-1, 100, 130), node(0, 50, 20)},
                                 {charger(1, 7, 7), charger(0, 7, 3, 1.4), charger(0, 7, 7)});
  EXPECT_EQ(r.setpoint_kw, (std::vector<double>{0, 0, 0}));
  EXPECT_FALSE(r.limits_hold);
  EXPECT_EQ(r.overloaded_nodes, (std::vector<int>{0}));
}

TEST(Limiter, UnmeasuredNodeUsesItsBaseLoadEstimate) {
  const auto r = limit_setpoints({node(-1, 100, 30), node(0, 10, std::nullopt, 6)}, {charger(1, 7, 7)});
  EXPECT_DOUBLE_EQ(r.setpoint_kw[0], 4.0);
}

TEST(Limiter, RejectsAnUnmeasuredRoot) {
  EXPECT_THROW(limit_setpoints({node(-1, 100)}, {}), std::invalid_argument);
}

TEST(Limiter, NodesOfAProblemSlot) {
  auto p = testing::make_problem(2, 100.0, {40.0});
  p.nodes[1].limit_kw = {40, 20};
  p.nodes[1].base_load_kw = {3, 4};
  const auto nodes = limit_nodes_at(p, 1);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[1].parent, 0);
  EXPECT_DOUBLE_EQ(nodes[1].limit_kw, 20);
  EXPECT_DOUBLE_EQ(nodes[1].base_load_kw, 4);
}

// From an overload of any size, one call brings every node whose fixed load fits back within
// its limit, judged against the true loads (which the limiter only sees through measurements).
TEST(Limiter, OneCallRestoresEveryLimitOnRandomTreesAndOverloads) {
  std::mt19937 rng(2026);
  std::uniform_real_distribution<double> u(0, 1);
  int cut_rounds = 0, hopeless_rounds = 0;
  for (int round = 0; round < 3000; ++round) {
    const int node_count = 1 + static_cast<int>(rng() % 6);
    std::vector<int> parent(static_cast<std::size_t>(node_count), -1);
    std::vector<double> own_non_ev(static_cast<std::size_t>(node_count));
    for (int n = 1; n < node_count; ++n) parent[static_cast<std::size_t>(n)] = static_cast<int>(rng() % static_cast<unsigned>(n));
    for (auto& b : own_non_ev) b = u(rng) < 0.3 ? 0.0 : 40 * u(rng);

    const int charger_count = static_cast<int>(rng() % 15);
    std::vector<ChargerSetpoint> chargers;
    std::vector<double> true_kw;
    for (int c = 0; c < charger_count; ++c) {
      const double max_kw = u(rng) < 0.5 ? 7.0 : 3.5 + 18.5 * u(rng);
      const double setpoint = max_kw * u(rng);
      const bool responsive = u(rng) < 0.8;
      const double draws = responsive ? setpoint * u(rng) : max_kw * u(rng);  // unresponsive may ignore it
      const bool measured = u(rng) < 0.8;
      chargers.push_back(charger(static_cast<int>(rng() % static_cast<unsigned>(node_count)), setpoint,
                                 measured ? std::optional<double>(draws) : std::nullopt, u(rng) < 0.5 ? 1.4 : 0.0,
                                 max_kw, responsive, static_cast<int>(rng() % 3)));
      true_kw.push_back(draws);
    }
    auto in_subtree = [&](int n, int ancestor) {
      for (int k = n; k >= 0; k = parent[static_cast<std::size_t>(k)])
        if (k == ancestor) return true;
      return false;
    };
    std::vector<LimitNode> nodes;
    std::vector<double> true_non_ev(static_cast<std::size_t>(node_count), 0.0);
    for (int n = 0; n < node_count; ++n) {
      for (int k = 0; k < node_count; ++k)
        if (in_subtree(k, n)) true_non_ev[static_cast<std::size_t>(n)] += own_non_ev[static_cast<std::size_t>(k)];
      double measured = true_non_ev[static_cast<std::size_t>(n)];
      for (int c = 0; c < charger_count; ++c)
        if (in_subtree(chargers[static_cast<std::size_t>(c)].node, n)) measured += true_kw[static_cast<std::size_t>(c)];
      // Limits from far below the load (overloads of any size) to above it.
      const double limit = measured * (u(rng) * 1.5);
      const bool has_meter = n == 0 || u(rng) < 0.5;
      // Unmetered nodes get an estimate at or above the truth (a forecast with margin).
      nodes.push_back(node(parent[static_cast<std::size_t>(n)], limit, has_meter ? std::optional<double>(measured) : std::nullopt,
                           true_non_ev[static_cast<std::size_t>(n)] * (1 + 0.2 * u(rng))));
    }

    const auto r = limit_setpoints(nodes, chargers);
    ASSERT_EQ(r.setpoint_kw.size(), chargers.size());
    bool any_cut = false;
    for (std::size_t c = 0; c < chargers.size(); ++c) {
      if (!chargers[c].responsive) {
        EXPECT_EQ(r.setpoint_kw[c], chargers[c].setpoint_kw);
        continue;
      }
      EXPECT_LE(r.setpoint_kw[c], chargers[c].setpoint_kw + 1e-12) << "raised, round " << round;
      EXPECT_GE(r.setpoint_kw[c], 0.0);
      EXPECT_TRUE(r.setpoint_kw[c] == 0.0 || r.setpoint_kw[c] + 1e-9 >= chargers[c].min_kw) << "round " << round;
      any_cut = any_cut || r.setpoint_kw[c] < chargers[c].setpoint_kw;
    }
    for (int n = 0; n < node_count; ++n) {
      const auto ns = static_cast<std::size_t>(n);
      double fixed = true_non_ev[ns], load = true_non_ev[ns];
      for (std::size_t c = 0; c < chargers.size(); ++c) {
        if (!in_subtree(chargers[c].node, n)) continue;
        if (chargers[c].responsive) {
          load += r.setpoint_kw[c];
        } else {
          fixed += true_kw[c];
          load += true_kw[c];
        }
      }
      const bool hopeless = std::find(r.overloaded_nodes.begin(), r.overloaded_nodes.end(), n) != r.overloaded_nodes.end();
      if (!hopeless) {
        EXPECT_LE(load, nodes[ns].limit_kw + 1e-6) << "node " << n << " round " << round;
      } else {
        hopeless_rounds++;
        for (std::size_t c = 0; c < chargers.size(); ++c)
          if (chargers[c].responsive && in_subtree(chargers[c].node, n)) {
            EXPECT_EQ(r.setpoint_kw[c], 0.0) << "node " << n << " round " << round;
          }
      }
      if (fixed > nodes[ns].limit_kw + 1e-9) {
        EXPECT_TRUE(hopeless) << "node " << n << " round " << round;
      }
      EXPECT_LE(load, r.expected_node_load_kw[ns] + 1e-6) << "the estimate must not be optimistic";
    }
    EXPECT_EQ(r.limits_hold, r.overloaded_nodes.empty());
    cut_rounds += any_cut;
  }
  EXPECT_GT(cut_rounds, 1000) << "the random cases must exercise cutting";
  EXPECT_GT(hopeless_rounds, 100) << "and fixed load alone over the limit";
}

}  // namespace
}  // namespace orderly::scheduler

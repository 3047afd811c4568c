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

ChargerSetpoint on_phases(ChargerSetpoint c, PhaseSet phases) {
  c.phases = phases;
  return c;
}

LimitNode with_phases(LimitNode n, std::array<std::optional<double>, kPhases> limit_kw,
                      std::array<std::optional<double>, kPhases> measured_kw = {}) {
  n.phase_limit_kw = limit_kw;
  n.measured_phase_kw = measured_kw;
  return n;
}

TEST(LimiterPhases, SinglePhasePilesOnOnePhaseAreCutToThatPhasesLimit) {
  // 25 x 7 kW on phase A: 175 kW; phase A carries 20 kW non-EV (measured 195), limit 100 per
  // phase. The total (230 kW measured, limit 400) is fine; phase A leaves 80 kW = 3.2 kW each.
  std::vector<ChargerSetpoint> chargers;
  for (int i = 0; i < 25; ++i) chargers.push_back(on_phases(charger(0, 7, 7), PhaseSet::a));
  chargers.push_back(on_phases(charger(0, 7, 7), PhaseSet::b));
  const auto r = limit_setpoints({with_phases(node(-1, 400, 230), {100.0, 100.0, 100.0}, {195.0, 25.0, 10.0})}, chargers);
  for (int i = 0; i < 25; ++i) EXPECT_NEAR(r.setpoint_kw[static_cast<std::size_t>(i)], 3.2, 1e-9);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[25], 7.0) << "a phase-B pile is not cut for phase A";
  EXPECT_TRUE(r.limits_hold);
  EXPECT_NEAR(r.expected_node_phase_load_kw[0][0], 100.0, 1e-9);
  EXPECT_NEAR(r.expected_node_phase_load_kw[0][1], 25.0, 1e-9);
}

TEST(LimiterPhases, AThreePhasePileIsCutForAnyOfItsPhasesByItsShare) {
  // Phase B: limit 7, non-EV 4 (measured 4 + 7/3 of the three-phase pile + 3 of the B pile).
  // Left for B: 3 kW, shared as equal power on B: the B pile 1.5 kW, the three-phase pile
  // 1.5 kW on B = 4.5 kW in all. The phase-A pile is left alone.
  const std::vector<ChargerSetpoint> chargers{on_phases(charger(0, 7, 7), PhaseSet::abc),
                                              on_phases(charger(0, 7, 3), PhaseSet::b),
                                              on_phases(charger(0, 7, 7), PhaseSet::a)};
  const auto r = limit_setpoints({with_phases(node(-1, 100, 40), {std::nullopt, 7.0, std::nullopt},
                                              {std::nullopt, 4 + 7.0 / 3 + 3, std::nullopt})},
                                 chargers);
  EXPECT_NEAR(r.setpoint_kw[0], 4.5, 1e-9);
  EXPECT_NEAR(r.setpoint_kw[1], 1.5, 1e-9);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[2], 7.0);
  EXPECT_NEAR(r.expected_node_phase_load_kw[0][1], 7.0, 1e-9);
}

TEST(LimiterPhases, AnyOnePilesMeasuredPowerStaysInEveryPhasesNonEvPart) {
  // The car is on phase A (the meter shows 5 kW there), but the pile cannot say so: phase B's
  // 1 kW must not become 1 - 5 < 0, so the pile's 5 kW is taken off neither phase.
  const auto r = limit_setpoints({with_phases(node(-1, 100, 6), {std::nullopt, 4.0, std::nullopt}, {5.0, 1.0, 0.0})},
                                 {on_phases(charger(0, 5, 5), PhaseSet::any_one)});
  EXPECT_NEAR(r.setpoint_kw[0], 3.0, 1e-9);
}

TEST(LimiterPhases, AnyOnePileCountsInFullOnEveryPhase) {
  // Unmeasured phases: base_load_kw / 3 = 2 kW each; phase C limit 5 leaves 3 kW, and a pile
  // whose car may be on any phase takes it in full from C.
  const auto r = limit_setpoints({with_phases(node(-1, 100, 6, 6), {std::nullopt, std::nullopt, 5.0})},
                                 {on_phases(charger(0, 7, 0), PhaseSet::any_one)});
  EXPECT_NEAR(r.setpoint_kw[0], 3.0, 1e-9);
  for (int p = 0; p < kPhases; ++p) EXPECT_NEAR(r.expected_node_phase_load_kw[0][static_cast<std::size_t>(p)], 5.0, 1e-9);
}

TEST(LimiterPhases, UnmeasuredPhaseUsesItsEstimateThenAThirdOfTheBaseLoad) {
  auto feeder = with_phases(node(0, 100, std::nullopt, 30), {10.0, 10.0, std::nullopt});
  feeder.base_load_phase_kw = {std::optional<double>(8.0), std::nullopt, std::nullopt};
  const auto r = limit_setpoints({node(-1, 100, 30), feeder},
                                 {on_phases(charger(1, 7, 0), PhaseSet::a), on_phases(charger(1, 7, 0), PhaseSet::b)});
  EXPECT_NEAR(r.setpoint_kw[0], 2.0, 1e-9) << "phase A: its own estimate, 8 kW";
  EXPECT_NEAR(r.setpoint_kw[1], 0.0, 1e-9) << "phase B: 30 / 3 = 10 kW leaves nothing";
  EXPECT_TRUE(r.limits_hold) << "10 kW on a 10 kW limit is at the limit, not over it";
}

TEST(LimiterPhases, APhaseOverloadedByFixedLoadIsNamedAndOnlyItsPilesStop) {
  const std::vector<ChargerSetpoint> chargers{on_phases(charger(1, 7, 7), PhaseSet::a),
                                              on_phases(charger(1, 7, 7), PhaseSet::abc),
                                              on_phases(charger(1, 7, 7), PhaseSet::c),
                                              on_phases(charger(1, 7, 7, 0, 7, false), PhaseSet::a)};
  // Feeder phase A: 30 kW measured, 7 + 7/3 + 7 of it chargers: non-EV 13.67 plus the
  // unresponsive pile's 7 is over the 15 kW limit.
  const auto r = limit_setpoints({node(-1, 500, 100), with_phases(node(0, 100, 60), {15.0, 50.0, 50.0}, {30.0, 20.0, 20.0})},
                                 chargers);
  EXPECT_FALSE(r.limits_hold);
  EXPECT_EQ(r.overloaded_nodes, (std::vector<int>{1}));
  EXPECT_EQ(r.overloads, (std::vector<NodeOverload>{{1, 0}}));
  EXPECT_DOUBLE_EQ(r.setpoint_kw[0], 0.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[1], 0.0);
  EXPECT_DOUBLE_EQ(r.setpoint_kw[2], 7.0) << "phase C has room";
}

TEST(LimiterPhases, NodeTotalStillCutsEveryPile) {
  const auto r = limit_setpoints({with_phases(node(-1, 10, 14), {50.0, 50.0, 50.0})},
                                 {on_phases(charger(0, 7, 7), PhaseSet::a), on_phases(charger(0, 7, 7), PhaseSet::b)});
  EXPECT_NEAR(r.setpoint_kw[0], 5.0, 1e-9);
  EXPECT_NEAR(r.setpoint_kw[1], 5.0, 1e-9);
}

TEST(LimiterPhases, NodesOfAProblemSlotCarryThePhaseFields) {
  auto p = testing::make_problem(2, 100.0, {40.0});
  p.nodes[1].phase_limit_kw[1] = {12, 11};
  p.nodes[1].base_load_phase_kw = {std::vector<double>{1, 2}, std::vector<double>{3, 4}, std::vector<double>{5, 6}};
  const auto nodes = limit_nodes_at(p, 1);
  EXPECT_FALSE(nodes[1].phase_limit_kw[0].has_value());
  EXPECT_EQ(nodes[1].phase_limit_kw[1], std::optional<double>(11));
  EXPECT_EQ(nodes[1].base_load_phase_kw[2], std::optional<double>(6));
  EXPECT_FALSE(nodes[0].base_load_phase_kw[0].has_value());
}

// Per phase: from any overload, one call keeps every phase and total of every node whose
// fixed load fits inside its limit, judged against true per-phase loads.
TEST(LimiterPhases, OneCallRestoresEveryPhaseLimitOnRandomTrees) {
  std::mt19937 rng(1212);
  std::uniform_real_distribution<double> u(0, 1);
  const std::array<PhaseSet, 5> sets{PhaseSet::a, PhaseSet::b, PhaseSet::c, PhaseSet::abc, PhaseSet::any_one};
  int cut_rounds = 0, hopeless_phases = 0;
  for (int round = 0; round < 2000; ++round) {
    const int node_count = 1 + static_cast<int>(rng() % 4);
    std::vector<int> parent(static_cast<std::size_t>(node_count), -1);
    for (int n = 1; n < node_count; ++n) parent[static_cast<std::size_t>(n)] = static_cast<int>(rng() % static_cast<unsigned>(n));
    std::vector<std::array<double, kPhases>> own_non_ev(static_cast<std::size_t>(node_count));
    for (auto& b : own_non_ev)
      for (auto& v : b) v = u(rng) < 0.3 ? 0.0 : 15 * u(rng);
    auto in_subtree = [&](int n, int ancestor) {
      for (int k = n; k >= 0; k = parent[static_cast<std::size_t>(k)])
        if (k == ancestor) return true;
      return false;
    };
    std::vector<ChargerSetpoint> chargers;
    std::vector<double> true_kw;
    const int charger_count = static_cast<int>(rng() % 20);
    for (int c = 0; c < charger_count; ++c) {
      const bool responsive = u(rng) < 0.85;
      const double setpoint = 7 * u(rng);
      const double draws = responsive ? setpoint * u(rng) : 7 * u(rng);
      auto ch = charger(static_cast<int>(rng() % static_cast<unsigned>(node_count)), setpoint,
                        u(rng) < 0.8 ? std::optional<double>(draws) : std::nullopt, u(rng) < 0.5 ? 1.4 : 0.0, 7.0,
                        responsive, static_cast<int>(rng() % 3));
      ch.phases = sets[rng() % sets.size()];
      chargers.push_back(ch);
      // An any_one pile's car is on one phase; which one the limiter cannot know.
      true_kw.push_back(draws);
    }
    std::vector<int> car_phase;
    for (std::size_t c = 0; c < chargers.size(); ++c) car_phase.push_back(static_cast<int>(rng() % 3));
    auto true_share = [&](std::size_t c, int p) {
      if (chargers[c].phases == PhaseSet::any_one) return car_phase[c] == p ? 1.0 : 0.0;
      return phase_share(chargers[c].phases, p);
    };
    std::vector<LimitNode> nodes;
    std::vector<std::array<double, kPhases>> true_non_ev(static_cast<std::size_t>(node_count), {0, 0, 0});
    for (int n = 0; n < node_count; ++n) {
      const auto ns = static_cast<std::size_t>(n);
      for (int k = 0; k < node_count; ++k)
        if (in_subtree(k, n))
          for (int p = 0; p < kPhases; ++p) true_non_ev[ns][static_cast<std::size_t>(p)] += own_non_ev[static_cast<std::size_t>(k)][static_cast<std::size_t>(p)];
      LimitNode ln;
      ln.parent = parent[ns];
      double total = 0;
      for (int p = 0; p < kPhases; ++p) {
        const auto ps = static_cast<std::size_t>(p);
        double measured = true_non_ev[ns][ps];
        for (std::size_t c = 0; c < chargers.size(); ++c)
          if (in_subtree(chargers[c].node, n)) measured += true_kw[c] * true_share(c, p);
        total += measured;
        if (u(rng) < 0.7) ln.phase_limit_kw[ps] = measured * 1.3 * u(rng);
        if (u(rng) < 0.6) ln.measured_phase_kw[ps] = measured;
        else ln.base_load_phase_kw[ps] = true_non_ev[ns][ps] * (1 + 0.2 * u(rng));
      }
      ln.limit_kw = total * (0.5 + u(rng));
      ln.measured_kw = total;
      nodes.push_back(ln);
    }
    const auto r = limit_setpoints(nodes, chargers);
    bool any_cut = false;
    for (std::size_t c = 0; c < chargers.size(); ++c) {
      if (!chargers[c].responsive) continue;
      EXPECT_LE(r.setpoint_kw[c], chargers[c].setpoint_kw + 1e-12);
      EXPECT_TRUE(r.setpoint_kw[c] == 0.0 || r.setpoint_kw[c] + 1e-9 >= chargers[c].min_kw) << "round " << round;
      any_cut = any_cut || r.setpoint_kw[c] < chargers[c].setpoint_kw;
    }
    for (int n = 0; n < node_count; ++n) {
      const auto ns = static_cast<std::size_t>(n);
      for (int p = 0; p < kPhases; ++p) {
        const auto ps = static_cast<std::size_t>(p);
        if (!nodes[ns].phase_limit_kw[ps]) continue;
        double load = true_non_ev[ns][ps];
        for (std::size_t c = 0; c < chargers.size(); ++c)
          if (in_subtree(chargers[c].node, n))
            load += (chargers[c].responsive ? r.setpoint_kw[c] : true_kw[c]) * true_share(c, p);
        const bool hopeless = std::find(r.overloads.begin(), r.overloads.end(), NodeOverload{n, p}) != r.overloads.end();
        if (hopeless) {
          ++hopeless_phases;
          for (std::size_t c = 0; c < chargers.size(); ++c)
            if (chargers[c].responsive && in_subtree(chargers[c].node, n) && phase_share(chargers[c].phases, p) > 0) {
              EXPECT_EQ(r.setpoint_kw[c], 0.0) << "round " << round;
            }
        } else {
          EXPECT_LE(load, *nodes[ns].phase_limit_kw[ps] + 1e-6) << "node " << n << " phase " << p << " round " << round;
        }
        EXPECT_LE(load, r.expected_node_phase_load_kw[ns][ps] + 1e-6) << "the estimate must not be optimistic";
      }
    }
    EXPECT_EQ(r.limits_hold, r.overloads.empty());
    cut_rounds += any_cut;
  }
  EXPECT_GT(cut_rounds, 800);
  EXPECT_GT(hopeless_phases, 100);
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

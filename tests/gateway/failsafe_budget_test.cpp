// The failsafe budget on plain configurations: which loads count on which limit, and which
// piles it names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/gateway/failsafe_budget.hpp"

namespace orderly::gateway {
namespace {

using testing::kSimpleTariff;
using ::testing::ElementsAre;
using ::testing::Field;

// 60 kW transformer, 20 kW per phase, one 30 kW feeder with a 10 kW board below it.
const std::string kSite = R"(
[site]
name = "Budget"
[site.transformer]
id = "T1"
limit_kw = 60
phase_a_limit_kw = 20
phase_b_limit_kw = 20
phase_c_limit_kw = 20

[[capacity]]
id = "feeder"
limit_kw = 30

[[capacity]]
id = "board"
parent = "feeder"
limit_kw = 10
)" + kSimpleTariff;

std::string pile(const std::string& id, const std::string& phase, const std::string& node, double max_kw,
                 double failsafe_a = 6) {
  return "\n[[charger]]\nid = \"" + id + "\"\nkind = \"shared\"\nphase = \"" + phase + "\"\nnode = \"" + node +
         "\"\nmax_power_kw = " + std::to_string(max_kw) + "\nfailsafe_current_a = " + std::to_string(failsafe_a) + "\n";
}

const FailsafeLimitBudget& limit_named(const FailsafeBudget& b, const std::string& name) {
  for (const auto& l : b.limits)
    if (l.limit == name) return l;
  ADD_FAILURE() << "no limit " << name;
  static const FailsafeLimitBudget none;
  return none;
}

auto all_failsafe = [](const ChargerConfig&) { return true; };

TEST(FailsafeBudget, PileLoadIsFailsafeCurrentAtNominalVoltageOnItsPhases) {
  ChargerConfig c;
  c.max_power_kw = 22;
  c.failsafe_current_a = 6;
  c.phase = Phase::A;
  EXPECT_DOUBLE_EQ(failsafe_kw(c, true), 6 * 230 / 1000.0);
  c.phase = Phase::ABC;
  EXPECT_DOUBLE_EQ(failsafe_kw(c, true), 3 * 6 * 230 / 1000.0);
  EXPECT_DOUBLE_EQ(failsafe_kw(c, false), 22);  // no failsafe: it may draw its maximum
  c.failsafe_current_a = 40;                      // above what the pile can draw
  EXPECT_DOUBLE_EQ(failsafe_kw(c, true), 22);
}

TEST(FailsafeBudget, EveryLimitCountsThePilesBelowIt) {
  const Config config = parse_config(kSite + pile("a1", "A", "board", 7) + pile("b1", "B", "feeder", 7) +
                                         pile("t1", "ABC", "T1", 11),
                                     "test.toml");
  const auto budget = failsafe_budget(config, all_failsafe, FailsafeBaseLoad{30.0, {}, {}});
  ASSERT_EQ(budget.limits.size(), 6u);  // transformer, its three phases, two nodes
  const double single = 1.38, three = 4.14;

  const auto& total = limit_named(budget, "transformer 'T1'");
  EXPECT_NEAR(total.piles_kw, 2 * single + three, 1e-9);
  EXPECT_NEAR(total.load_kw(), 30 + 2 * single + three, 1e-9);
  EXPECT_FALSE(total.over());
  EXPECT_THAT(total.piles, ElementsAre(Field(&FailsafePileLoad::id, "t1"), Field(&FailsafePileLoad::id, "a1"),
                                       Field(&FailsafePileLoad::id, "b1")));

  // A single-phase pile on its phase in full, a three-phase pile a third on each; the base load
  // a third on each when no per-phase figure is given.
  const auto& a = limit_named(budget, "transformer 'T1' phase A");
  EXPECT_NEAR(a.piles_kw, single + three / 3, 1e-9);
  EXPECT_NEAR(*a.base_kw, 10, 1e-9);
  const auto& c = limit_named(budget, "transformer 'T1' phase C");
  EXPECT_NEAR(c.piles_kw, three / 3, 1e-9);

  // The board's pile loads the feeder above it too; the transformer's pile loads neither.
  EXPECT_NEAR(limit_named(budget, "capacity node 'board'").piles_kw, single, 1e-9);
  EXPECT_NEAR(limit_named(budget, "capacity node 'feeder'").piles_kw, 2 * single, 1e-9);
  // No meter figure below a node: its assumed share of the transformer's peak (limit_kw over
  // the transformer's by default: 30 / 60 of 30 kW), never 0.
  EXPECT_NEAR(*limit_named(budget, "capacity node 'feeder'").base_kw, 15, 1e-9);
  EXPECT_NEAR(*limit_named(budget, "capacity node 'board'").base_kw, 5, 1e-9);
  EXPECT_FALSE(budget.over());
}

TEST(FailsafeBudget, NamesTheFewestLargestPilesThatCoverTheExcess) {
  // Phase A: 14 kW base + two piles without failsafe (7 kW each) + two 6 A piles = 30.76 kW on 20.
  const Config config = parse_config(kSite + pile("small1", "A", "T1", 7) + pile("big1", "A", "T1", 7) +
                                         pile("big2", "A", "T1", 7) + pile("small2", "A", "T1", 7),
                                     "test.toml");
  auto no_failsafe_for_big = [](const ChargerConfig& c) { return c.id.rfind("big", 0) != 0; };
  FailsafeBaseLoad base;
  base.transformer_peak_kw = 30;
  base.phase_peak_kw[0] = 14;
  const auto budget = failsafe_budget(config, no_failsafe_for_big, base);
  EXPECT_TRUE(budget.over());
  const auto& a = limit_named(budget, "transformer 'T1' phase A");
  ASSERT_TRUE(a.over());
  EXPECT_NEAR(a.excess_kw(), 14 + 14 + 2 * 1.38 - 20, 1e-9);
  // 10.76 kW over: the two 7 kW piles cover it; the 1.38 kW ones would not help much.
  EXPECT_THAT(a.to_fix, ElementsAre(Field(&FailsafePileLoad::id, "big1"), Field(&FailsafePileLoad::id, "big2")));
  EXPECT_FALSE(a.to_fix[0].has_failsafe);
  EXPECT_EQ(describe_piles(a.to_fix),
            "big1 7 kW (no failsafe: counted at its maximum), big2 7 kW (no failsafe: counted at its maximum)");
  // Phase B is empty of piles and within its share of the base load.
  EXPECT_FALSE(limit_named(budget, "transformer 'T1' phase B").over());
  EXPECT_TRUE(limit_named(budget, "transformer 'T1' phase B").to_fix.empty());
}

TEST(FailsafeBudget, UnknownBaseLoadCountsPilesAloneAndSaysSo) {
  const Config config = parse_config(kSite + pile("a1", "A", "T1", 7), "test.toml");
  const auto budget = failsafe_budget(config, all_failsafe, FailsafeBaseLoad{});
  for (const auto& l : budget.limits) EXPECT_FALSE(l.base_kw.has_value()) << l.limit;
  EXPECT_NEAR(limit_named(budget, "transformer 'T1'").load_kw(), 1.38, 1e-9);
}

TEST(FailsafeBudget, DrLimitReplacesTheConfiguredTransformerLimit) {
  const Config config = parse_config(kSite + pile("t1", "ABC", "T1", 22, 32), "test.toml");
  const auto budget = failsafe_budget(config, all_failsafe, FailsafeBaseLoad{10.0, {}, {}}, 25.0);
  const auto& total = limit_named(budget, "transformer 'T1'");
  EXPECT_EQ(total.limit_kw, 25);
  EXPECT_NEAR(total.load_kw(), 32, 1e-9);  // 22 kW pile (32 A x 3 capped at its maximum) + 10
  EXPECT_THAT(total.to_fix, ElementsAre(Field(&FailsafePileLoad::id, "t1")));
}

TEST(FailsafeBudget, NodeBaseLoadComesFromTheCallerWhenKnown) {
  const Config config = parse_config(kSite + pile("a1", "A", "board", 7, 32), "test.toml");
  FailsafeBaseLoad base;
  base.node_peak_kw = [](const std::string& id) -> std::optional<double> {
    return id == "board" ? std::optional<double>(4.0) : std::nullopt;
  };
  const auto budget = failsafe_budget(config, all_failsafe, base);
  const auto& board = limit_named(budget, "capacity node 'board'");
  EXPECT_NEAR(board.load_kw(), 4 + 7, 1e-9);
  EXPECT_TRUE(board.over());
  EXPECT_FALSE(limit_named(budget, "capacity node 'feeder'").over());
}

TEST(FailsafeBudget, PhaseBaseLoadFollowsTheSplitAndNodesHaveTheirPhaseLimits) {
  std::string site = kSite;
  const auto after = [&site](const std::string& line, const std::string& added) {
    site.insert(site.find(line) + line.size(), added);
  };
  after("phase_c_limit_kw = 20\n", "base_load_phase_split = [0.5, 0.25, 0.25]\n");
  after("id = \"feeder\"\nlimit_kw = 30\n", "phase_a_limit_kw = 9\nbase_load_phase_split = [0.2, 0.4, 0.4]\n");
  const Config config = parse_config(site + pile("a1", "A", "board", 7) + pile("t1", "ABC", "feeder", 11), "test.toml");
  FailsafeBaseLoad base;
  base.transformer_peak_kw = 30;
  base.node_peak_kw = [](const std::string& id) -> std::optional<double> {
    return id == "feeder" ? std::optional<double>(20.0) : std::nullopt;
  };
  const auto budget = failsafe_budget(config, all_failsafe, base);
  // The transformer's 30 kW split 50/25/25, not in thirds.
  EXPECT_NEAR(*limit_named(budget, "transformer 'T1' phase A").base_kw, 15, 1e-9);
  EXPECT_NEAR(*limit_named(budget, "transformer 'T1' phase B").base_kw, 7.5, 1e-9);
  // The feeder's phase A: its 20 kW split by its own 20 % on A, the board's phase-A pile in full
  // (it hangs below) and a third of the three-phase pile: 4 + 1.38 + 1.38 = 6.76 of 9.
  const auto& fa = limit_named(budget, "capacity node 'feeder' phase A");
  EXPECT_NEAR(*fa.base_kw, 4, 1e-9);
  EXPECT_NEAR(fa.piles_kw, 1.38 + 4.14 / 3, 1e-9);
  EXPECT_FALSE(fa.over());
  // Listed right after its node.
  for (std::size_t i = 0; i + 1 < budget.limits.size(); ++i)
    if (budget.limits[i].limit == "capacity node 'feeder'") {
      EXPECT_EQ(budget.limits[i + 1].limit, fa.limit);
    }
}

}  // namespace
}  // namespace orderly::gateway

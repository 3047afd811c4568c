// What a dead gateway leaves behind: the gateway sets each native pile's failsafe current and
// communication timeout when it comes online; once the gateway has stopped, the pile falls
// back to that current after the timeout, long before its last limit's validity runs out. The
// live status shows the failsafe budget the piles add up to.
#include <gtest/gtest.h>

#include <cmath>

#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_charger.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

TEST(FailsafeSystem, PileDropsToItsFailsafeCurrentAfterTheTimeoutOnceTheGatewayStops) {
  test::TempDir dir;
  auto broker = sim::MosquittoBroker::start();
  // Gateway and pile share a manual clock, frozen at a Monday noon (site time) while the gateway
  // runs, so no limit lapses and nothing depends on the time of day; "30 s without a limit" is
  // then a step of the test, not a wait.
  ManualClock pile_clock(std::chrono::sys_days(std::chrono::year{2026} / 1 / 5) + 4h);
  const Clock& gateway_clock = pile_clock;
  // Limits valid for 50 s (refreshed every 25 s), piles told to give up after 30 s; c1 falls
  // back to 10 A, the [control] default being 8 A.
  const std::string config_text =
      test::site_toml({.mqtt_port = broker->port(),
                       .db = dir / "orderly.db",
                       .control = "control_period_s = 1\nlimit_validity_s = 50\nfailsafe_timeout_s = 30\n"
                                  "failsafe_current_a = 8\nsafety_margin_kw = 2\n"}) +
      "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n"
      "[[charger]]\nid = \"c1\"\nkind = \"shared\"\nphase = \"A\"\ndriver = \"mqtt\"\nmax_power_kw = 7\n"
      "failsafe_current_a = 10\n";
  auto site = std::make_unique<test::RunningGateway>(gateway_clock, gateway::parse_config(config_text, "test.toml"));
  sim::SimMqttMeter meter("tm-1", "127.0.0.1", broker->port(), gateway_clock, [](TimePoint) { return 20'000.0; },
                          200ms);
  meter.start();
  sim::SimChargerOptions o;
  o.id = "c1";
  o.port = broker->port();
  o.publish_period = 200ms;
  sim::SimMqttCharger pile(o, pile_clock);
  pile.start();

  ASSERT_TRUE(test::wait_until([&] { return pile.failsafe_power_w() == 10 * 230.0; }, 15s))
      << "the gateway never set c1's failsafe; pile falls back to " << pile.failsafe_power_w() << " W";
  pile.plug_in(30'000, 7'000);
  ASSERT_EQ(test::boost_when_plugged(site->io(), site->gateway(), "c1"), "");
  ASSERT_TRUE(test::wait_until([&] { return std::fabs(pile.limit_w() - 7000) < 1 && !pile.in_failsafe(); }, 15s))
      << "limit " << pile.limit_w() << " W";

  // The live budget: the base-load peak the gateway knows (the plan's forecast, else the 20 kW
  // of non-EV load measured; no peak is configured) plus c1 at 10 A on phase A.
  const auto budget = test::on_core(site->io(), [&] { return site->gateway().status()["failsafe_budget"]; });
  ASSERT_TRUE(budget.is_object()) << budget.dump();
  const auto& total = budget["limits"][0];
  EXPECT_EQ(total["limit"], "transformer 'transformer'");
  EXPECT_EQ(total["piles_kw"], 2.3) << budget.dump();
  EXPECT_FALSE(budget["base_load_peak_kw"].is_null()) << budget.dump();
  EXPECT_NE(budget["base_load_source"], "none");
  EXPECT_NEAR(total["load_kw"].get<double>(), budget["base_load_peak_kw"].get<double>() + 2.3, 0.011);
  EXPECT_EQ(budget["over"], false) << budget.dump();

  site->stop();
  site.reset();
  ASSERT_TRUE(test::wait_until([&] { return pile.power_w() > 6900; }, 5s))
      << "the stopped gateway's last limit should hold: " << pile.power_w() << " W, limit " << pile.limit_w() << " W";
  pile_clock.advance(29s);
  EXPECT_FALSE(pile.in_failsafe()) << "within the timeout the last limit holds";
  EXPECT_NEAR(pile.power_w(), 7000, 1);
  pile_clock.advance(2s);
  EXPECT_TRUE(pile.in_failsafe()) << "30 s without a limit: the pile must fall back, its 50 s validity or not";
  EXPECT_NEAR(pile.power_w(), 10 * 230.0, 1e-6);
  EXPECT_EQ(pile.failsafe_entries(), 1u);
  pile.stop();
  meter.stop();
}

}  // namespace
}  // namespace orderly

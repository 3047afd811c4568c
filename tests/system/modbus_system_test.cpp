// Profile-driven devices in the running gateway: a KEBA pile and an Eastron SDM630 transformer
// meter served by the libmodbus simulator over real Modbus TCP, configured only through
// [[modbus.bus]] and driver = "profile" entries.
#include <gtest/gtest.h>

#include <cmath>


#include "orderly/drivers/profile.hpp"
#include "orderly/sim/modbus_sim.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

TEST(ModbusSystem, ProfileChargerIsLimitedFromAProfileMeterAndGetsItsFailsafe) {
  test::TempDir dir;
  RealClock clock;
  const auto profiles = drivers::ProfileCatalog::load_dir(test::source_dir() / "drivers" / "profiles");
  sim::ModbusSimServer sim(clock);
  sim.add_device(1, profiles.at("keba-p30"));
  sim.add_device(2, profiles.at("eastron-sdm630"));
  sim.set_meter_power(2, 20'000);
  sim.start();
  auto broker = sim::MosquittoBroker::start();  // the gateway's MQTT side stays up too

  const std::string toml =
      test::site_toml({.name = "modbus site",
                       .mqtt_port = broker->port(),
                       .db = dir / "orderly.db",
                       .control = "control_period_s = 1\nlimit_validity_s = 60\nfailsafe_current_a = 6\n"
                                  "failsafe_timeout_s = 60\n"}) +
      "[[modbus.bus]]\nid = \"sim\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(sim.port()) +
      "\ntimeout_ms = 500\ninter_request_gap_ms = 5\n"
      "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"profile\"\nprofile = \"eastron-sdm630\"\n"
      "bus = \"sim\"\nunit_id = 2\npoll_interval_ms = 200\n"
      "[[charger]]\nid = \"keba-1\"\nkind = \"shared\"\nphase = \"ABC\"\ndriver = \"profile\"\nprofile = \"keba-p30\"\n"
      "bus = \"sim\"\nunit_id = 1\npoll_interval_ms = 200\nmax_power_kw = 11\n";
  const auto config = gateway::parse_config(toml, "modbus.toml", &profiles);

  gateway::GatewayOptions options;
  options.profile_dir = test::source_dir() / "drivers" / "profiles";
  test::RunningGateway site(clock, config, options);

  // Failsafe configured on start, from the site's settings (KEBA: fallback current + timeout).
  EXPECT_TRUE(test::wait_until([&] { return std::fabs(sim.point_value(1, "failsafe_current_a") - 6) < 0.01; }, 10s))
      << sim.point_value(1, "failsafe_current_a");

  // A car arrives; the transformer has room: the pile is allowed its 16 A and draws it.
  sim.plug_car(1, 16);
  EXPECT_EQ(test::boost_when_plugged(site.io(), site.gateway(), "keba-1"), "") << "the limiter is under test, not the plan: charge now";
  EXPECT_TRUE(test::wait_until([&] { return sim.drawn_current_a(1) > 15.5; }, 15s)) << sim.drawn_current_a(1);

  // The metered load jumps above the limit: the pile is paused within the control period.
  sim.set_meter_power(2, 60'000);
  EXPECT_TRUE(test::wait_until([&] { return sim.drawn_current_a(1) == 0; }, 10s)) << sim.drawn_current_a(1);

  site.stop();
  sim.stop();
}

}  // namespace
}  // namespace orderly

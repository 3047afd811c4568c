// Every shipped Modbus charger profile driven the way a site drives it: through orderly.toml
// ([[modbus.bus]] and driver = "profile", no unit_id) into a running Gateway, each pile served
// by the simulator at the unit id its profile (from its vendor document) names, KEBA P30/P40
// and Webasto Next at 255. A pile behind an RS-485 gateway configured at a unit nobody answers
// on is reported offline with the unit in its error, never online.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/sim/modbus_sim.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string bus_toml(const std::string& id, std::uint16_t port) {
  return "[[modbus.bus]]\nid = \"" + id + "\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\ntimeout_ms = 300\ninter_request_gap_ms = 5\n";
}

std::string charger_toml(const std::string& id, const std::string& profile, const std::string& bus,
                         const drivers::DeviceProfile& p, const std::string& extra = "") {
  return "[[charger]]\nid = \"" + id + "\"\nkind = \"shared\"\nphase = \"" +
         (p.capabilities.phases == 3 ? "ABC" : "A") + "\"\ndriver = \"profile\"\nprofile = \"" + profile +
         "\"\nbus = \"" + bus + "\"\npoll_interval_ms = 200\nmax_power_kw = " +
         (p.capabilities.phases == 3 ? "11" : "7") + "\n" + extra;
}

TEST(SiteUnits, EveryShippedModbusChargerIsReachedAtItsProfilesUnitAndAWrongUnitIsNeverOnline) {
  test::TempDir dir;
  RealClock clock;
  const auto profiles_dir = test::source_dir() / "drivers" / "profiles";
  const auto profiles = drivers::ProfileCatalog::load_dir(profiles_dir);
  auto broker = sim::MosquittoBroker::start();

  std::string devices;
  std::map<std::string, std::unique_ptr<sim::ModbusSimServer>> sims;  // by charger id
  std::map<std::string, int> units;
  for (const auto& [id, p] : profiles.all()) {
    if (p.kind != drivers::DeviceKind::charger ||
        (p.transport != drivers::Transport::modbus_tcp && p.transport != drivers::Transport::modbus_rtu))
      continue;
    auto s = std::make_unique<sim::ModbusSimServer>(clock);
    s->add_device(p.modbus.unit_id, p);
    s->start();
    // One pile's communication timeout set by the site, beside [control]'s 120 s for the rest.
    devices += bus_toml("bus-" + id, s->port()) +
               charger_toml(id, id, "bus-" + id, p, id == "keba-p30" ? "failsafe_timeout_s = 45\n" : "");
    units[id] = p.modbus.unit_id;
    sims.emplace(id, std::move(s));
  }
  ASSERT_GE(units.size(), 5u) << "fewer shipped Modbus charger profiles than expected";
  ASSERT_EQ(units.at("keba-p30"), 255);
  ASSERT_EQ(units.at("webasto-next"), 255);

  // The transformer meter at its profile's unit too.
  sim::ModbusSimServer meter_sim(clock);
  meter_sim.add_device(profiles.at("eastron-sdm630").modbus.unit_id, profiles.at("eastron-sdm630"));
  meter_sim.start();
  devices += bus_toml("bus-meter", meter_sim.port()) +
             "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"profile\"\nprofile = \"eastron-sdm630\"\n"
             "bus = \"bus-meter\"\npoll_interval_ms = 200\n";

  // A KEBA P30 behind an RS-485 gateway that answers exception 11 for units without a device,
  // configured at unit 1 as every site was forced to before.
  sim::ModbusSimServer gateway_sim(clock);
  gateway_sim.add_device(255, profiles.at("keba-p30"));
  gateway_sim.set_unknown_unit_exception(11);
  gateway_sim.start();
  devices += bus_toml("bus-gw", gateway_sim.port()) +
             charger_toml("wrong-unit", "keba-p30", "bus-gw", profiles.at("keba-p30"), "unit_id = 1\n");

  const std::string toml = test::site_toml({.name = "units", .limit_kw = 500, .mqtt_port = broker->port(),
                                            .db = dir / "orderly.db"}) + devices;
  const auto config = gateway::parse_config(toml, "units.toml", &profiles);
  for (const auto& c : config.chargers)
    EXPECT_EQ(c.unit_id.has_value(), c.id == "wrong-unit") << c.id << ": the site sets a unit only where it says one";

  gateway::GatewayOptions options;
  options.profile_dir = profiles_dir;
  test::RunningGateway site(clock, config, options);

  auto chargers = [&] {
    std::map<std::string, nlohmann::json> by_id;
    const auto status = test::on_core(site.io(), [&] { return site.gateway().status(); });
    for (const auto& c : status["chargers"]) by_id[c["id"].get<std::string>()] = c;
    return by_id;
  };
  std::map<std::string, nlohmann::json> seen;
  const bool all_online = test::wait_until([&] {
    seen = chargers();
    for (const auto& [id, unit] : units)
      if (!seen[id].value("online", false)) return false;
    return true;
  }, 30s);
  std::string shown;
  for (const auto& [id, c] : seen) shown += id + ": " + c.dump() + "\n";
  EXPECT_TRUE(all_online) << shown;
  for (const auto& [id, s] : sims) {
    bool asked_at_profile_unit = false;
    for (const auto& r : s->request_log()) asked_at_profile_unit |= r.answered && r.unit_id == units.at(id);
    EXPECT_TRUE(asked_at_profile_unit) << id << " was never answered at unit " << units.at(id);
  }

  EXPECT_TRUE(test::wait_until([&] {
    return sims.at("keba-p30")->point_value(255, "failsafe_timeout_s") == 45 &&
           sims.at("keba-p40")->point_value(255, "failsafe_timeout_s") == 120;
  }, 10s)) << "KEBA P30 timeout " << sims.at("keba-p30")->point_value(255, "failsafe_timeout_s") << " s, P40 "
           << sims.at("keba-p40")->point_value(255, "failsafe_timeout_s") << " s";

  // The wrong-unit pile was asked all this time and answered by its gateway only with exceptions.
  ASSERT_TRUE(test::wait_until([&] { return !chargers()["wrong-unit"].value("error", std::string()).empty(); }, 10s));
  const auto wrong = chargers()["wrong-unit"];
  EXPECT_FALSE(wrong["online"].get<bool>()) << wrong.dump();
  EXPECT_EQ(wrong["state"], "offline");
  EXPECT_THAT(wrong["error"].get<std::string>(), HasSubstr("on unit 1: Modbus exception 11"));
  bool wrong_ever_online = false;
  for (const auto& r : gateway_sim.request_log()) wrong_ever_online |= r.unit_id == 255;
  EXPECT_FALSE(wrong_ever_online) << "nothing should have asked unit 255 on that bus";

  site.stop();
}

}  // namespace
}  // namespace orderly

// A whole Gateway driving an OpenEVSE-style pile from nothing but its profile
// (drivers/profiles/openevse.toml) and a [[charger]] entry, beside a native MQTT transformer
// meter, all through a real Mosquitto broker.
#include <gtest/gtest.h>

#include <cmath>


#include "orderly/drivers/profile.hpp"
#include "orderly/sim/mosquitto_broker.hpp"
#include "orderly/sim/mqtt_meter.hpp"
#include "orderly/sim/profile_mqtt_charger.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/gateway.hpp"
#include "orderly/test/gateway_support.hpp"
#include "orderly/test/support.hpp"

namespace orderly {
namespace {

using namespace std::chrono_literals;

std::string site_config(int mqtt_port, const std::filesystem::path& db, const std::string& charger_extra) {
  return test::site_toml({.name = "openevse site", .mqtt_port = mqtt_port, .db = db}) +
         "[[meter]]\nid = \"tm-1\"\nrole = \"transformer\"\ndriver = \"mqtt\"\n"
         "[[charger]]\nid = \"evse-1\"\nkind = \"shared\"\nphase = \"A\"\ndriver = \"profile\"\nprofile = \"openevse\"\n"
         "max_power_kw = 7\n" + charger_extra;
}

TEST(MqttProfileSystem, OpenEvsePileIsLimitedAndPausedFromTheTransformerLoad) {
  test::TempDir dir;
  RealClock clock;
  const auto profiles = drivers::ProfileCatalog::load_dir(test::source_dir() / "drivers" / "profiles");
  auto broker = sim::MosquittoBroker::start();
  const auto config = gateway::parse_config(
      site_config(broker->port(), dir / "orderly.db", "mqtt_base_topic = \"openevse-ab12\"\n"), "openevse.toml", &profiles);
  ASSERT_EQ(config.chargers.at(0).mqtt_base_topic, "openevse-ab12");

  gateway::GatewayOptions options;
  options.profile_dir = test::source_dir() / "drivers" / "profiles";
  test::RunningGateway site(clock, config, options);

  sim::SimMqttMeter meter("tm-1", "127.0.0.1", broker->port(), clock, [](TimePoint) { return 20'000.0; }, 200ms);
  meter.start();
  sim::SimProfileChargerOptions so;
  so.id = "evse-1";
  so.port = broker->port();
  so.base_topic = "openevse-ab12";
  so.publish_period = 200ms;
  sim::SimProfileMqttCharger pile(so, profiles.at("openevse"), clock);
  pile.start();
  pile.plug_in(20'000, 7'000);
  // The limiter is under test, not the plan: "charge now", whatever the hour.
  EXPECT_EQ(test::boost_when_plugged(site.io(), site.gateway(), "evse-1"), "");

  // Headroom 50 - 2 margin - 20 base = 28 kW: the car gets its 7 kW, claimed as floor(7000/230) = 30 A.
  EXPECT_TRUE(test::wait_until([&] { return pile.claims_received() > 0 && pile.claimed_current_a() == 30; }, 15s))
      << "claims " << pile.claims_received() << ", claimed " << pile.claimed_current_a() << " A; broker log:\n"
      << broker->log();
  EXPECT_TRUE(test::wait_until([&] { return pile.power_w() > 6800; }, 10s)) << pile.power_w();

  // The base load rises to 50 kW: no headroom; the pile is paused with a 0 A claim.
  meter.set_base_load_offset_w(30'000);
  EXPECT_TRUE(test::wait_until([&] { return pile.claimed_current_a() == 0 && pile.power_w() == 0; }, 10s))
      << pile.claimed_current_a() << " A, " << pile.power_w() << " W";

  pile.stop();
  meter.stop();
  site.stop();
}

TEST(MqttProfileSystem, BaseTopicIsValidated) {
  const auto profiles = drivers::ProfileCatalog::load_dir(test::source_dir() / "drivers" / "profiles");
  test::TempDir dir;
  const auto with = [&](const std::string& extra, const std::string& profile_line = "") {
    std::string text = site_config(1883, dir / "o.db", extra);
    if (!profile_line.empty()) text.replace(text.find("profile = \"openevse\""), 20, profile_line);
    return text;
  };
  // An MQTT profile charger needs no bus, and the base topic defaults to the profile's.
  EXPECT_TRUE(gateway::parse_config(with(""), "ok.toml", &profiles).chargers.at(0).mqtt_base_topic.empty());
  const auto error_of = [&](const std::string& text) {
    try {
      gateway::parse_config(text, "bad.toml", &profiles);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(error_of(with("mqtt_base_topic = \"openevse/#\"\n")).find("mqtt_base_topic"), std::string::npos);
  const std::string modbus = error_of(with("mqtt_base_topic = \"x\"\nbus = \"b\"\n", "profile = \"keba-p30\"") +
                                      "[[modbus.bus]]\nid = \"b\"\ntransport = \"tcp\"\nhost = \"127.0.0.1\"\n");
  EXPECT_NE(modbus.find("not MQTT; remove mqtt_base_topic"), std::string::npos) << modbus;
  const std::string native = error_of(with("").replace(with("").find("driver = \"profile\"\nprofile = \"openevse\"\n"),
                                                       40, "driver = \"mqtt\"\nmqtt_base_topic = \"y\"\n"));
  EXPECT_NE(native.find("mqtt_base_topic"), std::string::npos) << native;
}

}  // namespace
}  // namespace orderly

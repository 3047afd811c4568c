// Profiles: every shipped profile loads and cites its documents; malformed profiles fail with
// every problem at once, each with file:line:column: key and what to do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/drivers/profile.hpp"
#include "orderly/test/support.hpp"

namespace orderly::drivers {
namespace {

using ::testing::HasSubstr;

std::filesystem::path profiles_dir() { return orderly::test::source_dir() / "drivers" / "profiles"; }

TEST(Profiles, EveryShippedProfileLoadsAndCitesItsDocuments) {
  const auto catalog = ProfileCatalog::load_dir(profiles_dir());
  for (const char* id : {"abb-terra-ac", "heidelberg-energy-control", "webasto-next", "keba-p30", "keba-p40",
                         "openevse", "eastron-sdm630", "eastron-sdm120", "chint-dtsu666", "dlt645-2007-meter"}) {
    const DeviceProfile* p = catalog.find(id);
    ASSERT_NE(p, nullptr) << "missing shipped profile " << id;
    EXPECT_FALSE(p->documents.empty()) << id;
    EXPECT_FALSE(p->manufacturer.empty()) << id;
  }
}

TEST(Profiles, ChargerFailsafeCapabilityFollowsTheProfile) {
  const auto catalog = ProfileCatalog::load_dir(profiles_dir());
  EXPECT_TRUE(catalog.at("heidelberg-energy-control").capabilities.failsafe);
  EXPECT_TRUE(catalog.at("webasto-next").capabilities.failsafe);
  EXPECT_TRUE(catalog.at("keba-p30").capabilities.failsafe);
  EXPECT_FALSE(catalog.at("abb-terra-ac").capabilities.failsafe);
  EXPECT_FALSE(catalog.at("openevse").capabilities.failsafe);
  EXPECT_EQ(catalog.at("webasto-next").failsafe.keepalive, Keepalive::heartbeat);
}

TEST(Profiles, ModbusPointsCarryAddressTypeAndScale) {
  const auto catalog = ProfileCatalog::load_dir(profiles_dir());
  const auto& sdm = catalog.at("eastron-sdm630");
  EXPECT_EQ(sdm.transport, Transport::modbus_rtu);
  const PointDef* power = sdm.point("power_w");
  ASSERT_NE(power, nullptr);
  EXPECT_EQ(power->address, 0x0034);
  EXPECT_EQ(power->table, RegisterTable::input);
  EXPECT_EQ(power->type, ValueType::float32);
  EXPECT_EQ(sdm.point("import_energy_wh")->scale, 1000);
  const auto& abb = catalog.at("abb-terra-ac");
  EXPECT_EQ(abb.point("set_current_a")->address, 0x4100);
  EXPECT_TRUE(abb.point("set_current_a")->writable);
  EXPECT_FALSE(abb.point("set_current_a")->readable);
  EXPECT_EQ(abb.point("state")->value_map.at(4), "charging");
}

TEST(Profiles, Dlt645AndMqttSectionsParse) {
  const auto catalog = ProfileCatalog::load_dir(profiles_dir());
  const auto& dlt = catalog.at("dlt645-2007-meter");
  EXPECT_EQ(dlt.dlt645_points.at("power_w").di, 0x02030000u);
  EXPECT_EQ(dlt.dlt645_points.at("import_energy_wh").di, 0x00010000u);
  const auto& evse = catalog.at("openevse");
  ASSERT_TRUE(evse.mqtt.has_value());
  EXPECT_EQ(evse.mqtt->read.at("current_l1_a").topic, "{base}/amp");
  EXPECT_EQ(evse.mqtt->write.at("set_current_a").json_path, "charge_current");
}

const char* kMinimalMeter = R"(
[device]
kind = "meter"
manufacturer = "x"
model = "y"
documents = ["z"]
[transport]
type = "modbus-tcp"
[points.power_w]
address = 1
)";

// How a device leaves the factory is known only where its profile says it: the bus decides what
// is used, and the configuration check compares the two.
TEST(Profiles, FactorySettingsAreKeptOnlyWhereTheProfileGivesThem) {
  const auto catalog = ProfileCatalog::load_dir(profiles_dir());
  const auto& heidelberg = catalog.at("heidelberg-energy-control").modbus;
  ASSERT_TRUE(heidelberg.factory_serial.has_value());
  EXPECT_EQ(heidelberg.factory_serial->describe(), "19200 8E1");
  EXPECT_FALSE(heidelberg.factory_tcp_port.has_value());
  const auto& keba = catalog.at("keba-p30").modbus;
  EXPECT_FALSE(keba.factory_serial.has_value());
  ASSERT_TRUE(keba.factory_tcp_port.has_value());
  EXPECT_EQ(*keba.factory_tcp_port, 502);
}

TEST(Profiles, MinimalProfileGetsDefaults) {
  auto p = parse_profile(kMinimalMeter, "meters/x.toml");
  EXPECT_EQ(p.id, "x");
  EXPECT_EQ(p.modbus.unit_id, 1);
  EXPECT_EQ(p.point("power_w")->table, RegisterTable::holding);
  EXPECT_EQ(p.point("power_w")->type, ValueType::u16);
}

TEST(Profiles, ErrorsNameFileLineAndKey) {
  std::string text = kMinimalMeter;
  text += "\n[points.bad]\naddress = 70000\n";
  try {
    parse_profile(text, "bad.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.toml:13:11: points.bad.address"));
    EXPECT_THAT(e.what(), HasSubstr("0..65535"));
  }
}

// Found writing the profile_toml fuzz target (its corpus keeps the input): shift and mask were
// read as any number and cast, so shift = -1 or 1e30 was undefined behaviour and shift = 64
// shifted every value to garbage.
TEST(Profiles, ShiftAndMaskMustBeBitLayouts) {
  for (const char* bad : {"shift = -1", "shift = 64", "shift = 1e30", "shift = 2.5", "mask = -1", "mask = 1e30"}) {
    std::string text = kMinimalMeter;
    text += std::string("\n[points.status]\naddress = 2\n") + bad + "\n";
    try {
      parse_profile(text, "bits.toml");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ProfileError& e) {
      EXPECT_THAT(e.what(), HasSubstr("bits.toml:14:")) << bad;
      EXPECT_THAT(e.what(), HasSubstr(std::string("points.status.") + (bad[0] == 's' ? "shift" : "mask"))) << bad;
    }
  }
  std::string ok = kMinimalMeter;
  ok += "\n[points.status]\naddress = 2\nshift = 63\nmask = 0xFF\n";
  const auto p = parse_profile(ok, "bits.toml");
  EXPECT_EQ(p.points.at("status").shift, 63u);
  EXPECT_EQ(p.points.at("status").mask, 0xFFu);
}

TEST(Profiles, UnknownTypeListsTheChoices) {
  std::string text = kMinimalMeter;
  text += "type = \"int16\"\n";
  try {
    parse_profile(text, "t.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("points.power_w.type"));
    EXPECT_THAT(e.what(), HasSubstr("'int16' is not one of: u16, s16"));
  }
}

TEST(Profiles, SyntaxErrorsCarryTheLine) {
  try {
    parse_profile("[device]\nkind = \n", "s.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("s.toml:2:"));
  }
}

TEST(Profiles, ChargerWithoutWritableSetpointIsRejected) {
  std::string text = R"(
[device]
kind = "charger"
manufacturer = "x"
model = "y"
documents = ["z"]
[transport]
type = "modbus-tcp"
[points.set_current_a]
address = 5
)";
  try {
    parse_profile(text, "c.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("c.toml:9:1: points.set_current_a: a charger needs a writable set_current_a point"));
  }
}

TEST(Profiles, EveryProblemOfAFileIsReportedAtOnceInFileOrder) {
  const std::string text = R"(
[device]
kind = "meter"
manufacturer = "x"
documents = ["z"]
[transport]
type = "modbus-tcp"
unit_id = 300
[points.power_w]
address = 1
type = "int16"
[points.voltage_l1_v]
address = 70000
)";
  try {
    parse_profile(text, "many.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_EQ(std::string(e.what()),
              "many.toml:2:1: device: missing required key 'model' (the model's name)\n"
              "many.toml:8:11: transport.unit_id: must be 0..255\n"
              "many.toml:11:8: points.power_w.type: 'int16' is not one of: u16, s16, u32, s32, float32, "
              "float64, string, coil, bcd16, bcd32\n"
              "many.toml:13:11: points.voltage_l1_v.address: must be an integer 0..65535 (0-based protocol "
              "address)");
  }
}

TEST(Profiles, UnknownKeyIsRejectedWithItsPositionAndASuggestion) {
  std::string text = kMinimalMeter;
  text += "scael = 0.1\n";
  try {
    parse_profile(text, "typo.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("typo.toml:11:1: unknown key 'scael' in [points.power_w]; expected one of: "
                                    "function, type, registers, address,"));
    EXPECT_THAT(e.what(), HasSubstr("(did you mean 'scale'?)"));
  }
}

TEST(Profiles, UnknownSectionIsRejected) {
  std::string text = kMinimalMeter;
  text += "[capabilites]\nphases = 3\n";
  try {
    parse_profile(text, "sec.toml");
    FAIL() << "expected a ProfileError";
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sec.toml:11:2: unknown key 'capabilites' in the top level; expected one of: "
                                    "device, transport, capabilities,"));
    EXPECT_THAT(e.what(), HasSubstr("(did you mean 'capabilities'?)"));
  }
}

TEST(Profiles, InputRegistersCannotBeWritable) {
  std::string text = kMinimalMeter;
  text += "function = 4\naccess = \"rw\"\n";
  EXPECT_THROW(parse_profile(text, "w.toml"), ProfileError);
}

TEST(Profiles, CatalogAtListsKnownIds) {
  ProfileCatalog c;
  c.add(parse_profile(kMinimalMeter, "m.toml"));
  try {
    c.at("nope");
    FAIL();
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.what(), HasSubstr("known profiles: m"));
  }
}

}  // namespace
}  // namespace orderly::drivers

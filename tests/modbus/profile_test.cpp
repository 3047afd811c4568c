// Profiles: every shipped profile loads and cites its documents; malformed profiles fail with
// every problem at once, each with file:line:column: key and what to do.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/drivers/mqtt_payload.hpp"
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

const std::string kMqttCharger = R"(
[device]
kind = "charger"
manufacturer = "x"
model = "y"
documents = ["z"]
[transport]
type = "mqtt"
[mqtt]
base_topic = "b"
[mqtt.read.power_w]
topic = "{base}/data"
json_path = "values[11]"
[mqtt.write.set_current_a]
topic = "{base}/set"
json_path = "amp"
)";

// Every problem of a profile text, as ProfileError says them ("" when it parses).
std::string profile_errors(const std::string& text, const std::string& file = "m.toml") {
  try {
    parse_profile(text, file);
  } catch (const ProfileError& e) {
    return e.what();
  }
  return "";
}

// The typo the issue names: a misspelt key is refused wherever it stands, [defaults] and the
// MQTT sections included, not left to make the point big-endian in silence.
TEST(Profiles, AMisspeltKeyIsRefusedInEverySection) {
  for (const auto& [text, where] : {std::pair{std::string(kMinimalMeter) + "word_ordr = \"little\"\n", "[points.power_w]"},
                                    std::pair{std::string(kMinimalMeter) + "[defaults]\nword_ordr = \"little\"\n",
                                              "[defaults]"}}) {
    const std::string errors = profile_errors(text);
    EXPECT_THAT(errors, HasSubstr(std::string("unknown key 'word_ordr' in ") + where)) << errors;
    EXPECT_THAT(errors, HasSubstr("(did you mean 'word_order'?)"));
  }
  EXPECT_THAT(profile_errors(kMqttCharger + "jsn_path = \"p\"\n"),
              HasSubstr("m.toml:17:1: unknown key 'jsn_path' in [mqtt.write.set_current_a]"));
  EXPECT_THAT(profile_errors(kMqttCharger + "[mqtt.availability]\ntopik = \"x\"\n"),
              HasSubstr("m.toml:18:1: unknown key 'topik' in [mqtt.availability]"));
}

// A station unit beside a socket unit, a state as text, "not available" as NaN.
TEST(Profiles, PointUnitStringStatesAndNanSentinelParse) {
  std::string text = kMinimalMeter;
  text += "type = \"float32\"\nsentinels = [nan, -1]\nunit_id = 200\n"
          "[points.state]\naddress = 10\ntype = \"string\"\nregisters = 5\n"
          "map = { \"Charging\" = \"charging\", \"Available\" = \"unplugged\" }\n";
  const auto p = parse_profile(text, "x.toml");
  const PointDef& power = p.points.at("power_w");
  ASSERT_EQ(power.unit_id, 200);
  EXPECT_TRUE(power.not_available(std::nan("")));
  EXPECT_TRUE(power.not_available(-1));
  EXPECT_FALSE(power.not_available(0));
  const PointDef& state = p.points.at("state");
  EXPECT_FALSE(state.unit_id.has_value()) << "a point without unit_id is on the device's unit";
  EXPECT_EQ(state.text_map.at("Charging"), "charging");
  EXPECT_TRUE(state.value_map.empty());
}

TEST(Profiles, NanSentinelOnIntegersAndUnitsOutOfRangeAreRefused) {
  const std::string errors = profile_errors(std::string(kMinimalMeter) + "sentinels = [nan]\nunit_id = 256\n", "x.toml");
  EXPECT_THAT(errors, HasSubstr("x.toml:11:13: points.power_w.sentinels: nan is a sentinel of float32 and "
                                "float64 points only"));
  EXPECT_THAT(errors, HasSubstr("x.toml:12:11: points.power_w.unit_id: must be an integer 0..255"));
}


// Nothing the MQTT driver sends is assumed: a profile says how its pile pauses, and a write
// point the driver would never send is refused rather than parsed without effect.
TEST(Profiles, MqttChargerSaysHowItPausesAndWritesOnlyWhatIsSent) {
  EXPECT_THAT(profile_errors(kMqttCharger),
              HasSubstr("m.toml:1:1: control.pause: an MQTT charger profile must say how the pile pauses"));
  const auto zero = parse_profile(kMqttCharger + "[control]\npause = \"zero-current\"\n", "m.toml");
  EXPECT_EQ(zero.control.pause, PauseMethod::zero_current);
  EXPECT_EQ(zero.mqtt->read.at("power_w").json_path, "values[11]");

  const std::string enable = "[mqtt.write.enable]\ntopic = \"{base}/set\"\njson_path = \"mode\"\n";
  EXPECT_THAT(profile_errors(kMqttCharger + "[control]\npause = \"zero-current\"\n" + enable),
              HasSubstr("m.toml:19:1: mqtt.write.enable: is sent only with [control] pause = \"enable-register\""));
  EXPECT_THAT(profile_errors(kMqttCharger + "[control]\npause = \"enable-register\"\n"),
              HasSubstr("control.pause: \"enable-register\" needs an [mqtt.write.enable] point"));
  EXPECT_EQ(profile_errors(kMqttCharger + "[control]\npause = \"enable-register\"\n" + enable), "");
  EXPECT_THAT(profile_errors(kMqttCharger + "[control]\npause = \"enable-register\"\n" + enable +
                             "map = { \"on\" = \"charge\" }\n"),
              HasSubstr("mqtt.write.enable.map: keys are \"true\" (charging allowed) and \"false\" (paused), not 'on'"));
  EXPECT_THAT(profile_errors(kMqttCharger + "[control]\npause = \"zero-current\"\n[mqtt.write.phases]\ntopic = \"p\"\n"),
              HasSubstr("mqtt.write.phases: the driver writes only set_current_a and enable"));
}

TEST(Profiles, MqttPathsAckAndAvailabilityAreChecked) {
  const std::string base = kMqttCharger + "[control]\npause = \"zero-current\"\n";
  std::string text = kMqttCharger;
  text.replace(text.find("\"values[11]\""), 12, "\"values[x]\"");
  EXPECT_THAT(profile_errors(text + "[control]\npause = \"zero-current\"\n"),
              HasSubstr("m.toml:13:13: mqtt.read.power_w.json_path: 'values[x]' is not a path"));
  text = kMqttCharger;
  text.replace(text.find("\"amp\""), 5, "\"amp[0]\"");
  EXPECT_THAT(profile_errors(text + "[control]\npause = \"zero-current\"\n"),
              HasSubstr("mqtt.write.set_current_a.json_path: array indices are for reading"));
  text = base;
  const std::string topic_line = "base_topic = \"b\"\n";
  text.replace(text.find(topic_line), topic_line.size(), topic_line + "ack_success = \"OK\"\n");
  EXPECT_THAT(profile_errors(text), HasSubstr("mqtt.ack_success: needs the ack_topic the result is published on"));
  const auto p = parse_profile(base + "[mqtt.availability]\ntopic = \"{base}/lwt\"\noffline = \"0\"\nonline = \"1\"\n",
                               "m.toml");
  EXPECT_EQ(p.mqtt->availability.topic, "{base}/lwt");
  EXPECT_EQ(p.mqtt->availability.offline, "0");
  EXPECT_THAT(profile_errors(base + "[mqtt.availability]\ntopic = \"t\"\noffline = \"online\"\n"),
              HasSubstr("mqtt.availability.offline: must differ from online"));
}

TEST(MqttPayload, JsonPathsIndexArraysAndSharedPayloadsAreBuilt) {
  std::string error;
  const std::string payload = R"({"values":[230,231,229,0,160,0,0,0,0,0,0,3680],"car":2,"s":{"e":[{"wh":5}]}})";
  EXPECT_EQ(mqtt::extract_value(payload, "values[11]", error), "3680");
  EXPECT_EQ(mqtt::extract_value(payload, "s.e[0].wh", error), "5");
  EXPECT_EQ(mqtt::extract_value("[1,[2,3]]", "[1][0]", error), "2") << "a payload that is an array";
  EXPECT_FALSE(mqtt::extract_value(payload, "values[12]", error).has_value());
  EXPECT_EQ(error, "JSON payload has no \"values[12]\"");
  for (const char* bad : {"a..b", "a.", ".a", "a[", "a[]", "a[-1]", "a[1]x", ""})
    EXPECT_FALSE(mqtt::parse_json_path(bad).has_value()) << bad;

  nlohmann::json doc;
  mqtt::set_value(doc, "amp", 10);
  mqtt::set_value(doc, "mode", "charge");
  mqtt::set_value(doc, "v[2]", 1);
  EXPECT_EQ(doc.dump(), R"({"amp":10,"mode":"charge","v":[null,null,1]})");
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

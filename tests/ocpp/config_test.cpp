// [[charger]] driver = "ocpp" in orderly.toml (docs/configuration.md, docs/ocpp.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using testing::errors_of;
using testing::kMinimal;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ocpp_charger(const std::string& keys) {
  return kMinimal + "\n[[charger]]\nid = \"op-1\"\nkind = \"shared\"\nphase = \"A\"\nmax_power_kw = 7\ndriver = \"ocpp\"\n" +
         keys;
}

// A second [[charger]] on charge point "CP" with the password "pw".
std::string second_connector(const std::string& keys) {
  return "[[charger]]\nid = \"op-2\"\nkind = \"shared\"\nphase = \"B\"\nmax_power_kw = 7\ndriver = \"ocpp\"\n"
         "ocpp_password = \"pw\"\nocpp_id = \"CP\"\n" + keys;
}

TEST(OcppConfig, DefaultsAndKeys) {
  const Config c = parse_config(ocpp_charger("ocpp_password = \"pw\"\n"), "test.toml");
  const ChargerConfig& ch = c.chargers.at(0);
  EXPECT_EQ(ch.driver, DriverKind::ocpp);
  EXPECT_STREQ(to_string(ch.driver), "ocpp");
  EXPECT_EQ(ch.ocpp_id, "op-1");  // default: the charger id
  EXPECT_EQ(ch.resolved_ocpp_password(), "pw");
  EXPECT_EQ(ch.ocpp_meter_interval_s, 10);
  EXPECT_EQ(ch.ocpp_remote_start_id_tag, "");
  EXPECT_EQ(ch.ocpp_connector, 1);
  EXPECT_EQ(ch.ocpp_station_max_power_kw, std::nullopt);
  EXPECT_EQ(ch.ocpp_clock_tolerance_s, 60);

  const Config d = parse_config(ocpp_charger("ocpp_id = \"CP-0001\"\nocpp_password = \"pw\"\nocpp_meter_interval_s = 5\n"
                                             "ocpp_remote_start_id_tag = \"HOUSE-1201\"\n"),
                                "test.toml");
  EXPECT_EQ(d.chargers.at(0).ocpp_id, "CP-0001");
  EXPECT_EQ(d.chargers.at(0).ocpp_meter_interval_s, 5);
  EXPECT_EQ(d.chargers.at(0).ocpp_remote_start_id_tag, "HOUSE-1201");
}

TEST(OcppConfig, APileWithoutAPasswordIsRefusedAtItsLine) {
  const std::string text = ocpp_charger("");
  const auto line = std::count(text.begin(), text.begin() + static_cast<long>(text.find("[[charger]]")), '\n') + 1;
  EXPECT_THAT(errors_of(text), ElementsAre(AllOf(StartsWith("test.toml:" + std::to_string(line) + ":"),
                                                 HasSubstr("ocpp_password"), HasSubstr("401"))));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"a\"\nocpp_password_file = \"/x\"\n")),
              ElementsAre(HasSubstr("either ocpp_password or ocpp_password_file")));
}

TEST(OcppConfig, WrongValuesNameTheKey) {
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP 1\"\n")),
              ElementsAre(HasSubstr("ocpp_id: 'CP 1' is not a valid id")));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_meter_interval_s = 0\n")),
              ElementsAre(HasSubstr("ocpp_meter_interval_s")));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_remote_start_id_tag = \"123456789012345678901\"\n")),
              ElementsAre(HasSubstr("ocpp_remote_start_id_tag: must be 1 to 20 characters")));
  // Two chargers on one connector of one charge point.
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP\"\n") + second_connector("")),
              ElementsAre(HasSubstr("charge point 'CP' connector 1 is used by another charger")));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_connector = 0\n")),
              ElementsAre(HasSubstr("ocpp_connector")));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_clock_tolerance_s = 0\n")),
              ElementsAre(HasSubstr("ocpp_clock_tolerance_s")));
}

TEST(OcppConfig, TheConnectorsOfOneChargePointAreChargersThatAgreeOnItsKeys) {
  const Config c = parse_config(ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP\"\nocpp_station_max_power_kw = 11\n"
                                             "ocpp_clock_tolerance_s = 30\n") +
                                    second_connector("ocpp_connector = 2\nocpp_station_max_power_kw = 11\n"
                                                     "ocpp_clock_tolerance_s = 30\n"),
                                "test.toml");
  ASSERT_EQ(c.chargers.size(), 2u);
  EXPECT_EQ(c.chargers[0].ocpp_connector, 1);  // the default
  EXPECT_EQ(c.chargers[1].ocpp_connector, 2);
  EXPECT_EQ(c.chargers[1].ocpp_id, "CP");
  EXPECT_EQ(c.chargers[1].ocpp_station_max_power_kw, 11);
  EXPECT_EQ(c.chargers[1].ocpp_clock_tolerance_s, 30);

  // One connection, one password, one interval: a connector that says otherwise is refused at
  // its line, naming the charger it disagrees with.
  const std::string text = ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP\"\n") +
                           second_connector("ocpp_connector = 2\nocpp_meter_interval_s = 30\n");
  const auto line = std::count(text.begin(), text.begin() + static_cast<long>(text.find("ocpp_connector = 2")), '\n') + 1;
  EXPECT_THAT(errors_of(text), ElementsAre(AllOf(StartsWith("test.toml:" + std::to_string(line) + ":"),
                                                 HasSubstr("is also charger 'op-1'"), HasSubstr("ocpp_meter_interval_s"))));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP\"\n") +
                        second_connector("ocpp_connector = 2\nocpp_station_max_power_kw = 11\n")),
              ElementsAre(HasSubstr("ocpp_station_max_power_kw")));
}

// The ceiling is the pile's; the planner sees each connector's max_power_kw. Only a capacity
// node over both connectors at or below the ceiling makes the plan match what the pile passes.
TEST(OcppConfig, ACeilingBelowTheConnectorsIsWarnedUnlessACapacityNodeHoldsIt) {
  const auto twin = [](const std::string& more) {
    return ocpp_charger("ocpp_password = \"pw\"\nocpp_id = \"CP\"\nocpp_station_max_power_kw = 11\n" + more) +
           second_connector("ocpp_connector = 2\nocpp_station_max_power_kw = 11\n" + more);
  };
  const auto board = [](double limit_kw) {
    return "[[capacity]]\nid = \"cp-board\"\nlimit_kw = " + std::to_string(limit_kw) + "\nassumed_load_kw = 0\n";
  };
  const auto ceiling_warned = Contains(AllOf(HasSubstr("charge point 'CP' is limited to 11 kW"),
                                             HasSubstr("connectors add up to 14 kW")));
  EXPECT_THAT(parse_config(twin(""), "test.toml").warnings, ceiling_warned);
  EXPECT_THAT(parse_config(twin("node = \"cp-board\"\n") + board(20), "test.toml").warnings, ceiling_warned)
      << "a node above the ceiling does not hold it";
  EXPECT_THAT(parse_config(twin("node = \"cp-board\"\n") + board(11), "test.toml").warnings,
              Not(Contains(HasSubstr("is limited to"))));
}

TEST(OcppConfig, OcppKeysBelongToOcppChargersOnly) {
  const std::string mqtt_charger = kMinimal +
                                   "\n[[charger]]\nid = \"c-1\"\nkind = \"shared\"\nphase = \"A\"\nmax_power_kw = 7\n"
                                   "driver = \"mqtt\"\nocpp_password = \"pw\"\n";
  EXPECT_THAT(errors_of(mqtt_charger),
              ElementsAre(HasSubstr("ocpp_password: is used only with driver = \"ocpp\" (this charger uses mqtt)")));
  EXPECT_THAT(errors_of(ocpp_charger("ocpp_password = \"pw\"\nbus = \"b1\"\n")),
              ElementsAre(HasSubstr("bus: is used only with driver = \"profile\" (this device uses ocpp)")));
  EXPECT_THAT(errors_of(kMinimal + "\n[[meter]]\nid = \"m-1\"\nrole = \"transformer\"\ndriver = \"ocpp\"\n"),
              ElementsAre(HasSubstr("\"ocpp\" is for chargers")));
}

TEST(OcppConfig, PasswordFileIsReadAtUse) {
  orderly::test::TempDir dir;
  orderly::test::write_file(dir / "pw", "pile-secret\n");
  const Config c = parse_config(ocpp_charger("ocpp_password_file = \"" + (dir / "pw").string() + "\"\n"), "test.toml");
  EXPECT_EQ(c.chargers.at(0).resolved_ocpp_password(), "pile-secret");
  ChargerConfig missing;
  missing.id = "op-9";
  missing.ocpp_password_file = dir / "absent";
  try {
    (void)missing.resolved_ocpp_password();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("charger 'op-9' ocpp_password_file"), HasSubstr("readable by the orderly user")));
  }
}

}  // namespace
}  // namespace orderly::gateway

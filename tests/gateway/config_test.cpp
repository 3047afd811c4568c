#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_text.hpp"
#include "orderly/drivers/profile.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/test/support.hpp"

namespace orderly::gateway {
namespace {

using testing::errors_of;
using testing::kMinimal;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// "test.toml:<line>:" for the line holding `needle`, so tests do not hard-code line numbers.
std::string at_line_of(const std::string& text, const std::string& needle) {
  const auto pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  const auto line = std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n') + 1;
  return "test.toml:" + std::to_string(line) + ":";
}

drivers::ProfileCatalog shipped_profiles() {
  return drivers::ProfileCatalog::load_dir(orderly::test::source_dir() / "drivers" / "profiles");
}

TEST(Config, ShippedExampleParses) {
  const auto path = orderly::test::source_dir() / "packaging" / "orderly.toml";
  const auto profiles = shipped_profiles();
  const Config c = load_config(path, &profiles);
  EXPECT_EQ(c.site.utc_offset, std::chrono::hours(8));
  EXPECT_EQ(c.site.transformer.limit_kw, 500);
  ASSERT_TRUE(c.site.transformer.phase_limit_kw[0].has_value());
  EXPECT_EQ(*c.site.transformer.phase_limit_kw[0], 170);
  EXPECT_EQ(c.chargers.size(), 5u);
  EXPECT_EQ(c.meters.size(), 3u);
  EXPECT_EQ(c.modbus_buses.size(), 4u);
  EXPECT_EQ(c.find_meter("m-feeder-1")->address, "000012345678");
  EXPECT_EQ(c.find_meter("m-feeder-1")->poll_interval_ms, 5000);
  ASSERT_NE(c.find_bus("rs485-1"), nullptr);
  EXPECT_EQ(c.find_bus("rs485-1")->parity, 'E');
  EXPECT_EQ(c.find_bus("rs485-1")->transport, ModbusTransport::rtu);
  ASSERT_NE(c.find_charger("s-01"), nullptr);
  EXPECT_EQ(c.find_charger("s-01")->kind, ChargerKind::shared_pile);
  EXPECT_EQ(c.find_charger("s-01")->phase, Phase::ABC);
  EXPECT_EQ(c.find_charger("p-1-0102")->name, "p-1-0102");  // name defaults to id
  EXPECT_EQ(c.find_charger("p-1-0102")->driver, DriverKind::mqtt);
  EXPECT_EQ(c.find_meter("m-transformer")->node, "transformer");
  EXPECT_EQ(c.log.sink, LogSink::journald);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

// Whatever an installer does to one line of the example, the answer is a valid Config or a
// ConfigError with positioned messages - never another exception or a crash.
TEST(Config, EveryOneLineDamageToTheExampleIsReportedCleanly) {
  const std::string example =
      orderly::test::read_file(orderly::test::source_dir() / "packaging" / "orderly.toml");
  const auto profiles = shipped_profiles();
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < example.size();) {
    const auto end = example.find('\n', start);
    lines.push_back(example.substr(start, end - start));
    start = end == std::string::npos ? example.size() : end + 1;
  }
  int rejected = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto eq = lines[i].find(" = ");
    if (lines[i].empty() || lines[i][0] == '#') continue;
    for (const std::string& damaged :
         {std::string(), eq == std::string::npos ? lines[i] + "x" : lines[i].substr(0, eq) + " = \"?\"",
          eq == std::string::npos ? "[" + lines[i] : lines[i].substr(0, eq) + " = -1"}) {
      std::string text;
      for (std::size_t j = 0; j < lines.size(); ++j) text += (j == i ? damaged : lines[j]) + "\n";
      try {
        parse_config(text, "test.toml", &profiles);
      } catch (const ConfigError& e) {
        ++rejected;
        for (const auto& message : e.errors()) {
          EXPECT_THAT(message, StartsWith("test.toml")) << "line " << i + 1 << ": " << damaged;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "line " << i + 1 << " -> '" << damaged << "': " << e.what();
      }
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(Config, MinimalGetsDocumentedDefaults) {
  const Config c = parse_config(kMinimal + R"(
[[charger]]
id = "c1"
kind = "shared"
phase = "B"
max_power_kw = 7
)",
                                "test.toml");
  EXPECT_EQ(c.site.transformer.id, "transformer");
  EXPECT_EQ(c.site.utc_offset_text, "+08:00");
  EXPECT_EQ(c.mqtt.topic_prefix, "orderly/v1");
  EXPECT_EQ(c.mqtt.port, 1883);
  EXPECT_EQ(c.web.port, 8080);
  EXPECT_EQ(c.store.path, "/var/lib/orderly/orderly.db");
  EXPECT_EQ(c.store.raw_retention_days, 90);
  EXPECT_EQ(c.control.slot_minutes, 15);
  EXPECT_EQ(c.log.level, LogLevel::info);
  ASSERT_EQ(c.chargers.size(), 1u);
  EXPECT_EQ(c.chargers[0].node, "transformer");
  EXPECT_EQ(c.chargers[0].min_current_a, 6);
  EXPECT_EQ(c.chargers[0].failsafe_current_a, 6);
  // Without a transformer meter the config is valid but check-config says what that means.
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("role = \"transformer\""));
}

TEST(Config, EveryNodeHasALoadFigureAndMeterChecksHaveDefaults) {
  const std::string meters = R"(
[[meter]]
id = "tm"
role = "transformer"
[[capacity]]
id = "f1"
limit_kw = 20
[[capacity]]
id = "f2"
limit_kw = 20
assumed_load_share = 0.25
[[capacity]]
id = "f3"
limit_kw = 20
[[meter]]
id = "fm3"
role = "feeder"
node = "f3"
)";
  const Config c = parse_config(kMinimal + meters, "test.toml");
  EXPECT_EQ(c.control.meter_range_factor, 1.5);
  EXPECT_EQ(c.control.meter_fallback_s, 900);
  EXPECT_EQ(c.control.meter_fallback_margin_kw, 10);
  EXPECT_FALSE(c.site.transformer.assumed_load_kw.has_value());
  // f1 has neither a meter nor an assumed load: said, with the share taken instead.
  ASSERT_EQ(c.warnings.size(), 1u) << ::testing::PrintToString(c.warnings);
  EXPECT_THAT(c.warnings[0], HasSubstr("test.toml:18:1: warning: capacity[1] 'f1': no feeder [[meter]]"));
  EXPECT_THAT(c.warnings[0], HasSubstr("taken as 0.2"));

  const auto both = errors_of(kMinimal + "[[capacity]]\nid = \"f1\"\nlimit_kw = 20\nassumed_load_kw = 3\n"
                                                  "assumed_load_share = 0.1\n");
  ASSERT_EQ(both.size(), 1u) << ::testing::PrintToString(both);
  EXPECT_THAT(both[0], HasSubstr("assumed_load_share: give assumed_load_kw or assumed_load_share, not both"));
  const auto share = errors_of(kMinimal + "[[capacity]]\nid = \"f1\"\nlimit_kw = 20\nassumed_load_share = 1.5\n");
  ASSERT_EQ(share.size(), 1u);
  EXPECT_THAT(share[0], HasSubstr("assumed_load_share"));
}

// A device its vendor ships with other serial settings (or TCP port) than its bus uses does not
// answer until one of them is changed: check-config says so, and it is only a warning.
TEST(Config, ABusUnlikeTheDevicesFactorySettingsIsAWarning) {
  const auto profiles = shipped_profiles();
  const std::string devices = R"(
[[modbus.bus]]
id = "rs485-1"
transport = "rtu"
device = "/dev/ttyS1"
baud = 19200
parity = "even"

[[modbus.bus]]
id = "lan"
transport = "tcp"
host = "192.168.1.20"
port = 1502

[[meter]]
id = "tm"
role = "transformer"
driver = "profile"
profile = "chint-dtsu666"
bus = "rs485-1"

[[charger]]
id = "p1"
kind = "shared"
phase = "ABC"
max_power_kw = 11
driver = "profile"
profile = "keba-p30"
bus = "lan"

[[charger]]
id = "p2"
kind = "shared"
phase = "A"
max_power_kw = 7
driver = "profile"
profile = "heidelberg-energy-control"
bus = "rs485-1"
unit_id = 2
)";
  const Config c = parse_config(kMinimal + devices, "test.toml", &profiles);
  ASSERT_EQ(c.warnings.size(), 2u) << ::testing::PrintToString(c.warnings);
  EXPECT_THAT(c.warnings, ::testing::Contains(AllOf(
                              HasSubstr("meter[1].bus: bus 'rs485-1' runs 19200 8E1"),
                              HasSubstr("CHINT DTSU666 (profile 'chint-dtsu666') leaves the factory at 9600 8N1"))));
  EXPECT_THAT(c.warnings, ::testing::Contains(AllOf(HasSubstr("charger[1].bus: bus 'lan' connects to port 1502"),
                                                    HasSubstr("listens on port 502"))));
  // The Heidelberg pile leaves the factory at 19200 8E1, as the bus runs: nothing to say.
  for (const auto& w : c.warnings) EXPECT_THAT(w, ::testing::Not(HasSubstr("heidelberg")));
}

// Modbus TCP carries unit ids 0-255 and piles answering on their own address use 255 (KEBA,
// Webasto): the site may set any of them, and where it sets none the profile's stands.
TEST(Config, UnitIdIsTheProfilesUnlessTheSiteSetsOneFrom0To255) {
  const auto profiles = shipped_profiles();
  auto charger = [](const std::string& id, const std::string& unit_line) {
    return "[[charger]]\nid = \"" + id + "\"\nkind = \"shared\"\nphase = \"ABC\"\nmax_power_kw = 11\n"
           "driver = \"profile\"\nprofile = \"keba-p30\"\nbus = \"lan\"\n" + unit_line;
  };
  const std::string bus = "[[modbus.bus]]\nid = \"lan\"\ntransport = \"tcp\"\nhost = \"10.0.0.2\"\n";
  const std::string bus2 = "[[modbus.bus]]\nid = \"lan2\"\ntransport = \"tcp\"\nhost = \"10.0.0.3\"\n";
  std::string own_bus = charger("profile-unit", "");
  own_bus.replace(own_bus.find("bus = \"lan\""), 11, "bus = \"lan2\"");
  const Config c = parse_config(kMinimal + bus + bus2 + charger("p0", "unit_id = 0\n") +
                                    charger("p255", "unit_id = 255\n") + own_bus,
                                "test.toml", &profiles);
  EXPECT_EQ(c.chargers[0].unit_id, 0);
  EXPECT_EQ(c.chargers[1].unit_id, 255);
  EXPECT_FALSE(c.chargers[2].unit_id.has_value()) << "no unit_id: the profile's (255 for the KEBA P30) stands";

  const std::string text = kMinimal + bus + charger("p256", "unit_id = 256\n");
  try {
    parse_config(text, "test.toml", &profiles);
    FAIL() << "unit_id 256 accepted";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_THAT(e.errors()[0], AllOf(StartsWith(at_line_of(text, "unit_id = 256")), HasSubstr("charger[1].unit_id"),
                                     HasSubstr("0 and 255")));
  }
}

// A pile's own communication timeout, where its profile has a register for it.
// Each device on a bus at its own unit, and one the bus can address: the profile's unit counts
// where the site sets none.
TEST(Config, UnitIdsAreAddressableAndTakenOncePerBus) {
  const auto profiles = shipped_profiles();
  auto charger = [](const std::string& id, const std::string& profile, const std::string& bus, const std::string& unit) {
    return "[[charger]]\nid = \"" + id + "\"\nkind = \"shared\"\nphase = \"ABC\"\nmax_power_kw = 11\n"
           "driver = \"profile\"\nprofile = \"" + profile + "\"\nbus = \"" + bus + "\"\n" + unit;
  };
  const std::string buses =
      "[[modbus.bus]]\nid = \"lan\"\ntransport = \"tcp\"\nhost = \"10.0.0.2\"\n"
      "[[modbus.bus]]\nid = \"rs485\"\ntransport = \"rtu\"\ndevice = \"/dev/ttyS1\"\nbaud = 19200\nparity = \"even\"\n";
  const std::string text = kMinimal + buses + charger("k1", "keba-p30", "lan", "") + charger("k2", "keba-p40", "lan", "") +
                           charger("t", "abb-terra-ac", "lan", "unit_id = 250\n") +
                           charger("h0", "heidelberg-energy-control", "rs485", "unit_id = 0\n") +
                           charger("h1", "heidelberg-energy-control", "rs485", "unit_id = 7\n") +
                           charger("h2", "heidelberg-energy-control", "rs485", "unit_id = 7\n");
  const auto errors = errors_of(text, &profiles);
  EXPECT_THAT(errors, ::testing::ElementsAre(
                          HasSubstr("charger[2].unit_id: unit 255 (the profile's) on bus 'lan' is charger[1]'s too"),
                          AllOf(StartsWith(at_line_of(text, "unit_id = 250")),
                                HasSubstr("charger[3].unit_id: unit 250 cannot be asked on Modbus TCP bus 'lan' (0-247 or 255)")),
                          HasSubstr("charger[4].unit_id: unit 0 cannot be asked on RS-485 bus 'rs485' (1-247)"),
                          HasSubstr("charger[6].unit_id: unit 7 on bus 'rs485' is charger[5]'s too")));
}

TEST(Config, ChargerFailsafeTimeoutOverridesControlWhereThePileHasOne) {
  const auto profiles = shipped_profiles();
  auto charger = [](const std::string& id, const std::string& profile, const std::string& extra) {
    return "[[charger]]\nid = \"" + id + "\"\nkind = \"shared\"\nphase = \"ABC\"\nmax_power_kw = 11\n"
           "driver = \"profile\"\nprofile = \"" + profile + "\"\nbus = \"lan\"\n" + extra;
  };
  const std::string base = kMinimal + "[control]\nlimit_validity_s = 60\nfailsafe_timeout_s = 120\n"
                           "[[modbus.bus]]\nid = \"lan\"\ntransport = \"tcp\"\nhost = \"10.0.0.2\"\n";
  const Config c = parse_config(base + charger("k", "keba-p30", "failsafe_timeout_s = 300\n") +
                                    charger("w", "webasto-next", "unit_id = 9\n"),
                                "test.toml", &profiles);
  EXPECT_EQ(c.chargers[0].failsafe_timeout_s, 300);
  EXPECT_EQ(c.chargers[1].failsafe_timeout_s, 120) << "without its own: [control]'s";

  const std::string text = base + charger("a", "abb-terra-ac", "failsafe_timeout_s = 300\n") +
                           charger("k", "keba-p30", "failsafe_timeout_s = 20\n");
  try {
    parse_config(text, "test.toml", &profiles);
    FAIL() << "expected errors";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.errors(), ::testing::ElementsAre(
                                AllOf(StartsWith(at_line_of(text, "failsafe_timeout_s = 300")),
                                      HasSubstr("charger[1].failsafe_timeout_s: ABB Terra AC"),
                                      HasSubstr("has no communication-timeout register to set")),
                                AllOf(StartsWith(at_line_of(text, "failsafe_timeout_s = 20")),
                                      HasSubstr("charger[2].failsafe_timeout_s: 20 s is not longer than the gap"))));
  }
}

TEST(Config, ChargerFailsafeDefaultsToControlSection) {
  const Config c = parse_config(kMinimal + R"(
[[charger]]
id = "c1"
kind = "shared"
phase = "ABC"
max_power_kw = 11
[control]
failsafe_current_a = 8
)",
                                "test.toml");
  EXPECT_EQ(c.chargers[0].failsafe_current_a, 8);
}

TEST(Config, TypoKeyNamesLineKeyAndSuggestion) {
  const std::string text = kMinimal + "\n[web]\nprot = 8081\n";
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], StartsWith(at_line_of(text, "prot =") + "1: unknown key 'prot' in [web]"));
  EXPECT_THAT(errors[0], HasSubstr("expected one of: listen, port, static_dir"));
  EXPECT_THAT(errors[0], HasSubstr("did you mean 'port'?"));
}

TEST(Config, TypoInSiteSection) {
  const std::string text = R"(
[site]
name = "x"
transfomer = 1
[site.transformer]
limit_kw = 100
)" + testing::kSimpleTariff;
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(StartsWith("test.toml:4:1: unknown key 'transfomer' in [site]"),
                               HasSubstr("name, utc_offset, transformer")));
}

TEST(Config, WrongTypeSaysWhatWasExpectedAndFound) {
  const std::string text = R"(
[site]
name = "x"
[site.transformer]
limit_kw = "100"
)" + testing::kSimpleTariff;
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "test.toml:5:12: site.transformer.limit_kw: expected a number between 1 and 100000, "
            "got a string");
}

TEST(Config, OutOfRangeGivesPositionRangeAndValue) {
  const std::string text = kMinimal + R"(
[[charger]]
id = "c1"
kind = "shared"
phase = "A"
max_power_kw = -7
[[charger]]
id = "c2"
kind = "shared"
phase = "A"
max_power_kw = 7
unit_id = 3
)";
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], at_line_of(text, "max_power_kw = -7") +
                           "16: charger[1].max_power_kw: expected a number between 1.4 and 350, "
                           "got -7");
  EXPECT_THAT(errors[1], AllOf(StartsWith(at_line_of(text, "unit_id = 3")),
                               HasSubstr("charger[2].unit_id: is used only with driver = \"profile\"")));
}

TEST(Config, MissingRequiredKeysAndSections) {
  EXPECT_THAT(errors_of(""), ElementsAre(HasSubstr("missing required key 'site'"),
                                         HasSubstr("missing required key 'tariff'")));
  const auto errors = errors_of(kMinimal + "\n[[charger]]\nid = \"c1\"\nkind = \"private\"\n");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("charger[1]: missing required key 'household'"),
                                  HasSubstr("charger[1]: missing required key 'phase'"),
                                  HasSubstr("charger[1]: missing required key 'max_power_kw'")));
}

TEST(Config, UnknownReferences) {
  const std::string text = kMinimal + R"(
[[modbus.bus]]
id = "bus1"
transport = "tcp"
host = "127.0.0.1"
[[charger]]
id = "c1"
kind = "shared"
phase = "A"
max_power_kw = 7
node = "nowhere"
[[charger]]
id = "c2"
kind = "shared"
phase = "A"
max_power_kw = 7
driver = "profile"
profile = "abb-terra-ac"
bus = "bus9"
[[meter]]
id = "m1"
role = "transformer"
driver = "profile"
profile = "some-meter"
bus = "bus2"
)";
  const auto errors = errors_of(text);
  EXPECT_THAT(errors,
              ElementsAre(AllOf(StartsWith(at_line_of(text, "node = \"nowhere\"") + "8:"),
                                HasSubstr("charger[1].node: unknown capacity node 'nowhere'; "
                                          "expected one of: transformer")),
                          HasSubstr("charger[2].bus: unknown bus 'bus9'; expected a [[modbus.bus]] "
                                    "id: bus1"),
                          HasSubstr("meter[1].bus: unknown bus 'bus2'")));
}

TEST(Config, DuplicateIds) {
  const std::string text = kMinimal + R"(
[[capacity]]
id = "f1"
limit_kw = 50
[[capacity]]
id = "f1"
limit_kw = 60
[[charger]]
id = "c1"
kind = "shared"
phase = "A"
max_power_kw = 7
[[meter]]
id = "c1"
role = "feeder"
node = "f1"
)";
  const auto errors = errors_of(text);
  EXPECT_THAT(errors, ElementsAre(HasSubstr("capacity[2].id: duplicate id 'f1'"),
                                  HasSubstr("meter[1].id: duplicate id 'c1'")));
}

TEST(Config, ManyErrorsReportedTogetherOnePerLine) {
  const std::string text = R"(
[site]
name = 5
utc_offset = "CST"
[site.transformer]
limit_kw = 0
)" + testing::kSimpleTariff + R"(
[control]
slot_minutes = 10
[log]
level = "verbose"
)";
  try {
    parse_config(text, "test.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.errors().size(), 5u) << e.what();
    EXPECT_THAT(e.errors()[0], HasSubstr("site.name: expected"));
    EXPECT_THAT(e.errors()[1], HasSubstr("site.utc_offset: expected a fixed UTC offset"));
    EXPECT_THAT(e.errors()[2], HasSubstr("site.transformer.limit_kw"));
    EXPECT_THAT(e.errors()[3], HasSubstr("control.slot_minutes: expected 5 or 15, got 10"));
    EXPECT_THAT(e.errors()[4],
                HasSubstr("log.level: expected one of \"trace\", \"debug\", \"info\", \"warn\", "
                          "\"error\", got \"verbose\""));
    const std::string all = e.what();
    EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 4);
  }
}

TEST(Config, FailsafeTimeoutShorterThanTheLimitRefreshIsAnError) {
  const std::string control = "\n[control]\ncontrol_period_s = 1\nlimit_validity_s = 600\n";
  EXPECT_THAT(errors_of(kMinimal + control + "failsafe_timeout_s = 300\n"),
              ElementsAre(AllOf(StartsWith(at_line_of(kMinimal + control + "failsafe_timeout_s = 300\n",
                                                      "failsafe_timeout_s")),
                                HasSubstr("control.failsafe_timeout_s: 300 s is not longer than the gap between limit "
                                          "refreshes (limit_validity_s / 2 + 2 control periods = 302 s)"))));
  // The default timeout (120 s) against a long validity: said too, at the [control] table.
  EXPECT_THAT(errors_of(kMinimal + control), ElementsAre(HasSubstr("control.failsafe_timeout_s: 120 s")));
  EXPECT_THAT(errors_of(kMinimal + control + "failsafe_timeout_s = 303\n"), ::testing::IsEmpty());
}

TEST(Config, SyntaxErrorHasPosition) {
  const auto errors = errors_of("[site]\nname = \"x\nfoo\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], AllOf(StartsWith("test.toml:2:"), HasSubstr("TOML syntax error")));
}

TEST(Config, PrivatePileNeedsHousehold) {
  const auto errors = errors_of(kMinimal + R"(
[[charger]]
id = "c1"
kind = "private"
phase = "A"
max_power_kw = 7
)");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("missing required key 'household'")));
}

TEST(Config, BusKeysMustMatchTransport) {
  const auto errors = errors_of(kMinimal + R"(
[[modbus.bus]]
id = "b1"
transport = "rtu"
host = "10.0.0.1"
baud = 9601
[[modbus.bus]]
id = "b2"
transport = "tcp"
parity = "even"
)");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("modbus.bus[1]: missing required key 'device'"),
                                  HasSubstr("modbus.bus[1].host: applies only to transport = \"tcp\""),
                                  HasSubstr("modbus.bus[1].baud: expected one of 1200"),
                                  HasSubstr("modbus.bus[2]: missing required key 'host'"),
                                  HasSubstr("modbus.bus[2].parity: applies only to transport = \"rtu\"")));
}

TEST(Config, CapacityTreeOrderedParentsFirstAndCyclesRejected) {
  const Config c = parse_config(kMinimal + R"(
[[capacity]]
id = "board"
parent = "feeder"
limit_kw = 20
phase = "A"
[[capacity]]
id = "feeder"
limit_kw = 60
)",
                                "test.toml");
  ASSERT_EQ(c.capacity.size(), 2u);
  EXPECT_EQ(c.capacity[0].id, "feeder");
  EXPECT_EQ(c.capacity[0].parent, "transformer");
  EXPECT_EQ(c.capacity[1].id, "board");
  EXPECT_EQ(c.capacity[1].phase, Phase::A);

  const auto errors = errors_of(kMinimal + R"(
[[capacity]]
id = "a"
parent = "b"
limit_kw = 20
[[capacity]]
id = "b"
parent = "a"
limit_kw = 20
)");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("cycle through 'a'"), HasSubstr("cycle through 'b'")));
}

TEST(Config, TariffHoursMustTileTheDay) {
  const std::string gap = testing::kMinimalSite + R"(
[tariff]
[[tariff.schedule]]
effective_from = 2024-01-01
[[tariff.schedule.season]]
price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
hours = { valley = ["23:00-07:00"], flat = ["07:00-08:00"], peak = ["08:00-11:00", "18:00-23:00"] }
)";
  EXPECT_THAT(errors_of(gap),
              ElementsAre(HasSubstr("11:00-18:00 is in none of peak, flat, valley")));

  const std::string overlap = testing::kMinimalSite + R"(
[tariff]
[[tariff.schedule]]
effective_from = 2024-01-01
[[tariff.schedule.season]]
price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
hours = { valley = ["22:00-07:00"], flat = ["07:00-08:00", "11:00-18:00"], peak = ["08:00-11:00", "18:00-23:00"] }
)";
  EXPECT_THAT(errors_of(overlap), ElementsAre(HasSubstr("22:00 is already in the peak hours")));

  const std::string bad = testing::kMinimalSite + R"(
[tariff]
[[tariff.schedule]]
effective_from = 2024-01-01
[[tariff.schedule.season]]
months = [1, 2, 3, 4, 5, 6]
price_yuan_per_kwh = { peak = 1.0, flat = 0.6, valley = 0.3 }
hours = { valley = ["23:00-7:00"], flat = ["07:00-23:00"] }
)";
  EXPECT_THAT(errors_of(bad),
              ElementsAre(HasSubstr("months 7, 8, 9, 10, 11, 12 are in no season"),
                          HasSubstr("expected a range \"HH:MM-HH:MM\"")));
}

TEST(Config, EmbeddedBrokerIsRefusedBecauseNothingStartsOne) {
  for (const char* value : {"true", "false"}) {
    EXPECT_THAT(errors_of(kMinimal + "\n[mqtt]\nembedded_broker = " + value + "\n"),
                ElementsAre(AllOf(StartsWith("test.toml:"), HasSubstr("mqtt.embedded_broker: is not supported; remove it"))));
  }
}

TEST(Config, HouseholdMetersAreRefusedBecauseNothingReadsThem) {
  const auto errors = errors_of(kMinimal + "\n[[meter]]\nid = \"m-1\"\nrole = \"household\"\nhousehold = \"1-1-101\"\n");
  EXPECT_THAT(errors, ElementsAre(AllOf(StartsWith("test.toml:"), HasSubstr("meter[1].role: \"household\" is not supported yet"),
                                        HasSubstr("remove this [[meter]]")),
                                  AllOf(StartsWith("test.toml:"), HasSubstr("meter[1].household: is not supported yet"))));
}

TEST(Config, TlsFilesMustBeReadablePemAtLoad) {
  orderly::test::TempDir dir;
  const auto ca = orderly::test::write_file(dir / "ca.pem", "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n");
  const auto der = orderly::test::write_file(dir / "client.der", std::string("\x30\x82\x01\x0a", 4));
  const auto mqtt = [&](const std::string& keys) { return kMinimal + "\n[mqtt]\nport = 8883\ntls = true\n" + keys; };
  const auto key = [](const char* name, const std::filesystem::path& p) {
    return std::string(name) + " = \"" + p.string() + "\"\n";
  };

  const Config c = parse_config(mqtt(key("ca_file", ca)), "test.toml");
  EXPECT_TRUE(c.mqtt.tls);
  EXPECT_EQ(c.mqtt.ca_file, ca);
  // Empty ca_file: the system trust store, nothing to read here.
  EXPECT_TRUE(parse_config(mqtt(""), "test.toml").mqtt.ca_file.empty());

  const auto errors = errors_of(mqtt(key("ca_file", dir / "absent.pem") + key("cert_file", der) + key("key_file", ca)));
  // Lines of the [mqtt] table: 1 header, 2 port, 3 tls, 4 ca_file, 5 cert_file.
  const int mqtt_line = static_cast<int>(std::count(kMinimal.begin(), kMinimal.end(), '\n')) + 2;
  EXPECT_THAT(errors, ElementsAre(AllOf(StartsWith("test.toml:" + std::to_string(mqtt_line + 3) + ":"),
                                        HasSubstr("mqtt.ca_file: cannot read '" + (dir / "absent.pem").string() + "'"),
                                        HasSubstr("No such file"), HasSubstr("readable by the orderly user")),
                                  AllOf(StartsWith("test.toml:" + std::to_string(mqtt_line + 4) + ":"),
                                        HasSubstr("mqtt.cert_file: '" + der.string() + "' is not a PEM file"))));
}

TEST(Config, MissingFileSaysWhatToDo) {
  orderly::test::TempDir dir;
  try {
    load_config(dir / "nope.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("nope.toml: no such file"),
                                HasSubstr("/etc/orderly/orderly.toml")));
  }
}

TEST(Config, PasswordFileIsReadAtUse) {
  orderly::test::TempDir dir;
  orderly::test::write_file(dir / "pw", "s3cret\n");
  const Config c = parse_config(
      kMinimal + "\n[mqtt]\npassword_file = \"" + (dir / "pw").string() + "\"\n", "test.toml");
  EXPECT_EQ(c.mqtt.resolved_password(), "s3cret");
  MqttConfig missing;
  missing.password_file = dir / "absent";
  EXPECT_THROW(missing.resolved_password(), ConfigError);
  EXPECT_THAT(errors_of(kMinimal + "\n[mqtt]\npassword = \"a\"\npassword_file = \"/x\"\n"),
              ElementsAre(HasSubstr("either password or password_file")));
}

// Issue 16: the shipped broker names every client after its login (use_username_as_clientid).
TEST(Config, MqttClientIdIsTheUserName) {
  EXPECT_EQ(parse_config(kMinimal + "\n[mqtt]\nusername = \"orderly\"\n", "test.toml").mqtt.client_id, "orderly");
  EXPECT_EQ(parse_config(kMinimal + "\n[mqtt]\nusername = \"orderly\"\nclient_id = \"orderly\"\n", "test.toml").mqtt.client_id,
            "orderly");
  EXPECT_EQ(parse_config(kMinimal + "\n[mqtt]\nclient_id = \"bench\"\n", "test.toml").mqtt.client_id, "bench");
  EXPECT_EQ(parse_config(kMinimal, "test.toml").mqtt.client_id, "orderly-gateway");
  EXPECT_THAT(errors_of(kMinimal + "\n[mqtt]\nusername = \"orderly\"\nclient_id = \"orderly-gateway\"\n"),
              ElementsAre(AllOf(HasSubstr("test.toml:"), HasSubstr("client_id"), HasSubstr("must equal username \"orderly\""))));
}

TEST(Config, ProfilesCheckedAgainstTheCatalog) {
  const auto profiles = shipped_profiles();
  const std::string text = kMinimal + R"(
[[modbus.bus]]
id = "b1"
transport = "rtu"
device = "/dev/ttyS1"
[[charger]]
id = "c1"
kind = "shared"
phase = "ABC"
max_power_kw = 11
driver = "profile"
profile = "abb-terra-acc"
bus = "b1"
[[charger]]
id = "c2"
kind = "shared"
phase = "ABC"
max_power_kw = 11
driver = "profile"
profile = "eastron-sdm630"
bus = "b1"
[[charger]]
id = "c3"
kind = "shared"
phase = "A"
max_power_kw = 7
driver = "profile"
profile = "heidelberg-energy-control"
[[charger]]
id = "c4"
kind = "shared"
phase = "A"
max_power_kw = 7
driver = "profile"
profile = "openevse"
bus = "b1"
[[meter]]
id = "m1"
role = "transformer"
driver = "profile"
profile = "dlt645-2007-meter"
bus = "b1"
[[meter]]
id = "m2"
role = "feeder"
driver = "profile"
profile = "eastron-sdm630"
bus = "b1"
address = "123456789012"
)";
  EXPECT_THAT(
      [&] {
        try {
          parse_config(text, "test.toml", &profiles);
        } catch (const ConfigError& e) {
          return e.errors();
        }
        return std::vector<std::string>{};
      }(),
      ElementsAre(AllOf(StartsWith(at_line_of(text, "profile = \"abb-terra-acc\"")),
                        HasSubstr("charger[1].profile: unknown profile 'abb-terra-acc'; expected "
                                  "one of the charger profiles: abb-terra-ac,")),
                  HasSubstr("charger[2].profile: 'eastron-sdm630' is a meter profile; a "
                            "[[charger]] needs a charger profile"),
                  HasSubstr("charger[3]: missing required key 'bus' (profile "
                            "'heidelberg-energy-control' speaks modbus"),
                  HasSubstr("charger[4].bus: profile 'openevse' speaks MQTT through the broker"),
                  HasSubstr("meter[1]: missing required key 'address'"),
                  HasSubstr("meter[2].address: is used only with DL/T 645 profiles")));
  // Without a catalog the same text only fails on what the file alone shows.
  EXPECT_TRUE(errors_of(text).empty());
}

TEST(Config, MeterAddressIsTwelveDigits) {
  EXPECT_THAT(errors_of(kMinimal + R"(
[[meter]]
id = "m1"
role = "transformer"
driver = "profile"
profile = "dlt645-2007-meter"
bus = "b1"
address = "12345"
[[modbus.bus]]
id = "b1"
transport = "rtu"
device = "/dev/ttyS2"
)"),
              ElementsAre(HasSubstr("meter[1].address: expected the 12-digit DL/T 645 meter "
                                    "address")));
}

TEST(Config, IdsUseASafeAlphabet) {
  EXPECT_THAT(errors_of(kMinimal + "\n[[capacity]]\nid = \"feeder/1\"\nlimit_kw = 5\n"),
              ElementsAre(HasSubstr("capacity[1].id: 'feeder/1' is not a valid id")));
}

}  // namespace
}  // namespace orderly::gateway

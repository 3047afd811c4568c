// The TOML section reader both orderly.toml and the device profiles are read with: every
// problem collected with file:line:column, in file order, unknown keys refused with the keys the
// code asked for, and the typed getters' messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orderly/base/toml_section.hpp"

namespace orderly::toml_section {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The errors of reading `text` with `read`, which gets the top-level Section.
template <typename Read>
std::vector<std::string> errors_of(const std::string& text, Read read) {
  Errors errors("t.toml");
  if (const auto doc = parse(text, errors)) {
    Section root(errors, *doc, "", "the top level");
    read(root);
  }
  return errors.errors();
}

TEST(TomlSection, EveryProblemInFileOrderWithLineAndColumn) {
  const auto errors = errors_of(R"(
[b]
port = "x"
[a]
level = 99
)",
                                [](Section& root) {
                                  // Read in the opposite order of the file.
                                  if (auto a = root.section("a")) a->integer("level", 1, 10);
                                  if (auto b = root.section("b")) b->integer("port", 1, 65535);
                                  root.errors().add({}, "a problem of the whole file");
                                });
  EXPECT_THAT(errors,
              ElementsAre("t.toml:3:8: b.port: expected an integer between 1 and 65535, got a string",
                          "t.toml:5:9: a.level: expected an integer between 1 and 10, got 99",
                          "t.toml: a problem of the whole file"));
}

TEST(TomlSection, UnknownKeyListsWhatWasAskedForAndSuggests) {
  const auto errors = errors_of("[web]\nlisten = \"0.0.0.0\"\nprot = 80\n", [](Section& root) {
    auto web = root.section("web");
    web->string("listen");
    web->integer("port", 1, 65535);
    web->finish();
    root.finish();
  });
  EXPECT_THAT(errors, ElementsAre("t.toml:3:1: unknown key 'prot' in [web]; expected one of: "
                                  "listen, port (did you mean 'port'?)"));
}

TEST(TomlSection, MissingRequiredKeysNameTheirTable) {
  const auto errors = errors_of("[device]\n", [](Section& root) {
    root.section("device")->string("model", true, "the model's name");
    root.section("transport", true, "the [transport] table");
  });
  EXPECT_THAT(errors, ElementsAre("t.toml:1:1: device: missing required key 'model' (the model's name)",
                                  HasSubstr("missing required key 'transport' (the [transport] table)")));
}

TEST(TomlSection, SyntaxErrorCarriesLineAndColumn) {
  const auto errors = errors_of("[a]\nx = \n", [](Section&) { FAIL() << "no document to read"; });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("t.toml:2:"));
  EXPECT_THAT(errors[0], HasSubstr("TOML syntax error"));
}

TEST(TomlSection, NumbersChoicesAndBooleans) {
  std::optional<double> ranged, any;
  std::optional<int> level;
  std::optional<bool> on;
  const auto errors = errors_of(R"(
limit = 7.5
scale = -3
mode = "fast"
level = "low"
on = 1
)",
                                [&](Section& root) {
                                  ranged = root.number("limit", 0, 10);
                                  any = root.any_number("scale");
                                  root.choice<int>("mode", {{"slow", 0}, {"normal", 1}});
                                  level = root.choice<int>("level", {{"low", 0}, {"high", 1}});
                                  on = root.boolean("on");
                                });
  EXPECT_EQ(ranged, 7.5);
  EXPECT_EQ(any, -3);
  EXPECT_EQ(level, 0);
  EXPECT_EQ(on, std::nullopt);
  EXPECT_THAT(errors, ElementsAre("t.toml:4:8: mode: expected one of \"slow\", \"normal\", got \"fast\"",
                                  "t.toml:6:6: on: expected true or false, got an integer"));
}

TEST(TomlSection, ArraysOfStringsAndNumbers) {
  std::optional<std::vector<std::string>> docs;
  std::optional<std::vector<double>> sentinels;
  const auto errors = errors_of("docs = [\"a\", \"b\"]\nsentinels = [65535, 2.5]\nbad = [\"x\", 3]\n",
                                [&](Section& root) {
                                  docs = root.strings("docs");
                                  sentinels = root.numbers("sentinels");
                                  root.strings("bad");
                                });
  EXPECT_EQ(docs, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(sentinels, (std::vector<double>{65535, 2.5}));
  EXPECT_THAT(errors, ElementsAre("t.toml:3:13: bad: expected an array of strings; item 2 is an integer"));
}

TEST(TomlSection, WordTablesByStringAndByIntegerKey) {
  std::optional<std::map<std::int64_t, std::string>> raw;
  std::optional<std::map<std::string, std::string>> payload;
  const auto errors = errors_of(R"(
raw = { 0 = "unplugged", "0x10" = "fault" }
payload = { "3" = "charging" }
bad_key = { one = "x" }
bad_word = { 1 = 2 }
)",
                                [&](Section& root) {
                                  raw = root.integer_keyed_table("raw");
                                  payload = root.string_table("payload");
                                  root.integer_keyed_table("bad_key");
                                  root.string_table("bad_word");
                                });
  EXPECT_EQ(raw, (std::map<std::int64_t, std::string>{{0, "unplugged"}, {16, "fault"}}));
  EXPECT_EQ(payload, (std::map<std::string, std::string>{{"3", "charging"}}));
  EXPECT_THAT(errors, ElementsAre(HasSubstr("t.toml:4:13: bad_key.one: expected an integer"),
                                  "t.toml:5:18: bad_word.1: expected a string, got an integer"));
}

TEST(TomlSection, NamedSectionsCarryTheirNameIntoMessages) {
  std::vector<std::string> names;
  const auto errors = errors_of(R"(
[points.power_w]
address = 1
[points.state]
adress = 2
[points]
loose = 3
)",
                                [&](Section& root) {
                                  for (auto& [name, point] : root.named_sections("points", "[points.<name>] tables")) {
                                    names.push_back(name);
                                    point.integer("address", 0, 65535, true);
                                    point.finish();
                                  }
                                });
  EXPECT_THAT(names, ElementsAre("power_w", "state"));
  EXPECT_THAT(errors,
              ElementsAre("t.toml:4:1: points.state: missing required key 'address' (an integer between 0 and 65535)",
                          "t.toml:5:1: unknown key 'adress' in [points.state]; expected one of: address "
                          "(did you mean 'address'?)",
                          "t.toml:7:9: points.loose: expected a table [points.loose], got an integer"));
}

TEST(TomlSection, ArrayElementsAreNumberedFromOne) {
  const auto errors = errors_of("[[charger]]\nid = \"a\"\n[[charger]]\nid = 7\nkid = 1\n", [](Section& root) {
    int n = 0;
    for (const toml::table* t : root.tables("charger")) {
      Section charger = root.element("charger", ++n, *t);
      charger.string("id");
      charger.finish();
    }
  });
  EXPECT_THAT(errors, ElementsAre("t.toml:4:6: charger[2].id: expected a string, got an integer",
                                  "t.toml:5:1: unknown key 'kid' in [[charger]] #2; expected one of: id "
                                  "(did you mean 'id'?)"));
}

TEST(TomlSection, WarningsAreKeptApartFromErrors) {
  Errors errors("t.toml");
  errors.warn({}, "no transformer meter");
  EXPECT_TRUE(errors.empty());
  EXPECT_THAT(errors.warnings(), ElementsAre("t.toml: warning: no transformer meter"));
}

}  // namespace
}  // namespace orderly::toml_section

// The bounded JSON parse every outside input goes through: limits hit say which, ordinary
// documents pass unchanged, and a hostile document is refused without recursion.
#include <gtest/gtest.h>

#include <string>

#include "orderly/base/bounded_json.hpp"

namespace orderly::bounded_json {
namespace {

std::string nested_arrays(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(BoundedJson, OrdinaryDocumentParsesUnchanged) {
  const auto p = parse(R"({"v": 1, "a": [1, {"b": null}], "s": "x"})", {1024});
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.value, nlohmann::json::parse(R"({"v": 1, "a": [1, {"b": null}], "s": "x"})"));
}

TEST(BoundedJson, DepthUpToTheLimitPassesOneMoreIsRefused) {
  const Limits limits{1 << 20, 4};
  EXPECT_TRUE(parse(nested_arrays(4), limits).ok());
  const auto p = parse(nested_arrays(5), limits);
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.error, "nested deeper than 4 levels");
  EXPECT_TRUE(p.value.is_discarded());
  EXPECT_EQ(p.error_byte, 0u);
  // Objects count as levels too, mixed with arrays.
  EXPECT_FALSE(parse(R"({"a": [{"b": [{}]}]})", limits).ok());
  EXPECT_TRUE(parse(R"({"a": [{"b": []}]})", limits).ok());
}

// The issue's crash: 64 KiB of "[" is refused quickly; before, quoting it in an error message
// recursed once per level.
TEST(BoundedJson, SixtyFourKibOfNestingIsRefusedAtTheDefaultDepth) {
  const auto p = parse(nested_arrays(32 * 1024), {64 * 1024});
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.error, "nested deeper than " + std::to_string(kDefaultMaxDepth) + " levels");
  // Unterminated, as a truncated attack would be: still the depth, not a syntax error.
  EXPECT_EQ(parse(std::string(60000, '['), {64 * 1024}).error, p.error);
}

TEST(BoundedJson, SizeOverTheLimitIsRefusedBeforeParsing) {
  const std::string text = "\"" + std::string(100, 'x') + "\"";
  EXPECT_TRUE(parse(text, {text.size()}).ok());
  const auto p = parse(text, {text.size() - 1});
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.error, "102 bytes, over the limit of 101 bytes");
}

TEST(BoundedJson, SyntaxErrorsSayWhereWithoutNlohmannsPrefix) {
  const auto p = parse("{\"a\": ,}", {1024});
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(p.error.rfind("not valid JSON: syntax error", 0), 0u) << p.error;
  EXPECT_EQ(p.error.find("[json.exception"), std::string::npos) << p.error;
  EXPECT_EQ(p.error_byte, 7u);
  EXPECT_FALSE(parse("", {1024}).ok());
  EXPECT_FALSE(parse("\"\xff\"", {1024}).ok());  // invalid UTF-8 never reaches dump()
  EXPECT_EQ(parse("[1e999]", {1024}).error, "not valid JSON: number overflow parsing '1e999'");
}

TEST(BoundedJson, CommentsOnlyWhereAllowed) {
  const std::string text = "{\"a\": 1 // why\n}";
  EXPECT_FALSE(parse(text, {1024}).ok());
  EXPECT_TRUE(parse(text, {1024, kDefaultMaxDepth, true}).ok());
}

}  // namespace
}  // namespace orderly::bounded_json

#pragma once
// Reading a TOML file one section at a time, the way orderly.toml and the device profiles are
// read. Problems are collected, not thrown, so an installer fixes a whole file in one pass
// instead of one error per start; each reads `file:line:column: key: what is wrong; what is
// expected`. Every key is read through a Section, which records the keys it was asked for, so
// "unknown key" errors list exactly what the code understands and a key added to the code can
// never be forgotten in that list.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

namespace orderly::toml_section {

std::string join(const std::vector<std::string>& items, const char* sep);
// A number as a reader wrote it: 7.4, not 7.400000.
std::string number_text(double v);
// What a node is, for "expected ..., got a string".
const char* node_type_name(const toml::node& n);

// The problems found in one file, and the warnings (not fatal) beside them.
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}

  // "file:line:column", or just the file for a problem of the whole file.
  std::string where(const toml::source_region& at) const;
  void add(const toml::source_region& at, const std::string& message);
  void warn(const toml::source_region& at, const std::string& message);
  bool empty() const { return errors_.empty(); }
  // So a reader can skip a check that would only repeat a problem already reported.
  std::size_t count() const { return errors_.size(); }
  // In file order, so an installer can walk down the file; problems without a position last.
  std::vector<std::string> errors() const;
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  struct Entry {
    std::uint32_t line;
    std::uint32_t column;
    std::string text;
  };
  std::string source_;
  std::vector<Entry> errors_;
  std::vector<std::string> warnings_;
};

// The document in `text`; nullopt after adding its syntax error to `errors`.
std::optional<toml::table> parse(std::string_view text, Errors& errors);

// One TOML table being read. `path` names it in messages ("site.transformer", "charger[2]"),
// `header` in unknown-key errors ("[site.transformer]", "[[charger]] #2").
//
// Getters return nullopt when the key is absent or its value is wrong (the error is recorded),
// so a caller keeps its default and reads on.
class Section {
 public:
  Section(Errors& errors, const toml::table& table, std::string path, std::string header)
      : errors_(errors), table_(table), path_(std::move(path)), header_(std::move(header)),
        toml_name_(path_) {}

  // The n-th (from 1) table of the array of tables `key` below this one: "charger[2]" in
  // messages, "[[charger]] #2" in unknown-key errors.
  Section element(std::string_view key, int n, const toml::table& table);
  // The table under `key`, named "path.key" in messages and "[path.key]" in unknown-key errors.
  std::optional<Section> section(std::string_view key, bool required = false,
                                 const std::string& what = "a table");
  // The tables under `key` whose names are chosen by the file ([points.<name>]): each with its
  // name, in the order of the names. Empty when `key` is absent.
  std::vector<std::pair<std::string, Section>> named_sections(std::string_view key,
                                                              const std::string& what);

  const std::string& path() const { return path_; }
  const toml::table& table() const { return table_; }
  Errors& errors() { return errors_; }
  std::string key_path(std::string_view key) const;

  // The node under `key`, or null. Marks the key as understood either way.
  const toml::node* take(std::string_view key);

  void error(const toml::node* at, std::string_view key, const std::string& message);
  void missing(std::string_view key, const std::string& what);

  std::optional<std::string> string(std::string_view key, bool required = false,
                                    const std::string& what = "a string");
  std::optional<double> number(std::string_view key, double lo, double hi, bool required = false,
                               const std::string& what = "");
  // Any number, for a caller that checks the range itself with a message of its own.
  std::optional<double> any_number(std::string_view key, bool required = false,
                                   const std::string& what = "a number");
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi,
                                      bool required = false);
  std::optional<bool> boolean(std::string_view key);

  template <typename T>
  std::optional<T> choice(std::string_view key,
                          const std::vector<std::pair<std::string, T>>& options,
                          bool required = false) {
    std::vector<std::string> names;
    for (const auto& o : options) names.push_back("\"" + o.first + "\"");
    const std::string expected = "one of " + join(names, ", ");
    const auto word = string(key, required, expected);
    if (!word) return std::nullopt;
    for (const auto& o : options) {
      if (o.first == *word) return o.second;
    }
    error(table_.get(key), key, "expected " + expected + ", got \"" + *word + "\"");
    return std::nullopt;
  }

  // Arrays of one type: ["a", "b"], [1, 2.5].
  std::optional<std::vector<std::string>> strings(std::string_view key);
  std::optional<std::vector<double>> numbers(std::string_view key);
  // A table of words by key: { "3" = "charging" }.
  std::optional<std::map<std::string, std::string>> string_table(std::string_view key);
  // The same with integer keys, written the way register tables write them (strtoll, base 0):
  // { 0 = "unplugged", "0x10" = "fault" }.
  std::optional<std::map<std::int64_t, std::string>> integer_keyed_table(std::string_view key);

  const toml::table* subtable(std::string_view key, bool required = false,
                              const std::string& what = "a table");
  // An array of tables ([[key]]); an empty vector when absent.
  std::vector<const toml::table*> tables(std::string_view key, bool required = false,
                                         const std::string& what = "");

  // Reports keys nobody asked for; call after reading every key.
  void finish();

 private:
  // The node under `key` when `accepts` it; else null, with the key reported missing
  // (`missing_what` says what it should hold) or of the wrong type (`expected`).
  const toml::node* typed(std::string_view key, bool required, const std::string& missing_what,
                          const std::string& expected, bool (*accepts)(const toml::node&));
  template <typename T>
  std::optional<std::vector<T>> array(std::string_view key, const std::string& what);
  template <typename Key, typename ParseKey>
  std::optional<std::map<Key, std::string>> words(std::string_view key,
                                                  const std::string& key_what,
                                                  ParseKey parse_key);

  Errors& errors_;
  const toml::table& table_;
  std::string path_;
  std::string header_;
  std::string toml_name_;  // path without element numbers: "tariff.schedule"
  std::vector<std::string> known_;
};

// Keeps `target`'s default when the key was absent or wrong.
template <typename T>
void assign(T& target, const std::optional<T>& value) {
  if (value) target = *value;
}
inline void assign(int& target, const std::optional<std::int64_t>& value) {
  if (value) target = static_cast<int>(*value);
}

}  // namespace orderly::toml_section

#include "orderly/base/toml_section.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

namespace orderly::toml_section {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <typename T>
bool holds(const toml::node& n);
template <>
bool holds<std::string>(const toml::node& n) {
  return n.is_string();
}
template <>
bool holds<double>(const toml::node& n) {
  return n.is_number();
}

// Register tables write values in decimal or hex ("3", "0x10"); strtoll with base 0 reads both.
std::optional<std::int64_t> integer_text(const std::string& text) {
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(text, &used, 0);
    if (used == text.size()) return v;
  } catch (const std::logic_error&) {
    // std::invalid_argument or std::out_of_range: the caller reports the key
  }
  return std::nullopt;
}

}  // namespace

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

const char* node_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// ---- Errors ---------------------------------------------------------------------------------

std::string Errors::where(const toml::source_region& at) const {
  if (at.begin.line == 0) return source_;
  return source_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column);
}

void Errors::add(const toml::source_region& at, const std::string& message) {
  errors_.push_back({at.begin.line, at.begin.column, where(at) + ": " + message});
}

void Errors::warn(const toml::source_region& at, const std::string& message) {
  warnings_.push_back(where(at) + ": warning: " + message);
}

std::vector<std::string> Errors::errors() const {
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    const auto key = [](const Entry& e) {
      return std::pair(e.line == 0 ? std::numeric_limits<std::uint32_t>::max() : e.line,
                       e.column);
    };
    return key(a) < key(b);
  });
  std::vector<std::string> out;
  for (auto& e : sorted) out.push_back(std::move(e.text));
  return out;
}

std::optional<toml::table> parse(std::string_view text, Errors& errors) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    errors.add(e.source(), "TOML syntax error: " + std::string(e.description()));
    return std::nullopt;
  }
}

// ---- Section --------------------------------------------------------------------------------

Section Section::element(std::string_view key, int n, const toml::table& table) {
  const std::string toml_name = (toml_name_.empty() ? "" : toml_name_ + ".") + std::string(key);
  Section s(errors_, table, key_path(key) + "[" + std::to_string(n) + "]",
            "[[" + toml_name + "]] #" + std::to_string(n));
  s.toml_name_ = toml_name;
  return s;
}

std::optional<Section> Section::section(std::string_view key, bool required,
                                        const std::string& what) {
  const toml::table* t = subtable(key, required, what);
  if (!t) return std::nullopt;
  // Appended, not "[" + path + "]": GCC 12 warns falsely (-Wrestrict, its bug 105329) on that.
  std::string header = "[";
  header += key_path(key);
  header += ']';
  Section s(errors_, *t, key_path(key), std::move(header));
  s.toml_name_ = (toml_name_.empty() ? "" : toml_name_ + ".") + std::string(key);
  return s;
}

std::vector<std::pair<std::string, Section>> Section::named_sections(std::string_view key,
                                                                     const std::string& what) {
  std::vector<std::pair<std::string, Section>> out;
  auto container = section(key, false, what);
  if (!container) return out;
  for (const auto& [name, node] : container->table()) {
    const std::string name_text(name.str());
    const std::string path = container->key_path(name_text);
    if (const toml::table* t = node.as_table()) {
      Section s(errors_, *t, path, "[" + path + "]");
      s.toml_name_ = container->toml_name_ + "." + name_text;
      out.emplace_back(name_text, std::move(s));
    } else {
      errors_.add(node.source(), path + ": expected a table [" + path + "], got " +
                                     node_type_name(node));
    }
  }
  return out;
}

std::string Section::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* Section::take(std::string_view key) {
  known_.emplace_back(key);
  return table_.get(key);
}

void Section::error(const toml::node* at, std::string_view key, const std::string& message) {
  errors_.add(at ? at->source() : table_.source(), key_path(key) + ": " + message);
}

void Section::missing(std::string_view key, const std::string& what) {
  errors_.add(table_.source(), (path_.empty() ? "" : path_ + ": ") + "missing required key '" +
                                   std::string(key) + "' (" + what + ")");
}

const toml::node* Section::typed(std::string_view key, bool required,
                                 const std::string& missing_what, const std::string& expected,
                                 bool (*accepts)(const toml::node&)) {
  const toml::node* n = take(key);
  if (!n) {
    if (required) missing(key, missing_what);
    return nullptr;
  }
  if (!accepts(*n)) {
    error(n, key, "expected " + expected + ", got " + node_type_name(*n));
    return nullptr;
  }
  return n;
}

std::optional<std::string> Section::string(std::string_view key, bool required,
                                           const std::string& what) {
  const toml::node* n =
      typed(key, required, what, what, [](const toml::node& x) { return x.is_string(); });
  if (!n) return std::nullopt;
  return *n->value<std::string>();
}

std::optional<double> Section::number(std::string_view key, double lo, double hi, bool required,
                                      const std::string& what) {
  const std::string range = "a number between " + number_text(lo) + " and " + number_text(hi);
  const toml::node* n = typed(key, required, what.empty() ? range : what + ", " + range, range,
                              [](const toml::node& x) { return x.is_number(); });
  if (!n) return std::nullopt;
  const double v = *n->value<double>();
  if (!(v >= lo && v <= hi)) {
    error(n, key, "expected " + range + ", got " + number_text(v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> Section::any_number(std::string_view key, bool required,
                                          const std::string& what) {
  const toml::node* n =
      typed(key, required, what, what, [](const toml::node& x) { return x.is_number(); });
  if (!n) return std::nullopt;
  return *n->value<double>();
}

std::optional<std::int64_t> Section::integer(std::string_view key, std::int64_t lo,
                                             std::int64_t hi, bool required) {
  const std::string range =
      "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  const toml::node* n =
      typed(key, required, range, range, [](const toml::node& x) { return x.is_integer(); });
  if (!n) return std::nullopt;
  const std::int64_t v = *n->value<std::int64_t>();
  if (v < lo || v > hi) {
    error(n, key, "expected " + range + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Section::boolean(std::string_view key) {
  const toml::node* n =
      typed(key, false, "", "true or false", [](const toml::node& x) { return x.is_boolean(); });
  if (!n) return std::nullopt;
  return *n->value<bool>();
}

template <typename T>
std::optional<std::vector<T>> Section::array(std::string_view key, const std::string& what) {
  const toml::node* n =
      typed(key, false, what, what, [](const toml::node& x) { return x.is_array(); });
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  std::vector<T> out;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const toml::node& e = (*a)[i];
    if (!holds<T>(e)) {
      error(&e, key, "expected " + what + "; item " + std::to_string(i + 1) + " is " +
                         node_type_name(e));
      return std::nullopt;
    }
    out.push_back(*e.value<T>());
  }
  return out;
}

std::optional<std::vector<std::string>> Section::strings(std::string_view key) {
  return array<std::string>(key, "an array of strings");
}

std::optional<std::vector<double>> Section::numbers(std::string_view key) {
  return array<double>(key, "an array of numbers");
}

template <typename Key, typename ParseKey>
std::optional<std::map<Key, std::string>> Section::words(std::string_view key,
                                                         const std::string& key_what,
                                                         ParseKey parse_key) {
  const toml::table* t = subtable(key, false, "a table of " + key_what + " = \"word\"");
  if (!t) return std::nullopt;
  std::map<Key, std::string> out;
  bool ok = true;
  for (const auto& [k, v] : *t) {
    const std::string entry = key_path(key) + "." + std::string(k.str());
    const std::optional<Key> parsed = parse_key(std::string(k.str()));
    if (!parsed) {
      errors_.add(k.source(), entry + ": expected " + key_what + " as the key");
      ok = false;
    }
    const toml::value<std::string>* word = v.as_string();
    if (!word) {
      errors_.add(v.source(), entry + ": expected a string, got " + node_type_name(v));
      ok = false;
    }
    if (parsed && word) out.emplace(*parsed, word->get());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> Section::string_table(std::string_view key) {
  return words<std::string>(key, "a value like \"3\"",
                            [](const std::string& k) { return std::optional<std::string>(k); });
}

std::optional<std::map<std::int64_t, std::string>> Section::integer_keyed_table(
    std::string_view key) {
  return words<std::int64_t>(key, "an integer like 3 or \"0x10\"", integer_text);
}

const toml::table* Section::subtable(std::string_view key, bool required,
                                     const std::string& what) {
  const toml::node* n =
      typed(key, required, what, what, [](const toml::node& x) { return x.is_table(); });
  return n ? n->as_table() : nullptr;
}

std::vector<const toml::table*> Section::tables(std::string_view key, bool required,
                                                const std::string& what) {
  const std::string expected = "one or more [[" + key_path(key) + "]]";
  const toml::node* n = typed(key, required, what.empty() ? expected : what, expected + " tables",
                              [](const toml::node& x) { return x.is_array_of_tables(); });
  std::vector<const toml::table*> out;
  if (!n) return out;
  for (const toml::node& e : *n->as_array()) out.push_back(e.as_table());
  return out;
}

void Section::finish() {
  for (const auto& [k, v] : table_) {
    const std::string_view key = k.str();
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string message = "unknown key '" + std::string(key) + "' in " + header_ +
                          "; expected one of: " + join(known_, ", ");
    for (const auto& candidate : known_) {
      if (edit_distance(candidate, key) <= 2) {
        message += " (did you mean '" + candidate + "'?)";
        break;
      }
    }
    errors_.add(k.source(), message);
  }
}

}  // namespace orderly::toml_section

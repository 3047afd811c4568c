// Parsing and validation of orderly.toml. Every key is read through a Section, which records the
// keys it was asked for, so "unknown key" errors list exactly what the code understands and a
// key added to the code can never be forgotten in that list.
#include "orderly/base/units.hpp"
#include "orderly/gateway/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include <toml++/toml.h>

#include "orderly/drivers/profile.hpp"

namespace orderly::gateway {

namespace {

// 32 A on one phase at the nominal voltage is 7.36 kW; a rated power above this cannot be one phase.
constexpr double kSinglePhaseMaxKw = 7.4;
static_assert(kSinglePhaseMaxKw >= 32 * kNominalPhaseVoltageV / 1000.0);

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

// Ids appear in MQTT topics, Mosquitto ACLs (packaging/orderly-add-device), URLs and SQLite
// rows: keep them to an alphabet that is safe in all of them.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}

  std::string where(const toml::source_region& at) const {
    if (at.begin.line == 0) return source_;
    return source_ + ":" + std::to_string(at.begin.line) + ":" + std::to_string(at.begin.column);
  }
  void add(const toml::source_region& at, const std::string& message) {
    errors_.push_back({at.begin.line, at.begin.column, where(at) + ": " + message});
  }
  void warn(const toml::source_region& at, const std::string& message) {
    warnings_.push_back(where(at) + ": warning: " + message);
  }
  bool empty() const { return errors_.empty(); }
  // In file order, so an installer can walk down the file; problems without a position last.
  std::vector<std::string> errors() const {
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

// One TOML table being read. `path` names it in messages ("site.transformer", "charger[2]").
class Section {
 public:
  Section(Errors& errors, const toml::table& table, std::string path, std::string header)
      : errors_(errors), table_(table), path_(std::move(path)), header_(std::move(header)),
        toml_name_(path_) {}

  // The n-th (from 1) table of the array of tables `key` below this one: "charger[2]" in
  // messages, "[[charger]] #2" in unknown-key errors.
  Section element(std::string_view key, int n, const toml::table& table) {
    const std::string toml_name = (toml_name_.empty() ? "" : toml_name_ + ".") + std::string(key);
    Section s(errors_, table,
              (path_.empty() ? "" : path_ + ".") + std::string(key) + "[" + std::to_string(n) + "]",
              "[[" + toml_name + "]] #" + std::to_string(n));
    s.toml_name_ = toml_name;
    return s;
  }

  const std::string& path() const { return path_; }
  const toml::table& table() const { return table_; }
  Errors& errors() { return errors_; }
  std::string key_path(std::string_view key) const { return path_ + "." + std::string(key); }

  // The node under `key`, or null. Marks the key as understood either way.
  const toml::node* take(std::string_view key) {
    known_.emplace_back(key);
    return table_.get(key);
  }

  void error(const toml::node* at, std::string_view key, const std::string& message) {
    errors_.add(at ? at->source() : table_.source(), key_path(key) + ": " + message);
  }
  void missing(std::string_view key, const std::string& what) {
    errors_.add(table_.source(), path_ + ": missing required key '" + std::string(key) + "' (" +
                                     what + ")");
  }

  std::optional<std::string> string(std::string_view key, bool required = false,
                                    const std::string& what = "a string") {
    const toml::node* n = take(key);
    if (!n) {
      if (required) missing(key, what);
      return std::nullopt;
    }
    if (auto s = n->value<std::string>(); s && n->is_string()) return *s;
    error(n, key, "expected " + what + ", got " + node_type_name(*n));
    return std::nullopt;
  }

  std::optional<std::string> id(std::string_view key, bool required, const std::string& what) {
    auto s = string(key, required, what);
    if (s && !valid_id(*s)) {
      error(table_.get(key), key,
            "'" + *s + "' is not a valid id; use 1-64 letters, digits, '-' or '_'");
      return std::nullopt;
    }
    return s;
  }

  std::optional<double> number(std::string_view key, double lo, double hi, bool required = false,
                               const std::string& what = "") {
    const toml::node* n = take(key);
    const std::string range =
        "a number between " + number_text(lo) + " and " + number_text(hi);
    if (!n) {
      if (required) missing(key, what.empty() ? range : what + ", " + range);
      return std::nullopt;
    }
    if (!n->is_number()) {
      error(n, key, "expected " + range + ", got " + node_type_name(*n));
      return std::nullopt;
    }
    const double v = *n->value<double>();
    if (!(v >= lo && v <= hi)) {
      error(n, key, "expected " + range + ", got " + number_text(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi,
                                      bool required = false) {
    const toml::node* n = take(key);
    const std::string range =
        "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
    if (!n) {
      if (required) missing(key, range);
      return std::nullopt;
    }
    if (!n->is_integer()) {
      error(n, key, "expected " + range + ", got " + node_type_name(*n));
      return std::nullopt;
    }
    const std::int64_t v = *n->value<std::int64_t>();
    if (v < lo || v > hi) {
      error(n, key, "expected " + range + ", got " + std::to_string(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = take(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
      error(n, key, std::string("expected true or false, got ") + node_type_name(*n));
      return std::nullopt;
    }
    return *n->value<bool>();
  }

  template <typename T>
  std::optional<T> choice(std::string_view key, const std::vector<std::pair<std::string, T>>& options,
                          bool required = false) {
    std::vector<std::string> names;
    for (const auto& o : options) names.push_back("\"" + o.first + "\"");
    const std::string expected = "one of " + join(names, ", ");
    const toml::node* n = take(key);
    if (!n) {
      if (required) missing(key, expected);
      return std::nullopt;
    }
    if (n->is_string()) {
      const std::string s = *n->value<std::string>();
      for (const auto& o : options) {
        if (o.first == s) return o.second;
      }
      error(n, key, "expected " + expected + ", got \"" + s + "\"");
      return std::nullopt;
    }
    error(n, key, "expected " + expected + ", got " + node_type_name(*n));
    return std::nullopt;
  }

  const toml::table* subtable(std::string_view key, bool required = false,
                              const std::string& what = "a table") {
    const toml::node* n = take(key);
    if (!n) {
      if (required) missing(key, what);
      return nullptr;
    }
    if (!n->is_table()) {
      error(n, key, "expected " + what + ", got " + node_type_name(*n));
      return nullptr;
    }
    return n->as_table();
  }

  // An array of tables ([[key]]); an empty vector when absent.
  std::vector<const toml::table*> tables(std::string_view key, bool required = false,
                                         const std::string& what = "") {
    std::vector<const toml::table*> out;
    const toml::node* n = take(key);
    if (!n) {
      if (required) missing(key, what.empty() ? "one or more [[" + key_path(key) + "]]" : what);
      return out;
    }
    if (!n->is_array_of_tables()) {
      error(n, key, "expected one or more [[" + key_path(key) + "]] tables, got " +
                        node_type_name(*n));
      return out;
    }
    for (const toml::node& e : *n->as_array()) out.push_back(e.as_table());
    return out;
  }

  // Reports keys nobody asked for; call after reading every key.
  void finish() {
    for (const auto& [k, v] : table_) {
      const std::string_view key = k.str();
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string message =
          "unknown key '" + std::string(key) + "' in " + header_ + "; expected one of: " +
          join(known_, ", ");
      for (const auto& candidate : known_) {
        if (edit_distance(candidate, key) <= 2) {
          message += " (did you mean '" + candidate + "'?)";
          break;
        }
      }
      errors_.add(k.source(), message);
    }
  }

 private:
  Errors& errors_;
  const toml::table& table_;
  std::string path_;
  std::string header_;
  std::string toml_name_;  // path without element numbers: "tariff.schedule"
  std::vector<std::string> known_;
};

template <typename T>
void assign(T& target, const std::optional<T>& value) {
  if (value) target = *value;
}
void assign(int& target, const std::optional<std::int64_t>& value) {
  if (value) target = static_cast<int>(*value);
}

const std::vector<std::pair<std::string, Phase>> kPhases = {
    {"A", Phase::A}, {"B", Phase::B}, {"C", Phase::C}, {"ABC", Phase::ABC}};
const std::vector<std::pair<std::string, DriverKind>> kDrivers = {{"mqtt", DriverKind::mqtt},
                                                                  {"profile", DriverKind::profile}};

// ---- site -----------------------------------------------------------------------------------

std::optional<std::chrono::minutes> parse_utc_offset(std::string_view s) {
  // "+08:00" / "-05:30" / "Z"; fixed offsets only, because the tariff is defined in local
  // standard time and China has no daylight saving.
  if (s == "Z") return std::chrono::minutes(0);
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return std::nullopt;
  auto digit = [&](std::size_t i) { return s[i] >= '0' && s[i] <= '9'; };
  if (!digit(1) || !digit(2) || !digit(4) || !digit(5)) return std::nullopt;
  const int h = (s[1] - '0') * 10 + (s[2] - '0');
  const int m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14 || m > 59) return std::nullopt;
  const int total = h * 60 + m;
  return std::chrono::minutes(s[0] == '-' ? -total : total);
}

void read_site(Section& root, Config& c) {
  const toml::table* t = root.subtable("site", true, "the [site] section");
  if (!t) return;
  Section s(root.errors(), *t, "site", "[site]");
  assign(c.site.name, s.string("name", true, "the community's name, shown in the UI"));
  if (auto off = s.string("utc_offset", false, "a UTC offset like \"+08:00\"")) {
    if (auto parsed = parse_utc_offset(*off)) {
      c.site.utc_offset = *parsed;
      c.site.utc_offset_text = *off;
    } else {
      s.error(t->get("utc_offset"), "utc_offset",
              "expected a fixed UTC offset like \"+08:00\" (China Standard Time), got \"" +
                  *off + "\"");
    }
  }
  if (const toml::table* tt = s.subtable("transformer", true, "the [site.transformer] section")) {
    Section tr(root.errors(), *tt, "site.transformer", "[site.transformer]");
    auto& x = c.site.transformer;
    assign(x.id, tr.id("id", false, "the transformer's id"));
    assign(x.limit_kw, tr.number("limit_kw", 1, 100000, true,
                                 "the power the site may draw in kW, e.g. 400 kVA x 0.9 = 360"));
    x.rated_kva = tr.number("rated_kva", 1, 100000);
    const char* phase_keys[3] = {"phase_a_limit_kw", "phase_b_limit_kw", "phase_c_limit_kw"};
    for (int p = 0; p < 3; ++p) x.phase_limit_kw[p] = tr.number(phase_keys[p], 0.1, 100000);
    if (x.rated_kva && x.limit_kw > *x.rated_kva) {
      tr.error(tt->get("limit_kw"), "limit_kw",
               "limit_kw " + number_text(x.limit_kw) + " exceeds rated_kva " +
                   number_text(*x.rated_kva) + "; the limit must stay within the rating");
    }
    tr.finish();
  }
  s.finish();
}

void read_capacity(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("capacity")) {
    Section s = root.element("capacity", ++index, *t);
    CapacityNodeConfig n;
    assign(n.id, s.id("id", true, "the node's id"));
    assign(n.parent, s.id("parent", false, "the parent node's id"));
    assign(n.limit_kw, s.number("limit_kw", 0.1, 100000, true, "the node's limit in kW"));
    assign(n.phase, s.choice("phase", kPhases));
    s.finish();
    c.capacity.push_back(n);
    where.push_back(t);
  }
}

// ---- tariff ---------------------------------------------------------------------------------

std::optional<int> parse_clock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

std::optional<TimeOfDayRange> parse_range(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = parse_clock(s.substr(0, dash));
  auto b = parse_clock(s.substr(dash + 1));
  if (!a || !b || *a == 1440 || *a == *b) return std::nullopt;
  return TimeOfDayRange{*a, *b};
}

std::string clock_text(int minute) {
  const int h = minute / 60, m = minute % 60;
  return std::string{static_cast<char>('0' + h / 10), static_cast<char>('0' + h % 10), ':',
                     static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
}

const char* kPeriodNames[kPeriodCount] = {"sharp", "peak", "flat", "valley"};

std::vector<int> read_months(Section& s, std::string_view key, bool* present) {
  std::vector<int> months;
  const toml::node* n = s.take(key);
  *present = n != nullptr;
  if (!n) return months;
  const toml::array* a = n->as_array();
  bool ok = a != nullptr;
  if (a) {
    for (const toml::node& e : *a) {
      const auto v = e.value<std::int64_t>();
      if (!e.is_integer() || *v < 1 || *v > 12) {
        ok = false;
        break;
      }
      if (std::find(months.begin(), months.end(), *v) != months.end()) {
        s.error(&e, key, "month " + std::to_string(*v) + " is listed twice");
        continue;
      }
      months.push_back(static_cast<int>(*v));
    }
  }
  if (!ok) s.error(n, key, "expected an array of months 1..12, e.g. [7, 8]");
  return months;
}

void read_season(Section& s, TariffSeason& season) {
  const toml::table& t = s.table();
  assign(season.name, s.string("name"));
  bool months_present = false;
  season.months = read_months(s, "months", &months_present);
  if (!months_present) {
    for (int m = 1; m <= 12; ++m) season.months.push_back(m);
  }
  bool sharp_months_present = false;
  season.sharp_months = read_months(s, "sharp_months", &sharp_months_present);
  for (int m : season.sharp_months) {
    if (std::find(season.months.begin(), season.months.end(), m) == season.months.end()) {
      s.error(t.get("sharp_months"), "sharp_months",
              "month " + std::to_string(m) + " is not one of this season's months");
    }
  }

  std::array<bool, kPeriodCount> has_price{};
  if (const toml::table* p = s.subtable("price_yuan_per_kwh", true,
                                        "a table like { peak = 1.0, flat = 0.6, valley = 0.3 }")) {
    Section ps(s.errors(), *p, s.key_path("price_yuan_per_kwh"), s.key_path("price_yuan_per_kwh"));
    for (int i = 0; i < kPeriodCount; ++i) {
      auto v = ps.number(kPeriodNames[i], 0, 20, i != period_index(Period::sharp));
      if (v) season.price_yuan_per_kwh[i] = *v;
      has_price[i] = v.has_value();
    }
    ps.finish();
  }

  const toml::table* h = s.subtable(
      "hours", true, "a table like { valley = [\"23:00-07:00\"], peak = [...], flat = [...] }");
  if (!h) return;
  Section hs(s.errors(), *h, s.key_path("hours"), s.key_path("hours"));
  // owner[minute] = period index covering it (valley/flat/peak must tile the day exactly once).
  std::array<int, 1440> owner;
  owner.fill(-1);
  std::array<bool, 1440> sharp{};
  bool ranges_ok = true;
  for (int i = 0; i < kPeriodCount; ++i) {
    const toml::node* n = hs.take(kPeriodNames[i]);
    if (!n) continue;
    const toml::array* a = n->as_array();
    if (!a) {
      hs.error(n, kPeriodNames[i], "expected an array of ranges like [\"23:00-07:00\"]");
      ranges_ok = false;
      continue;
    }
    for (const toml::node& e : *a) {
      auto text = e.value<std::string>();
      auto range = text && e.is_string() ? parse_range(*text) : std::nullopt;
      if (!range) {
        hs.error(&e, kPeriodNames[i],
                 "expected a range \"HH:MM-HH:MM\" (end may be 24:00 or earlier than start to "
                 "cross midnight), got " +
                     (text ? "\"" + *text + "\"" : std::string(node_type_name(e))));
        ranges_ok = false;
        continue;
      }
      season.ranges[i].push_back(*range);
      for (int m = 0; m < 1440; ++m) {
        if (!range->contains(m)) continue;
        if (i == period_index(Period::sharp)) {
          sharp[m] = true;
        } else if (owner[m] != -1 && owner[m] != i) {
          hs.error(&e, kPeriodNames[i],
                   clock_text(m) + " is already in the " + kPeriodNames[owner[m]] +
                       " hours; every minute belongs to exactly one of peak, flat, valley");
          ranges_ok = false;
          break;
        } else {
          owner[m] = i;
        }
      }
    }
  }
  hs.finish();
  if (!ranges_ok) return;
  for (int m = 0; m < 1440; ++m) {
    if (owner[m] != -1) continue;
    int end = m;
    while (end < 1440 && owner[end] == -1) ++end;
    hs.errors().add(h->source(), hs.path() + ": " + clock_text(m) + "-" + clock_text(end) +
                                     " is in none of peak, flat, valley; every minute of the "
                                     "day needs a period");
    return;
  }
  const bool any_sharp = !season.ranges[period_index(Period::sharp)].empty();
  if (any_sharp && !has_price[period_index(Period::sharp)]) {
    s.errors().add(t.source(), s.path() + ": sharp hours are given but no sharp price; add "
                                          "sharp = <yuan> to price_yuan_per_kwh");
  }
  if (sharp_months_present && !season.sharp_months.empty() && !any_sharp) {
    s.error(t.get("sharp_months"), "sharp_months",
            "sharp_months are given but hours has no sharp ranges");
  }
  // Sharp hours without sharp_months apply in every month of the season.
  if (any_sharp && !sharp_months_present) season.sharp_months = season.months;
  for (int m = 0; m < 1440; ++m) {
    season.period_by_minute[m] = static_cast<Period>(owner[m]);
    season.period_by_minute_sharp[m] = sharp[m] ? Period::sharp : static_cast<Period>(owner[m]);
  }
}

std::optional<std::chrono::year_month_day> read_date(Section& s, std::string_view key) {
  const toml::node* n = s.take(key);
  if (!n) {
    s.missing(key, "the local date the schedule starts, e.g. 2024-01-01");
    return std::nullopt;
  }
  if (auto d = n->value<toml::date>(); d && n->is_date()) {
    std::chrono::year_month_day ymd{std::chrono::year(d->year), std::chrono::month(d->month),
                                    std::chrono::day(d->day)};
    if (ymd.ok()) return ymd;
  }
  s.error(n, key, std::string("expected a date like 2024-01-01 (no quotes), got ") +
                      node_type_name(*n));
  return std::nullopt;
}

void read_tariff(Section& root, Config& c) {
  const toml::table* t = root.subtable("tariff", true, "the [tariff] section");
  if (!t) return;
  Section s(root.errors(), *t, "tariff", "[tariff]");
  int si = 0;
  for (const toml::table* st : s.tables("schedule", true)) {
    Section ss = s.element("schedule", ++si, *st);
    TariffSchedule schedule;
    auto date = read_date(ss, "effective_from");
    if (date) schedule.effective_from = *date;
    int ni = 0;
    std::array<int, 13> month_owner{};
    for (const toml::table* season_table : ss.tables("season", true)) {
      Section sn = ss.element("season", ++ni, *season_table);
      TariffSeason season;
      season.name = "season " + std::to_string(ni);
      read_season(sn, season);
      sn.finish();
      for (int m : season.months) {
        if (month_owner[m] != 0) {
          sn.errors().add(season_table->source(),
                          sn.path() + ": month " + std::to_string(m) + " is also in season " +
                              std::to_string(month_owner[m]) +
                              "; each month belongs to one season");
        }
        month_owner[m] = ni;
      }
      schedule.seasons.push_back(std::move(season));
    }
    if (ni > 0) {
      std::vector<std::string> missing;
      for (int m = 1; m <= 12; ++m) {
        if (month_owner[m] == 0) missing.push_back(std::to_string(m));
      }
      if (!missing.empty()) {
        ss.errors().add(st->source(), ss.path() + ": months " + join(missing, ", ") +
                                          " are in no season; the seasons must cover all 12");
      }
    }
    ss.finish();
    for (const auto& other : c.tariff.schedules) {
      if (date && other.effective_from == *date) {
        ss.errors().add(st->source(), ss.path() + ": two schedules start on the same date");
      }
    }
    c.tariff.schedules.push_back(std::move(schedule));
  }
  s.finish();
  std::stable_sort(c.tariff.schedules.begin(), c.tariff.schedules.end(),
                   [](const TariffSchedule& a, const TariffSchedule& b) {
                     return a.effective_from < b.effective_from;
                   });
}

// ---- communication --------------------------------------------------------------------------

void read_mqtt(Section& root, Config& c) {
  const toml::table* t = root.subtable("mqtt");
  if (!t) return;
  Section s(root.errors(), *t, "mqtt", "[mqtt]");
  auto& m = c.mqtt;
  assign(m.host, s.string("host", false, "a host name or address"));
  assign(m.port, s.integer("port", 1, 65535));
  assign(m.client_id, s.string("client_id"));
  assign(m.username, s.string("username"));
  assign(m.password, s.string("password"));
  if (auto f = s.string("password_file", false, "a file path")) m.password_file = *f;
  if (!m.password.empty() && !m.password_file.empty()) {
    s.error(t->get("password_file"), "password_file",
            "give either password or password_file, not both");
  }
  if (auto p = s.string("topic_prefix")) {
    if (p->empty() || p->front() == '/' || p->back() == '/' ||
        p->find_first_of("+#") != std::string::npos) {
      s.error(t->get("topic_prefix"), "topic_prefix",
              "expected topic levels like \"orderly/v1\" (no leading or trailing '/', no + or #)");
    } else {
      m.topic_prefix = *p;
    }
  }
  assign(m.keepalive_s, s.integer("keepalive_s", 5, 3600));
  assign(m.tls, s.boolean("tls"));
  if (auto f = s.string("ca_file")) m.ca_file = *f;
  if (auto f = s.string("cert_file")) m.cert_file = *f;
  if (auto f = s.string("key_file")) m.key_file = *f;
  if (!m.tls && (!m.ca_file.empty() || !m.cert_file.empty() || !m.key_file.empty())) {
    s.errors().add(t->source(), "mqtt: ca_file/cert_file/key_file are set but tls = false; "
                                "set tls = true or remove them");
  }
  if (m.cert_file.empty() != m.key_file.empty()) {
    s.errors().add(t->source(), "mqtt: cert_file and key_file go together; give both or neither");
  }
  assign(m.embedded_broker, s.boolean("embedded_broker"));
  s.finish();
}

void read_modbus(Section& root, Config& c, std::vector<const toml::table*>& where) {
  const toml::table* t = root.subtable("modbus");
  if (!t) return;
  Section s(root.errors(), *t, "modbus", "[modbus]");
  int index = 0;
  for (const toml::table* bt : s.tables("bus")) {
    Section b = s.element("bus", ++index, *bt);
    ModbusBusConfig bus;
    assign(bus.id, b.id("id", true, "the bus's id, named by chargers and meters"));
    auto transport = b.choice<ModbusTransport>(
        "transport", {{"tcp", ModbusTransport::tcp}, {"rtu", ModbusTransport::rtu}}, true);
    assign(bus.transport, transport);
    auto host = b.string("host", false, "a host name or address");
    auto port = b.integer("port", 1, 65535);
    auto device = b.string("device", false, "a serial device path like \"/dev/ttyS1\"");
    const toml::node* baud_node = b.take("baud");
    auto parity = b.choice<char>("parity", {{"none", 'N'}, {"even", 'E'}, {"odd", 'O'}});
    auto data_bits = b.integer("data_bits", 7, 8);
    auto stop_bits = b.integer("stop_bits", 1, 2);
    assign(bus.timeout_ms, b.integer("timeout_ms", 10, 10000));
    assign(bus.inter_request_gap_ms, b.integer("inter_request_gap_ms", 0, 1000));
    assign(bus.retries, b.integer("retries", 0, 10));
    b.finish();
    if (!transport) {
      c.modbus_buses.push_back(bus);
      where.push_back(bt);
      continue;
    }
    auto only = [&](bool present, const char* key, const char* transport_name) {
      if (present) {
        b.error(bt->get(key), key,
                std::string("applies only to transport = \"") + transport_name + "\"");
      }
    };
    if (*transport == ModbusTransport::tcp) {
      if (!host) b.missing("host", "the Modbus TCP server's address");
      assign(bus.host, host);
      if (port) bus.port = static_cast<int>(*port);
      only(device.has_value(), "device", "rtu");
      only(baud_node != nullptr, "baud", "rtu");
      only(parity.has_value(), "parity", "rtu");
      only(data_bits.has_value(), "data_bits", "rtu");
      only(stop_bits.has_value(), "stop_bits", "rtu");
    } else {
      if (!device) b.missing("device", "the serial port, e.g. \"/dev/ttyS1\"");
      assign(bus.device, device);
      only(host.has_value(), "host", "tcp");
      only(port.has_value(), "port", "tcp");
      if (baud_node) {
        static const std::vector<std::int64_t> kBauds = {1200, 2400, 4800, 9600,
                                                         19200, 38400, 57600, 115200};
        auto v = baud_node->value<std::int64_t>();
        if (!baud_node->is_integer() ||
            std::find(kBauds.begin(), kBauds.end(), *v) == kBauds.end()) {
          b.error(baud_node, "baud",
                  "expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, got " +
                      (baud_node->is_integer() ? std::to_string(*v)
                                               : std::string(node_type_name(*baud_node))));
        } else {
          bus.baud = static_cast<int>(*v);
        }
      }
      assign(bus.parity, parity);
      assign(bus.data_bits, data_bits);
      assign(bus.stop_bits, stop_bits);
    }
    c.modbus_buses.push_back(bus);
    where.push_back(bt);
  }
  s.finish();
}

// driver/profile/bus/unit_id/poll_interval_ms, shared by chargers and meters. Whether a profile
// device needs a bus depends on the profile's transport, so that is checked with the catalog.
struct DeviceLink {
  DriverKind driver = DriverKind::mqtt;
  std::string profile;
  std::string bus;
  int unit_id = 1;
  int poll_interval_ms = 1000;
};

DeviceLink read_link(Section& s) {
  DeviceLink l;
  const toml::table& t = s.table();
  assign(l.driver, s.choice("driver", kDrivers));
  auto profile = s.string("profile", false, "a device profile name like \"abb-terra-ac\"");
  auto bus = s.id("bus", false, "a [[modbus.bus]] id");
  auto unit = s.integer("unit_id", 1, 247);
  auto poll = s.integer("poll_interval_ms", 100, 60000);
  if (l.driver == DriverKind::profile) {
    if (!profile) s.missing("profile", "the device profile name, required with driver = \"profile\"");
    assign(l.profile, profile);
    assign(l.bus, bus);
    assign(l.unit_id, unit);
    assign(l.poll_interval_ms, poll);
  } else {
    for (const char* key : {"profile", "bus", "unit_id", "poll_interval_ms"}) {
      if (t.contains(key)) {
        s.error(t.get(key), key, "is used only with driver = \"profile\" (this device uses mqtt)");
      }
    }
  }
  return l;
}

void read_chargers(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("charger")) {
    Section s = root.element("charger", ++index, *t);
    ChargerConfig ch;
    ch.failsafe_current_a = c.control.failsafe_current_a;
    assign(ch.id, s.id("id", true, "the charger's id, used in topics and the UI"));
    assign(ch.name, s.string("name"));
    if (ch.name.empty()) ch.name = ch.id;
    assign(ch.kind, s.choice<ChargerKind>(
                        "kind", {{"private", ChargerKind::private_pile},
                                 {"shared", ChargerKind::shared_pile}}, true));
    assign(ch.household, s.string("household", false, "the household, e.g. \"3-2-1201\""));
    if (ch.kind == ChargerKind::private_pile && ch.household.empty() && t->contains("kind")) {
      s.missing("household", "the owner's household, required for kind = \"private\"");
    }
    assign(ch.phase, s.choice("phase", kPhases, true));
    assign(ch.node, s.id("node", false, "a capacity node id"));
    const DeviceLink link = read_link(s);
    ch.driver = link.driver;
    ch.profile = link.profile;
    ch.bus = link.bus;
    ch.unit_id = link.unit_id;
    ch.poll_interval_ms = link.poll_interval_ms;
    if (auto base = s.string("mqtt_base_topic", false, "the pile's MQTT base topic, e.g. \"openevse-1a2b\"")) {
      if (ch.driver != DriverKind::profile) {
        s.error(t->get("mqtt_base_topic"), "mqtt_base_topic",
                "is used only with driver = \"profile\" and an MQTT profile (native MQTT chargers use their id)");
      } else if (base->empty() || base->find_first_of("+#") != std::string::npos) {
        s.error(t->get("mqtt_base_topic"), "mqtt_base_topic",
                "must be a plain topic without the MQTT wildcards + and #, e.g. \"openevse-1a2b\"");
      } else {
        ch.mqtt_base_topic = *base;
      }
    }
    assign(ch.max_power_kw, s.number("max_power_kw", 1.4, 350, true, "the pile's rated power"));
    assign(ch.min_current_a, s.number("min_current_a", 1, 80));
    assign(ch.bidirectional, s.boolean("bidirectional"));
    assign(ch.failsafe_current_a, s.number("failsafe_current_a", 0, 80));
    s.finish();
    // 32 A on one phase: the most a single-phase residential connection delivers (GB/T 18487.1).
    if (ch.phase != Phase::ABC && ch.max_power_kw > kSinglePhaseMaxKw) {
      s.errors().warn(t->source(), s.path() + ": max_power_kw " + number_text(ch.max_power_kw) +
                                       " is above 7.4 kW (32 A at 230 V) for a single-phase "
                                       "pile; check phase or max_power_kw");
    }
    if (ch.failsafe_current_a > 0 && ch.failsafe_current_a < ch.min_current_a) {
      s.error(t->get("failsafe_current_a"), "failsafe_current_a",
              "failsafe current " + number_text(ch.failsafe_current_a) +
                  " A is below min_current_a " + number_text(ch.min_current_a) +
                  " A; use 0 (stop) or at least the minimum");
    }
    c.chargers.push_back(ch);
    where.push_back(t);
  }
}

void read_meters(Section& root, Config& c, std::vector<const toml::table*>& where) {
  int index = 0;
  for (const toml::table* t : root.tables("meter")) {
    Section s = root.element("meter", ++index, *t);
    MeterConfig m;
    assign(m.id, s.id("id", true, "the meter's id"));
    assign(m.name, s.string("name"));
    if (m.name.empty()) m.name = m.id;
    auto role = s.choice<MeterRole>("role",
                                    {{"transformer", MeterRole::transformer},
                                     {"feeder", MeterRole::feeder},
                                     {"household", MeterRole::household}},
                                    true);
    assign(m.role, role);
    assign(m.node, s.id("node", false, "a capacity node id"));
    assign(m.household, s.string("household"));
    if (role == MeterRole::household && m.household.empty()) {
      s.missing("household", "the household measured, required for role = \"household\"");
    }
    if (role && role != MeterRole::household && t->contains("household")) {
      s.error(t->get("household"), "household", "is used only with role = \"household\"");
    }
    const DeviceLink link = read_link(s);
    m.driver = link.driver;
    m.profile = link.profile;
    m.bus = link.bus;
    m.unit_id = link.unit_id;
    m.poll_interval_ms = link.poll_interval_ms;
    if (auto address = s.string("address", false, "the 12-digit meter address")) {
      const bool digits = address->size() == 12 &&
                          std::all_of(address->begin(), address->end(),
                                      [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!digits) {
        s.error(t->get("address"), "address",
                "expected the 12-digit DL/T 645 meter address from the nameplate, e.g. "
                "\"000012345678\", got \"" + *address + "\"");
      } else if (m.driver != DriverKind::profile) {
        s.error(t->get("address"), "address", "is used only with driver = \"profile\"");
      } else {
        m.address = *address;
      }
    }
    s.finish();
    c.meters.push_back(m);
    where.push_back(t);
  }
}

// ---- behaviour ------------------------------------------------------------------------------

void read_control(Section& root, Config& c) {
  const toml::table* t = root.subtable("control");
  if (!t) return;
  Section s(root.errors(), *t, "control", "[control]");
  auto& x = c.control;
  if (auto slot = s.integer("slot_minutes", 5, 15)) {
    if (*slot != 5 && *slot != 15) {
      s.error(t->get("slot_minutes"), "slot_minutes",
              "expected 5 or 15, got " + std::to_string(*slot));
    } else {
      x.slot_minutes = static_cast<int>(*slot);
    }
  }
  assign(x.control_period_s, s.number("control_period_s", 0.1, 60));
  assign(x.limit_validity_s, s.integer("limit_validity_s", 10, 3600));
  assign(x.failsafe_current_a, s.number("failsafe_current_a", 0, 80));
  assign(x.failsafe_timeout_s, s.integer("failsafe_timeout_s", 10, 3600));
  assign(x.safety_margin_kw, s.number("safety_margin_kw", 0, 1000));
  s.finish();
  if (x.limit_validity_s < 3 * x.control_period_s) {
    s.errors().add(t->source(), "control: limit_validity_s " + std::to_string(x.limit_validity_s) +
                                    " is shorter than 3 control periods; piles would fall back "
                                    "to failsafe between updates");
  }
}

void read_web(Section& root, Config& c) {
  const toml::table* t = root.subtable("web");
  if (!t) return;
  Section s(root.errors(), *t, "web", "[web]");
  assign(c.web.listen, s.string("listen", false, "an address like \"0.0.0.0\""));
  assign(c.web.port, s.integer("port", 1, 65535));
  if (auto d = s.string("static_dir")) c.web.static_dir = *d;
  s.finish();
}

void read_platform(Section& root, Config& c) {
  const toml::table* t = root.subtable("platform");
  if (!t) return;
  Section s(root.errors(), *t, "platform", "[platform]");
  auto& p = c.platform;
  assign(p.enabled, s.boolean("enabled"));
  assign(p.url, s.string("url"));
  assign(p.operator_id, s.string("operator_id"));
  if (auto f = s.string("secret_file")) p.secret_file = *f;
  assign(p.push_interval_s, s.integer("push_interval_s", 10, 86400));
  s.finish();
  if (!p.enabled) return;
  if (p.url.empty()) s.missing("url", "the platform's base URL, required when enabled = true");
  if (p.operator_id.empty()) s.missing("operator_id", "required when enabled = true");
  if (p.secret_file.empty()) s.missing("secret_file", "required when enabled = true");
  if (!p.url.empty() && p.url.rfind("https://", 0) != 0) {
    if (p.url.rfind("http://", 0) == 0) {
      s.errors().warn(t->get("url")->source(),
                      "platform.url uses plain http; the platform's data travels unencrypted");
    } else {
      s.error(t->get("url"), "url", "expected an https:// URL, got \"" + p.url + "\"");
    }
  }
}

void read_store(Section& root, Config& c) {
  const toml::table* t = root.subtable("store");
  if (!t) return;
  Section s(root.errors(), *t, "store", "[store]");
  if (auto p = s.string("path", false, "a file path")) c.store.path = *p;
  assign(c.store.raw_retention_days, s.integer("raw_retention_days", 1, 3650));
  assign(c.store.aggregate_retention_days, s.integer("aggregate_retention_days", 1, 36500));
  s.finish();
  if (c.store.aggregate_retention_days < c.store.raw_retention_days) {
    s.errors().add(t->source(), "store: aggregate_retention_days must be at least "
                                "raw_retention_days");
  }
}

void read_sessions(Section& root, Config& c) {
  const toml::table* t = root.subtable("sessions");
  if (!t) return;
  Section s(root.errors(), *t, "sessions", "[sessions]");
  auto& x = c.sessions;
  if (auto d = s.string("default_departure", false, "a local time \"HH:MM\"")) {
    const auto minute = parse_clock(*d);
    if (!minute || *minute == 1440) {
      s.error(t->get("default_departure"), "default_departure",
              "expected a local time \"HH:MM\" from \"00:00\" to \"23:59\", got \"" + *d + "\"");
    } else {
      x.default_departure_text = *d;
      x.default_departure_minute = *minute;
    }
  }
  assign(x.default_energy_kwh, s.number("default_energy_kwh", 0.1, 150));
  assign(x.learning_days, s.integer("learning_days", 1, 3650));
  assign(x.learning_min_sessions, s.integer("learning_min_sessions", 1, 1000));
  assign(x.learning_max_spread_minutes, s.integer("learning_max_spread_minutes", 0, 1440));
  assign(x.discharge_price_yuan_per_kwh, s.number("discharge_price_yuan_per_kwh", 0, 100));
  s.finish();
}

void read_log(Section& root, Config& c) {
  const toml::table* t = root.subtable("log");
  if (!t) return;
  Section s(root.errors(), *t, "log", "[log]");
  assign(c.log.level, s.choice<LogLevel>("level", {{"trace", LogLevel::trace},
                                                   {"debug", LogLevel::debug},
                                                   {"info", LogLevel::info},
                                                   {"warn", LogLevel::warn},
                                                   {"error", LogLevel::error}}));
  assign(c.log.sink, s.choice<LogSink>(
                         "sink", {{"stdout", LogSink::stdout_sink}, {"journald", LogSink::journald}}));
  s.finish();
}

// ---- cross references -----------------------------------------------------------------------

// Where a key's value is (or its table's header when the key is absent).
toml::source_region at_key(const toml::table* t, std::string_view key) {
  if (const toml::node* n = t->get(key)) return n->source();
  return t->source();
}

void check_references(Errors& errors, Config& c,
                      const std::vector<const toml::table*>& node_where,
                      const std::vector<const toml::table*>& bus_where,
                      const std::vector<const toml::table*>& charger_where,
                      const std::vector<const toml::table*>& meter_where) {
  const std::string& root_id = c.site.transformer.id;
  std::set<std::string> node_ids{root_id};
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    auto& n = c.capacity[i];
    if (n.id.empty()) continue;
    if (!node_ids.insert(n.id).second) {
      errors.add(at_key(node_where[i], "id"), "capacity[" + std::to_string(i + 1) + "].id: duplicate id '" +
                                    n.id + "'; capacity node and transformer ids must be unique");
    }
  }
  for (std::size_t i = 0; i < c.capacity.size(); ++i) {
    auto& n = c.capacity[i];
    if (n.parent.empty()) n.parent = root_id;
    if (!node_ids.count(n.parent)) {
      errors.add(at_key(node_where[i], "parent"), "capacity[" + std::to_string(i + 1) + "].parent: unknown node '" +
                                    n.parent + "'; expected the transformer ('" + root_id +
                                    "') or a [[capacity]] id");
    }
  }
  // Order parents before children, and find cycles.
  {
    std::vector<CapacityNodeConfig> ordered;
    std::set<std::string> placed{root_id};
    std::vector<bool> done(c.capacity.size(), false);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i = 0; i < c.capacity.size(); ++i) {
        if (done[i] || !placed.count(c.capacity[i].parent)) continue;
        done[i] = true;
        progress = true;
        placed.insert(c.capacity[i].id);
        ordered.push_back(c.capacity[i]);
      }
    }
    for (std::size_t i = 0; i < c.capacity.size(); ++i) {
      if (!done[i] && node_ids.count(c.capacity[i].parent) && !c.capacity[i].id.empty()) {
        errors.add(at_key(node_where[i], "parent"), "capacity[" + std::to_string(i + 1) +
                                      "].parent: the capacity tree has a cycle through '" +
                                      c.capacity[i].id + "'");
      }
    }
    if (ordered.size() == c.capacity.size()) c.capacity = std::move(ordered);
  }
  std::set<std::string> bus_ids;
  for (std::size_t i = 0; i < c.modbus_buses.size(); ++i) {
    const auto& b = c.modbus_buses[i];
    if (!b.id.empty() && !bus_ids.insert(b.id).second) {
      errors.add(at_key(bus_where[i], "id"), "modbus.bus[" + std::to_string(i + 1) + "].id: duplicate id '" +
                                   b.id + "'");
    }
  }
  auto expected_list = [](const std::set<std::string>& ids) {
    std::vector<std::string> v(ids.begin(), ids.end());
    return v.empty() ? std::string("(none defined)") : join(v, ", ");
  };
  std::set<std::string> device_ids;
  auto check_device = [&](const std::string& what, std::size_t i, const std::string& id,
                          std::string& node, DriverKind driver, const std::string& bus,
                          const toml::table* where) {
    const std::string path = what + "[" + std::to_string(i + 1) + "]";
    if (!id.empty() && !device_ids.insert(id).second) {
      errors.add(at_key(where, "id"), path + ".id: duplicate id '" + id +
                            "'; charger and meter ids must be unique");
    }
    if (node.empty()) node = root_id;
    if (!node_ids.count(node)) {
      errors.add(at_key(where, "node"), path + ".node: unknown capacity node '" + node + "'; expected one of: " +
                            expected_list(node_ids));
    }
    if (driver == DriverKind::profile && !bus.empty() && !bus_ids.count(bus)) {
      errors.add(at_key(where, "bus"), path + ".bus: unknown bus '" + bus +
                            "'; expected a [[modbus.bus]] id: " + expected_list(bus_ids));
    }
  };
  for (std::size_t i = 0; i < c.chargers.size(); ++i) {
    auto& ch = c.chargers[i];
    check_device("charger", i, ch.id, ch.node, ch.driver, ch.bus, charger_where[i]);
  }
  int transformer_meters = 0;
  for (std::size_t i = 0; i < c.meters.size(); ++i) {
    auto& m = c.meters[i];
    check_device("meter", i, m.id, m.node, m.driver, m.bus, meter_where[i]);
    if (m.role == MeterRole::transformer) {
      ++transformer_meters;
      if (m.node != root_id) {
        errors.add(at_key(meter_where[i], "node"), "meter[" + std::to_string(i + 1) +
                                       "].node: a meter with role = \"transformer\" measures '" +
                                       root_id + "', not '" + m.node + "'");
      }
    }
  }
  if (transformer_meters == 0) {
    errors.warn({}, "no [[meter]] with role = \"transformer\": the limiter cannot see the "
                    "base load and will assume the worst");
  }
  if (transformer_meters > 1) {
    errors.add({}, "more than one [[meter]] with role = \"transformer\"; keep one");
  }
}

// Profile devices against the shipped profiles: exists, right kind, and what the transport needs.
void check_profiles(Errors& errors, const Config& c, const drivers::ProfileCatalog& catalog,
                    const std::vector<const toml::table*>& charger_where,
                    const std::vector<const toml::table*>& meter_where) {
  auto check = [&](const std::string& path, drivers::DeviceKind kind, const std::string& profile,
                   const std::string& bus, const std::string* address, const toml::table* t) {
    const char* kind_name = kind == drivers::DeviceKind::charger ? "charger" : "meter";
    const drivers::DeviceProfile* p = catalog.find(profile);
    if (!p) {
      std::vector<std::string> ids;
      for (const auto& [id, known] : catalog.all()) {
        if (known.kind == kind) ids.push_back(id);
      }
      errors.add(at_key(t, "profile"), path + ".profile: unknown profile '" + profile +
                                           "'; expected one of the " + kind_name +
                                           " profiles: " + join(ids, ", "));
      return;
    }
    if (p->kind != kind) {
      errors.add(at_key(t, "profile"),
                 path + ".profile: '" + profile + "' is a " +
                     (p->kind == drivers::DeviceKind::charger ? "charger" : "meter") +
                     " profile; a [[" + kind_name + "]] needs a " + kind_name + " profile");
      return;
    }
    const bool needs_bus = p->transport != drivers::Transport::mqtt;
    if (needs_bus && bus.empty()) {
      errors.add(t->source(), path + ": missing required key 'bus' (profile '" + profile +
                                  "' speaks " + drivers::to_string(p->transport) +
                                  "; name the [[modbus.bus]] it is wired to)");
    }
    if (!needs_bus && !bus.empty()) {
      errors.add(at_key(t, "bus"), path + ".bus: profile '" + profile +
                                       "' speaks MQTT through the broker; remove bus");
    }
    if (address && p->transport == drivers::Transport::dlt645 && address->empty()) {
      errors.add(t->source(), path + ": missing required key 'address' (the 12-digit DL/T 645 "
                                     "meter address from the nameplate)");
    }
    if (address && p->transport != drivers::Transport::dlt645 && !address->empty()) {
      errors.add(at_key(t, "address"),
                 path + ".address: is used only with DL/T 645 profiles; '" + profile +
                     "' speaks " + drivers::to_string(p->transport));
    }
  };
  for (std::size_t i = 0; i < c.chargers.size(); ++i) {
    const auto& ch = c.chargers[i];
    if (ch.driver != DriverKind::profile || ch.profile.empty()) continue;
    check("charger[" + std::to_string(i + 1) + "]", drivers::DeviceKind::charger, ch.profile,
          ch.bus, nullptr, charger_where[i]);
    const drivers::DeviceProfile* p = catalog.find(ch.profile);
    if (p && !ch.mqtt_base_topic.empty() && p->transport != drivers::Transport::mqtt) {
      errors.add(at_key(charger_where[i], "mqtt_base_topic"),
                 "charger[" + std::to_string(i + 1) + "].mqtt_base_topic: profile '" + ch.profile + "' speaks " +
                     drivers::to_string(p->transport) + ", not MQTT; remove mqtt_base_topic");
    }
  }
  for (std::size_t i = 0; i < c.meters.size(); ++i) {
    const auto& m = c.meters[i];
    if (m.driver != DriverKind::profile || m.profile.empty()) continue;
    check("meter[" + std::to_string(i + 1) + "]", drivers::DeviceKind::meter, m.profile, m.bus,
          &m.address, meter_where[i]);
  }
}

Config parse_table(const toml::table& doc, const std::string& source_name,
                   const drivers::ProfileCatalog* profiles) {
  Config c;
  c.source_name = source_name;
  Errors errors(source_name);
  Section root(errors, doc, "", "the top level");
  std::vector<const toml::table*> node_where, bus_where, charger_where, meter_where;
  read_site(root, c);
  read_capacity(root, c, node_where);
  read_tariff(root, c);
  read_mqtt(root, c);
  read_modbus(root, c, bus_where);
  read_control(root, c);  // before chargers: it supplies their failsafe default
  read_chargers(root, c, charger_where);
  read_meters(root, c, meter_where);
  read_web(root, c);
  read_platform(root, c);
  read_store(root, c);
  read_sessions(root, c);
  read_log(root, c);
  root.finish();
  check_references(errors, c, node_where, bus_where, charger_where, meter_where);
  if (profiles) check_profiles(errors, c, *profiles, charger_where, meter_where);
  if (!errors.empty()) throw ConfigError(errors.errors());
  c.warnings = std::move(errors.warnings());
  return c;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(join(errors, "\n")), errors_(std::move(errors)) {}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::A: return "A";
    case Phase::B: return "B";
    case Phase::C: return "C";
    case Phase::ABC: return "ABC";
  }
  return "ABC";
}
const char* to_string(ModbusTransport t) { return t == ModbusTransport::tcp ? "tcp" : "rtu"; }
const char* to_string(DriverKind d) { return d == DriverKind::mqtt ? "mqtt" : "profile"; }
const char* to_string(ChargerKind k) {
  return k == ChargerKind::private_pile ? "private" : "shared";
}
const char* to_string(MeterRole r) {
  switch (r) {
    case MeterRole::transformer: return "transformer";
    case MeterRole::feeder: return "feeder";
    case MeterRole::household: return "household";
  }
  return "feeder";
}

bool TimeOfDayRange::contains(int minute_of_day) const {
  if (start_minute < end_minute) return minute_of_day >= start_minute && minute_of_day < end_minute;
  return minute_of_day >= start_minute || minute_of_day < end_minute;
}

TariffPoint tariff_at(const TariffConfig& tariff, TimePoint t, std::chrono::minutes utc_offset) {
  using namespace std::chrono;
  if (tariff.schedules.empty()) return {};
  const auto local = floor<minutes>(t) + utc_offset;
  const auto day = floor<days>(local);
  const year_month_day date{sys_days(day)};
  const int minute = static_cast<int>((local - day).count());
  const TariffSchedule* schedule = &tariff.schedules.front();
  for (const auto& s : tariff.schedules) {
    if (s.effective_from <= date) schedule = &s;
  }
  const int month = static_cast<int>(static_cast<unsigned>(date.month()));
  for (const auto& season : schedule->seasons) {
    if (std::find(season.months.begin(), season.months.end(), month) == season.months.end()) {
      continue;
    }
    const bool sharp_month = std::find(season.sharp_months.begin(), season.sharp_months.end(),
                                       month) != season.sharp_months.end();
    const Period p = sharp_month ? season.period_by_minute_sharp[minute]
                                 : season.period_by_minute[minute];
    return {season.price_yuan_per_kwh[period_index(p)], p};
  }
  return {};
}

std::vector<TariffPoint> tariff_series(const TariffConfig& tariff, TimePoint start,
                                       std::chrono::minutes slot, int slots,
                                       std::chrono::minutes utc_offset) {
  std::vector<TariffPoint> out;
  out.reserve(static_cast<std::size_t>(std::max(slots, 0)));
  for (int i = 0; i < slots; ++i) out.push_back(tariff_at(tariff, start + i * slot, utc_offset));
  return out;
}

std::string MqttConfig::resolved_password() const {
  if (password_file.empty()) return password;
  std::ifstream in(password_file);
  if (!in) {
    throw ConfigError({"mqtt.password_file: cannot read '" + password_file.string() +
                       "'; check that it exists and is readable by the orderly user"});
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

namespace {
template <typename T>
const T* find_by_id(const std::vector<T>& items, std::string_view id) {
  const auto it = std::find_if(items.begin(), items.end(), [&](const T& x) { return x.id == id; });
  return it == items.end() ? nullptr : &*it;
}
}  // namespace

const ChargerConfig* Config::find_charger(std::string_view id) const {
  return find_by_id(chargers, id);
}
const MeterConfig* Config::find_meter(std::string_view id) const { return find_by_id(meters, id); }
const ModbusBusConfig* Config::find_bus(std::string_view id) const {
  return find_by_id(modbus_buses, id);
}
const CapacityNodeConfig* Config::find_node(std::string_view id) const {
  return find_by_id(capacity, id);
}

Config parse_config(std::string_view text, const std::string& source_name,
                    const drivers::ProfileCatalog* profiles) {
  toml::table doc;
  try {
    doc = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError({source_name + ":" + std::to_string(at.line) + ":" +
                       std::to_string(at.column) + ": TOML syntax error: " +
                       std::string(e.description())});
  }
  return parse_table(doc, source_name, profiles);
}

Config load_config(const std::filesystem::path& path, const drivers::ProfileCatalog* profiles) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    throw ConfigError({path.string() + ": " +
                       (exists ? "cannot read the file; check its permissions"
                               : "no such file; give the path of orderly.toml (the package "
                                 "installs /etc/orderly/orderly.toml)")});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string(), profiles);
}

std::filesystem::path default_profile_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (const char* env = std::getenv("ORDERLY_PROFILE_DIR"); env && *env) return env;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "orderly" / "profiles";
    if (fs::is_directory(installed, ec)) return installed;
  }
  const fs::path source = fs::path(ORDERLY_SOURCE_DIR) / "drivers" / "profiles";
  if (fs::is_directory(source, ec)) return source;
  return {};
}

}  // namespace orderly::gateway

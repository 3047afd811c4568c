#pragma once
// A small checker of the Prometheus text exposition format (version 0.0.4), strict where a
// scraper is: every line parsed, every family declared once by HELP and TYPE before its
// samples and never split, counters ending in _total, histograms with ascending le buckets
// ending at +Inf whose last bucket equals _count, no series twice. Written from the format's
// description (https://prometheus.io/docs/instrumenting/exposition_formats/), for the tests.
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace orderly::test {

struct Exposition {
  std::vector<std::string> errors;           // "line 12: ...": empty when the text is valid
  std::map<std::string, std::string> types;  // family -> counter / gauge / histogram
  std::map<std::string, double> series;      // 'name{a="x",b="y"}' as written -> value
};

namespace exposition_detail {

inline bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
inline bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

inline bool valid_name(std::string_view n, bool label) {
  if (n.empty() || !name_start(n[0]) || (label && n[0] == ':')) return false;
  for (char c : n)
    if (!name_char(c) || (label && c == ':')) return false;
  return true;
}

inline bool parse_value(std::string_view text, double& out) {
  if (text == "+Inf" || text == "Inf") return out = HUGE_VAL, true;
  if (text == "-Inf") return out = -HUGE_VAL, true;
  if (text == "NaN") return out = NAN, true;
  if (text.empty()) return false;
  const std::string copy(text);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

// The family a sample belongs to: histograms' _bucket, _sum and _count samples fold into it.
inline std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      const std::string base = name.substr(0, name.size() - suffix.size());
      const auto t = types.find(base);
      if (t != types.end() && t->second == "histogram") return base;
    }
  }
  return name;
}

}  // namespace exposition_detail

inline Exposition check_exposition(std::string_view text) {
  using namespace exposition_detail;
  Exposition out;
  std::set<std::string> helped, closed;
  std::string current;  // the family whose samples may follow
  // Per histogram series (labels without le): the last le, its cumulative count, and _count.
  struct Buckets { double last_le = -HUGE_VAL; double last_count = -1; bool inf = false; };
  std::map<std::string, Buckets> buckets;
  std::map<std::string, double> counts;
  int line_no = 0;
  if (!text.empty() && !text.ends_with('\n')) out.errors.push_back("the text does not end with a newline");
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.empty()) continue;
    if (line[0] == '#') {
      const bool help = line.starts_with("# HELP ");
      const bool type = line.starts_with("# TYPE ");
      if (!help && !type) continue;  // a plain comment
      std::string_view rest = line.substr(7);
      const auto space = rest.find(' ');
      const std::string name(rest.substr(0, space));
      const std::string_view arg = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
      if (!valid_name(name, false)) out.errors.push_back(where + "bad metric name '" + name + "'");
      if (closed.count(name)) out.errors.push_back(where + "family " + name + " declared again after its samples");
      if (name != current && !current.empty()) closed.insert(current);
      current = name;
      if (help) {
        if (!helped.insert(name).second) out.errors.push_back(where + "second HELP for " + name);
        if (arg.empty()) out.errors.push_back(where + "HELP without text for " + name);
      } else {
        if (out.types.count(name)) out.errors.push_back(where + "second TYPE for " + name);
        if (arg != "counter" && arg != "gauge" && arg != "histogram" && arg != "summary" && arg != "untyped")
          out.errors.push_back(where + "unknown type '" + std::string(arg) + "'");
        if (arg == "counter" && !name.ends_with("_total"))
          out.errors.push_back(where + "counter " + name + " does not end in _total");
        out.types[name] = std::string(arg);
      }
      continue;
    }
    // name{label="value",...} value [timestamp]
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i])) ++i;
    const std::string name(line.substr(0, i));
    if (!valid_name(name, false)) {
      out.errors.push_back(where + "bad sample '" + std::string(line) + "'");
      continue;
    }
    std::string labels_without_le;
    std::string le;
    bool labels_ok = true;
    if (i < line.size() && line[i] == '{') {
      ++i;
      std::set<std::string> seen;
      while (i < line.size() && line[i] != '}') {
        std::size_t start = i;
        while (i < line.size() && name_char(line[i])) ++i;
        const std::string label(line.substr(start, i - start));
        if (!valid_name(label, true) || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
          labels_ok = false;
          break;
        }
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '"' && line[i + 1] != 'n')) {
              labels_ok = false;
              break;
            }
            ++i;
          }
          value += line[i++];
        }
        if (!labels_ok || i >= line.size()) {
          labels_ok = false;
          break;
        }
        ++i;  // closing quote
        if (!seen.insert(label).second) out.errors.push_back(where + "label " + label + " twice");
        if (label == "le") le = value;
        else labels_without_le += label + "=" + value + ",";
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (!labels_ok || i >= line.size()) {
        out.errors.push_back(where + "malformed labels in '" + std::string(line) + "'");
        continue;
      }
      ++i;  // '}'
    }
    const std::string series(line.substr(0, i));
    if (i >= line.size() || line[i] != ' ') {
      out.errors.push_back(where + "no value in '" + std::string(line) + "'");
      continue;
    }
    std::string_view values = line.substr(i + 1);
    const auto space = values.find(' ');
    double value = 0;
    if (!parse_value(values.substr(0, space), value)) {
      out.errors.push_back(where + "bad value in '" + std::string(line) + "'");
      continue;
    }
    if (space != std::string_view::npos) {
      double timestamp = 0;
      if (!parse_value(values.substr(space + 1), timestamp)) out.errors.push_back(where + "bad timestamp");
    }
    const std::string family = family_of(name, out.types);
    if (family != current) {
      out.errors.push_back(where + "sample of " + family + " outside its family's block (or before its TYPE)");
    }
    if (!out.types.count(family)) out.errors.push_back(where + "sample of " + family + " without TYPE");
    if (!out.series.emplace(series, value).second) out.errors.push_back(where + "series " + series + " twice");
    const auto type = out.types.find(family);
    if (type != out.types.end() && (type->second == "counter" || name.ends_with("_count")) && !(value >= 0))
      out.errors.push_back(where + "counter " + series + " negative or NaN");
    if (type != out.types.end() && type->second == "histogram") {
      const std::string key = family + "{" + labels_without_le + "}";
      if (name == family + "_bucket") {
        double bound = 0;
        if (!parse_value(le, bound)) {
          out.errors.push_back(where + "bucket without a numeric le: " + series);
          continue;
        }
        Buckets& b = buckets[key];
        if (b.inf || bound <= b.last_le) out.errors.push_back(where + "le not ascending: " + series);
        if (value < b.last_count) out.errors.push_back(where + "bucket counts not cumulative: " + series);
        b.last_le = bound;
        b.last_count = value;
        b.inf = std::isinf(bound);
      } else if (name == family + "_count") {
        counts[key] = value;
      } else if (name != family + "_sum") {
        out.errors.push_back(where + "histogram sample " + name + " is not _bucket, _sum or _count");
      }
    }
  }
  for (const auto& [key, b] : buckets) {
    if (!b.inf) out.errors.push_back(key + ": no +Inf bucket");
    const auto c = counts.find(key);
    if (c == counts.end()) out.errors.push_back(key + ": no _count");
    else if (c->second != b.last_count) out.errors.push_back(key + ": +Inf bucket differs from _count");
  }
  for (const auto& [name, type] : out.types)
    if (!helped.count(name)) out.errors.push_back(name + ": TYPE without HELP");
  return out;
}

}  // namespace orderly::test

#include "orderly/base/prometheus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace orderly::prometheus {
namespace {

// Help text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

// Go's ParseFloat spellings, which Prometheus reads: +Inf, -Inf, NaN; integers without a
// fraction so counters read as counts.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.9g", v);
  }
  return buffer;
}

}  // namespace

void Text::family(std::string_view name, std::string_view type, std::string_view help) {
  family_ = std::string(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Text::sample(double value, const Labels& labels, std::string_view suffix) {
  out_ += family_;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      append_escaped(out_, labels[i].second, true);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += number(value);
  out_ += '\n';
}

void Text::counter(std::string_view name, std::string_view help, double value, const Labels& labels) {
  family(name, "counter", help);
  sample(value, labels);
}

void Text::gauge(std::string_view name, std::string_view help, double value, const Labels& labels) {
  family(name, "gauge", help);
  sample(value, labels);
}

Histogram::Histogram(std::vector<double> upper_bounds_s) : bounds_s_(std::move(upper_bounds_s)) {
  std::sort(bounds_s_.begin(), bounds_s_.end());
  counts_.assign(bounds_s_.size() + 1, 0);
}

void Histogram::observe(double seconds) {
  const auto bucket = std::lower_bound(bounds_s_.begin(), bounds_s_.end(), seconds) - bounds_s_.begin();
  ++counts_[static_cast<std::size_t>(bucket)];
  sum_s_ += seconds;
  ++count_;
}

void Histogram::write(Text& text, std::string_view name, std::string_view help) const {
  text.family(name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_s_.size(); ++i) {
    cumulative += counts_[i];
    text.sample(static_cast<double>(cumulative), {{"le", number(bounds_s_[i])}}, "_bucket");
  }
  text.sample(static_cast<double>(count_), {{"le", "+Inf"}}, "_bucket");
  text.sample(sum_s_, {}, "_sum");
  text.sample(static_cast<double>(count_), {}, "_count");
}

}  // namespace orderly::prometheus

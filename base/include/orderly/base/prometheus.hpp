#pragma once
// The Prometheus text exposition format (version 0.0.4), as GET /metrics answers it: one
// writer shared by the gateway (control loop, devices, store, platform) and the web server
// (HTTP requests, WebSocket clients), so both halves of one scrape follow the same rules.
// https://prometheus.io/docs/instrumenting/exposition_formats/
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderly::prometheus {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds one exposition. Every family is declared once (HELP and TYPE lines) and its samples
// follow it directly: the format allows no family to be split or declared twice, so callers
// write a family's samples together.
class Text {
 public:
  // `type` is "counter", "gauge" or "histogram". Counter names end in _total (the caller's job;
  // the tests check every scrape).
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the family declared last; `suffix` is "" or "_bucket", "_sum", "_count".
  void sample(double value, const Labels& labels = {}, std::string_view suffix = {});
  // family() and one sample, for the common single-series case.
  void counter(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});

  const std::string& str() const { return out_; }

 private:
  std::string out_;
  std::string family_;
};

// A histogram of durations in seconds with fixed upper bounds, cumulative as the format wants.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds_s);
  void observe(double seconds);
  // The family with its _bucket (le labels, +Inf last), _sum and _count samples.
  void write(Text& text, std::string_view name, std::string_view help) const;
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_s_;
  std::vector<std::uint64_t> counts_;  // per bound, not cumulative; one more for +Inf
  double sum_s_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace orderly::prometheus

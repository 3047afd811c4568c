// The Prometheus text writer (base/prometheus.hpp) and the checker the /metrics tests read
// every scrape with: the checker must refuse what a scraper refuses, or its passes mean nothing.
#include <gtest/gtest.h>

#include "exposition_check.hpp"
#include "orderly/base/prometheus.hpp"

namespace orderly {
namespace {

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(PrometheusText, WritesFamiliesWithEscapedHelpAndLabels) {
  prometheus::Text t;
  t.counter("orderly_things_total", "things\nwith a \\ in the help", 3, {{"who", "a \"b\"\nc\\"}});
  t.gauge("orderly_level_ratio", "a gauge", 0.25);
  EXPECT_EQ(t.str(),
            "# HELP orderly_things_total things\\nwith a \\\\ in the help\n"
            "# TYPE orderly_things_total counter\n"
            "orderly_things_total{who=\"a \\\"b\\\"\\nc\\\\\"} 3\n"
            "# HELP orderly_level_ratio a gauge\n"
            "# TYPE orderly_level_ratio gauge\n"
            "orderly_level_ratio 0.25\n");
  const auto parsed = test::check_exposition(t.str());
  EXPECT_TRUE(parsed.errors.empty()) << joined(parsed.errors);
  EXPECT_EQ(parsed.series.at("orderly_level_ratio"), 0.25);
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndEndAtInf) {
  prometheus::Histogram h({0.1, 0.01, 1});  // unsorted on purpose
  for (double v : {0.005, 0.01, 0.05, 0.5, 7.0}) h.observe(v);
  prometheus::Text t;
  h.write(t, "orderly_wait_seconds", "waits");
  const auto parsed = test::check_exposition(t.str());
  ASSERT_TRUE(parsed.errors.empty()) << joined(parsed.errors) << t.str();
  EXPECT_EQ(parsed.series.at("orderly_wait_seconds_bucket{le=\"0.01\"}"), 2);  // le is inclusive
  EXPECT_EQ(parsed.series.at("orderly_wait_seconds_bucket{le=\"0.1\"}"), 3);
  EXPECT_EQ(parsed.series.at("orderly_wait_seconds_bucket{le=\"1\"}"), 4);
  EXPECT_EQ(parsed.series.at("orderly_wait_seconds_bucket{le=\"+Inf\"}"), 5);
  EXPECT_EQ(parsed.series.at("orderly_wait_seconds_count"), 5);
  EXPECT_NEAR(parsed.series.at("orderly_wait_seconds_sum"), 7.565, 1e-9);
}

TEST(ExpositionCheck, RefusesWhatAScraperRefuses) {
  const std::pair<const char*, const char*> broken[] = {
      {"# HELP a_total x\n# TYPE a_total counter\na_total 1", "newline"},
      {"# HELP a x\n# TYPE a counter\na 1\n", "does not end in _total"},
      {"a_total 1\n", "without TYPE"},
      {"# HELP a x\n# TYPE a gauge\na{b=\"1\" 2\n", "malformed labels"},
      {"# HELP a x\n# TYPE a gauge\na{b=\"\\x\"} 2\n", "malformed labels"},
      {"# HELP a x\n# TYPE a gauge\na one\n", "bad value"},
      {"# HELP a x\n# TYPE a gauge\na 1\na 2\n", "twice"},
      {"# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\nb 1\na 1\n", "outside its family"},
      {"# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n# TYPE a gauge\n", "declared again"},
      {"# TYPE a gauge\na 1\n", "TYPE without HELP"},
      {"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"0.5\"} 3\nh_bucket{le=\"+Inf\"} 3\n"
       "h_sum 1\nh_count 3\n", "le not ascending"},
      {"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n", "no +Inf"},
      {"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "differs from _count"},
      {"# HELP a x\n# TYPE a gauge\n1a 1\n", "bad sample"},
  };
  for (const auto& [text, expected] : broken) {
    const auto parsed = test::check_exposition(text);
    EXPECT_NE(joined(parsed.errors).find(expected), std::string::npos)
        << "text:\n" << text << "\nerrors:\n" << joined(parsed.errors);
  }
}

}  // namespace
}  // namespace orderly
